"""Sandbox figures: warm round trip, cold start, concurrent sessions; plus an anchor.

The anchor is the common design of peer sandboxes: an HTTP server (Flask in most; the
standard library's http.server here, same shape) that runs every request in a fresh
``python -c`` subprocess, so it keeps no state between calls.

    python bench/bench_sandbox.py [--calls 2000] [--max-sessions 256] [--budget-s 120]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from nmframe.sandbox import Sandbox


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def ms(x: float) -> str:
    return f"{x * 1000:.2f} ms"


def mem_available_mb() -> float:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def session_rss_mb(sb: Sandbox) -> float:
    """Resident memory of every process of every live session (launcher, init, worker)."""
    roots = {s.proc.pid for s in sb._sessions.values() if s.proc is not None}
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(name))
            rss[int(name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, list(roots)
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / 2**20


# ------------------------------------------------------------------------------ anchor
class _AnchorHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        try:
            p = subprocess.run([sys.executable, "-c", body["code"]], capture_output=True, text=True,
                               timeout=body.get("timeout", 10))
            out = {"status": "ok" if p.returncode == 0 else "error", "stdout": p.stdout[:1000], "stderr": p.stderr[-1000:]}
        except subprocess.TimeoutExpired:
            out = {"status": "timeout", "stdout": "", "stderr": ""}
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # quiet
        pass


def bench_anchor(calls: int, concurrency: int) -> dict:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AnchorHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/execute"

    def call(code: str) -> dict:
        req = urllib.request.Request(url, data=json.dumps({"code": code}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as resp:
            return json.loads(resp.read())

    assert call("print(1 + 1)")["stdout"] == "2\n"
    lat = []
    for _ in range(calls):
        t0 = time.perf_counter()
        call("print(1)")
        lat.append(time.perf_counter() - t0)
    state = call("x = 1")["status"], call("print(x)")["status"]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda i: call(f"print({i})"), range(concurrency * 4)))
    conc_s = time.perf_counter() - t0
    server.shutdown()
    return {"median": statistics.median(lat), "p99": pct(lat, 0.99), "state": state,
            "conc_throughput": concurrency * 4 / conc_s}


# ------------------------------------------------------------------------------ sandbox
def bench_warm(calls: int) -> dict:
    with Sandbox() as sb:
        sb.execute("x = 0")
        for _ in range(50):
            sb.execute("x += 1")
        lat = []
        for _ in range(calls):
            t0 = time.perf_counter()
            r = sb.execute("x += 1")
            lat.append(time.perf_counter() - t0)
        assert r.status == "ok"
        assert sb.execute("x").stdout == f"{calls + 50}\n"
        info = sb.isolation
    return {"median": statistics.median(lat), "p99": pct(lat, 0.99), "mean": statistics.fmean(lat),
            "mode": info["mode"]}


def bench_cold(n: int) -> dict:
    with Sandbox(max_sessions=n + 1) as sb:
        first, start = [], []
        for i in range(n):
            t0 = time.perf_counter()
            r = sb.execute("1", session_id=f"cold{i}")
            first.append(time.perf_counter() - t0)
            start.append(sb._sessions[f"cold{i}"].cold_start_s)
            assert r.stdout == "1\n"
            sb.close_session(f"cold{i}")
    return {"first_call_median": statistics.median(first), "first_call_p90": pct(first, 0.9),
            "start_median": statistics.median(start)}


def bench_concurrency(max_sessions: int, budget_s: float, latency_limit_s: float) -> list[dict]:
    rows = []
    levels = [n for n in (8, 16, 32, 64, 128, 256, 512, 1024) if n <= max_sessions]
    t_begin = time.monotonic()
    mem0 = mem_available_mb()
    with Sandbox(max_sessions=max(levels)) as sb:
        alive = 0
        for level in levels:
            if time.monotonic() - t_begin > budget_s:
                rows.append({"sessions": level, "stopped": "time budget"})
                break
            t0 = time.perf_counter()
            with ThreadPoolExecutor(min(32, level)) as pool:
                starts = list(pool.map(lambda i: sb.execute(f"v = {i}", session_id=f"c{i}"), range(alive, level)))
            assert all(r.status == "ok" for r in starts)
            ramp_s = time.perf_counter() - t0
            alive = level
            lat: list[float] = []

            def job(i: int) -> None:
                t = time.perf_counter()
                r = sb.execute("v = v + 1\nsum(k * k for k in range(1000))", session_id=f"c{i}")
                lat.append(time.perf_counter() - t)
                assert r.status == "ok" and r.stdout == "332833500\n", r

            t0 = time.perf_counter()
            with ThreadPoolExecutor(min(64, level)) as pool:
                list(pool.map(job, [i % level for i in range(level * 4)]))
            wall = time.perf_counter() - t0
            row = {"sessions": level, "ramp_s": ramp_s, "median": statistics.median(lat), "p99": pct(lat, 0.99),
                   "cells_per_s": len(lat) / wall, "rss_mb": session_rss_mb(sb),
                   "host_mem_used_mb": mem0 - mem_available_mb()}
            rows.append(row)
            if row["median"] > latency_limit_s:
                row["stopped"] = f"median latency > {latency_limit_s * 1000:.0f} ms"
                break
            if mem_available_mb() < 0.25 * mem0:
                row["stopped"] = "host memory below 25% of start"
                break
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--anchor-calls", type=int, default=200)
    ap.add_argument("--cold", type=int, default=20)
    ap.add_argument("--max-sessions", type=int, default=256)
    ap.add_argument("--budget-s", type=float, default=120.0)
    ap.add_argument("--latency-limit-ms", type=float, default=100.0)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cpus, {mem_available_mb():.0f} MB available, python {sys.version.split()[0]}")

    warm = bench_warm(args.calls)
    print(f"\n[sandbox] warm round trip, trivial cell, {args.calls} calls ({warm['mode']} isolation): "
          f"median {ms(warm['median'])}, p99 {ms(warm['p99'])}, mean {ms(warm['mean'])}")
    cold = bench_cold(args.cold)
    print(f"[sandbox] cold start of a session ({args.cold} sessions): process tree up {ms(cold['start_median'])} "
          f"(median); first cell answered {ms(cold['first_call_median'])} median, {ms(cold['first_call_p90'])} p90")

    print(f"\n[sandbox] concurrent sessions (each round: every session runs a small cell 4 times, "
          f"<= 64 threads; stop at median > {args.latency_limit_ms:.0f} ms, budget {args.budget_s:.0f} s)")
    print(f"{'sessions':>8} {'ramp':>8} {'median':>10} {'p99':>10} {'cells/s':>8} {'RSS sum':>9} {'host used':>10}")
    print("(RSS sum counts shared interpreter pages once per process; host used = drop in MemAvailable)")
    for row in bench_concurrency(args.max_sessions, args.budget_s, args.latency_limit_ms / 1000):
        if "median" not in row:
            print(f"{row['sessions']:>8}  stopped: {row['stopped']}")
            continue
        print(f"{row['sessions']:>8} {row['ramp_s']:>7.2f}s {ms(row['median']):>10} {ms(row['p99']):>10} "
              f"{row['cells_per_s']:>8.0f} {row['rss_mb']:>7.0f}MB {row['host_mem_used_mb']:>8.0f}MB"
              + (f"  stopped: {row['stopped']}" if "stopped" in row else ""))

    anchor = bench_anchor(args.anchor_calls, 16)
    print(f"\n[anchor] HTTP server + python subprocess per request, {args.anchor_calls} calls: "
          f"median {ms(anchor['median'])}, p99 {ms(anchor['p99'])}; 16 concurrent clients: "
          f"{anchor['conc_throughput']:.0f} cells/s; state kept across calls: "
          f"{'no' if anchor['state'][1] != 'ok' else 'yes'}")
    print(f"[ratio] anchor median / sandbox warm median: {anchor['median'] / warm['median']:.0f}x")


if __name__ == "__main__":
    main()
