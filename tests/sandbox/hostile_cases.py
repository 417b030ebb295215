"""Hostile cells, each with the host-side check that says whether it was contained.

Shared by tests/sandbox/test_hostile.py (run as root and as an ordinary user) and
bench/sandbox_hostile.py.  A case is contained when its own criterion holds (checked on the
host where that is possible) AND the same session then answers an ordinary cell correctly.

``HostileHost`` is the bait an attacker would go for: a listener on the host loopback, a
secret in the parent's environment and in a project folder's ``.env``, a project folder with
``outputs/artifacts/ingest/*/problems.jsonl`` that is the caller's working directory, and a
victim process on the host.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import Callable

SECRET = "nmframe-hostile-secret-93ad"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class HostileHost:
    """Bait on the host, created before the sandbox and removed after (a context manager)."""

    def __init__(self, root: str, package_root: str) -> None:
        self.root = root
        self.package_root = package_root
        self.project = os.path.join(root, "project")
        self.escape_files = [os.path.join(root, "escape-outside"), os.path.join(self.project, "escape-project"),
                             "/tmp/nmframe-hostile-escape"]

    def __enter__(self) -> "HostileHost":
        os.makedirs(os.path.join(self.project, "outputs/artifacts/ingest/abc123"), exist_ok=True)
        with open(os.path.join(self.project, ".env"), "w") as fh:
            fh.write(f"API_TOKEN={SECRET}\n")
        with open(os.path.join(self.project, "outputs/artifacts/ingest/abc123/problems.jsonl"), "w") as fh:
            fh.write('{"id": "p1", "problem": "%s"}\n' % SECRET)
        for path in self.escape_files:
            if os.path.exists(path):
                os.remove(path)
        os.environ["NMFRAME_HOSTILE_SECRET"] = SECRET
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(4)
        self.server.setblocking(False)
        self.port = self.server.getsockname()[1]
        self.victim = subprocess.Popen(["sleep", "600"])
        self.me = os.getpid()
        return self

    def __exit__(self, *exc) -> None:
        self.server.close()
        self.victim.kill()
        self.victim.wait()
        os.environ.pop("NMFRAME_HOSTILE_SECRET", None)

    # host-side checks ------------------------------------------------------------------
    def no_connection(self) -> bool:
        try:
            conn, _ = self.server.accept()
            conn.close()
            return False
        except BlockingIOError:
            return True

    def no_escape_file(self) -> bool:
        return not any(os.path.exists(p) for p in self.escape_files)

    def victim_alive(self) -> bool:
        return self.victim.poll() is None and os.getpid() == self.me


@dataclass
class Case:
    name: str
    code: Callable[[HostileHost], str]
    timeout: float
    contained: Callable  # (result, host) -> bool


def _failed(r, host) -> bool:  # noqa: ARG001
    return r.status in ("error", "killed", "timeout")


def _no_secret(r, host) -> bool:  # noqa: ARG001
    return SECRET not in r.stdout + r.stderr + r.message


def _all(*checks):
    return lambda r, host: all(c(r, host) for c in checks)


def _prints(text: str):
    return lambda r, host: r.status == "ok" and r.stdout == text + "\n"


def _ctypes_call(body: str) -> str:
    """A cell that makes raw system calls through libc and prints what they returned."""
    return "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n" + body


def _syscall_refused(nr_x86: int, nr_arm: int, args: str = "0, 0, 0, 0, 0") -> str:
    return _ctypes_call(
        "import platform\n"
        f"nr = {nr_x86} if platform.machine() == 'x86_64' else {nr_arm}\n"
        f"ret = libc.syscall(nr, {args})\n"
        "print('refused' if ret == -1 else f'allowed {ret}')")


CASES: list[Case] = [
    # ---- the first 28: time, processes, memory, disk, network, files, privileges, output
    Case("infinite loop", lambda h: "while True:\n    pass", 1.0, lambda r, h: r.status == "timeout"),
    Case("loop blocking SIGALRM/SIGXCPU",
         lambda h: "import signal\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGXCPU})\n"
                   "while True:\n    pass", 1.0, lambda r, h: r.status == "timeout" and r.session_lost),
    Case("fork bomb",
         lambda h: "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
         2.0, lambda r, h: r.status == "timeout"),
    Case("fork bomb with setsid", lambda h: "import os\nwhile True:\n    try:\n        if os.fork() == 0:\n"
         "            os.setsid()\n    except OSError:\n        pass", 2.0, lambda r, h: r.status == "timeout"),
    Case("thread bomb", lambda h: "import threading, time\nwhile True:\n"
         "    threading.Thread(target=time.sleep, args=(60,)).start()", 5.0,
         lambda r, h: r.status in ("error", "killed")),
    Case("memory bomb 10 GB", lambda h: "x = bytearray(10 * 1024 ** 3)", 5.0, lambda r, h: "MemoryError" in r.stderr),
    Case("gradual memory bomb", lambda h: "l = []\nwhile True:\n    l.append(bytearray(64 * 1024 ** 2))", 10.0,
         lambda r, h: r.status in ("error", "killed")),
    Case("disk fill in working dir", lambda h: "with open('big', 'wb') as f:\n    for _ in range(4096):\n"
         "        f.write(b'0' * 2 ** 20)", 10.0,
         lambda r, h: r.status == "error" and ("File too large" in r.stderr or "No space" in r.stderr)),
    Case("connect to host loopback port",
         lambda h: f"import socket\nsocket.create_connection(('127.0.0.1', {h.port}), timeout=2)", 5.0,
         lambda r, h: _failed(r, h) and h.no_connection()),
    Case("connect to external address",
         lambda h: "import socket\nsocket.create_connection(('1.1.1.1', 443), timeout=2)",
         5.0, _failed),
    Case("DNS lookup", lambda h: "import socket\nsocket.getaddrinfo('pypi.org', 443)", 5.0, _failed),
    Case("host unix socket", lambda h: "import socket\ns = socket.socket(socket.AF_UNIX)\n"
         "s.connect('/run/dbus/system_bus_socket')", 5.0, _failed),
    Case("write /tmp", lambda h: f"open({h.escape_files[2]!r}, 'w').write('x')", 5.0,
         lambda r, h: _failed(r, h) and h.no_escape_file()),
    Case("write the project folder", lambda h: f"open({h.escape_files[1]!r}, 'w').write('x')", 5.0,
         lambda r, h: _failed(r, h) and h.no_escape_file()),
    Case("read secret env var",
         lambda h: f"import os\nassert not any({SECRET!r} in v for v in os.environ.values())\n"
                   "for p in os.listdir('/proc'):\n    try:\n"
                   f"        assert {SECRET!r}.encode() not in open(f'/proc/{{p}}/environ','rb').read()\n"
                   "    except OSError:\n        pass\nprint('clean')", 5.0, _prints("clean")),
    Case("read parent environ", lambda h: "import os\nopen(f'/proc/{os.getppid()}/environ','rb').read()", 5.0,
         _all(_failed, _no_secret)),
    Case("read root's files", lambda h: "import os\nprint(os.listdir('/root'))", 5.0,
         lambda r, h: r.status == "error" or set(eval(r.stdout or "None") or []) <= {".pyenv"}),
    Case("init's root via /proc/1/root", lambda h: "import os\nos.listdir('/proc/1/root/root')", 5.0,
         lambda r, h: r.status == "error" or r.stdout == ""),
    Case("become root", lambda h: "import os\nos.setuid(0)", 5.0, _failed),
    Case("mount syscall", lambda h: "import ctypes\n"
         "assert ctypes.CDLL(None).mount(b'none', b'/mnt', b'tmpfs', 0, None) == 0", 5.0, _failed),
    Case("write sysctl", lambda h: "open('/proc/sys/kernel/hostname', 'w').write('x')", 5.0, _failed),
    Case("print 100 MB", lambda h: "print('a' * 100_000_000)", 20.0, lambda r, h: len(r.stdout) < 1100),
    Case("subprocess output flood", lambda h: "import os\nos.system('yes | head -c 100000000')", 20.0,
         lambda r, h: len(r.stdout) < 1100),
    # The parent is the namespace's init: refused (root) or ignored by the kernel (user namespace).
    Case("kill parent via getppid", lambda h: "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", 5.0,
         lambda r, h: r.status in ("ok", "error") and not r.session_lost and h.victim_alive()),
    Case("kill host parent pid", lambda h: f"import os, signal\nos.kill({h.me}, signal.SIGKILL)", 5.0,
         lambda r, h: _failed(r, h) and h.victim_alive()),
    Case("killpg own group", lambda h: "import os, signal\nos.killpg(os.getpgid(0), signal.SIGKILL)", 5.0,
         lambda r, h: h.victim_alive()),
    Case("kill -1", lambda h: "import os, signal\nos.kill(-1, signal.SIGKILL)", 5.0, lambda r, h: h.victim_alive()),
    Case("garbage on protocol pipe", lambda h: "import os\nfor fd in range(3, 10):\n    try:\n"
         "        os.write(fd, b'\\xff' * 64)\n    except OSError:\n        pass", 5.0,
         lambda r, h: r.stdout == ""),
    # ---- issue 12: what an ordinary user's sandbox let through, and the rest of the attempts
    Case("ctypes connect to host loopback", lambda h: _ctypes_call(
        "import socket, struct\nfd = libc.socket(2, 1, 0)\n"
        f"addr = struct.pack('<HH4s8x', 2, socket.htons({h.port}), bytes([127, 0, 0, 1]))\n"
        "ret = libc.connect(fd, addr, len(addr))\nprint('connected' if ret == 0 else 'refused')"), 5.0,
        lambda r, h: "connected" not in r.stdout and h.no_connection()),
    Case("ctypes write outside the working dir", lambda h: _ctypes_call(
        f"for p in {h.escape_files!r}:\n    fd = libc.open(p.encode(), 0o101, 0o644)\n"
        "    if fd >= 0:\n        libc.write(fd, b'x', 1)\nprint('done')"), 5.0,
        lambda r, h: h.no_escape_file()),
    Case("ctypes kill a host process", lambda h: _ctypes_call(
        f"print(libc.kill({h.victim.pid}, 9), libc.kill({h.me}, 9))"), 5.0, lambda r, h: h.victim_alive()),
    Case("read host environ by pid", lambda h: _ctypes_call(
        f"for pid in ({h.me}, {h.victim.pid}, 1):\n    fd = libc.open(f'/proc/{{pid}}/environ'.encode(), 0)\n"
        "    buf = ctypes.create_string_buffer(65536)\n"
        "    n = libc.read(fd, buf, 65536) if fd >= 0 else 0\n    print(buf.raw[:max(n, 0)])"), 5.0, _no_secret),
    Case("read .env in the caller's working dir", lambda h: "import os\n"
         f"for p in ('.env', {os.path.join(h.project, '.env')!r}, os.path.join(os.environ.get('PWD', '/'), '.env')):\n"
         "    try:\n        print(open(p).read())\n    except OSError as e:\n        print(type(e).__name__)", 5.0,
         lambda r, h: r.status == "ok" and _no_secret(r, h)),
    Case("read the checkout's outputs", lambda h: "import glob\n"
         f"for p in glob.glob({h.project!r} + '/outputs/artifacts/ingest/*/problems.jsonl') + "
         "glob.glob('outputs/artifacts/ingest/*/problems.jsonl'):\n    print(open(p).read())\nprint('searched')", 5.0,
         lambda r, h: r.stdout == "searched\n"),
    Case("read the checkout's source", lambda h: "import os, sys\n"
         f"print(os.path.exists({os.path.join(h.package_root, 'nmframe', 'sandbox', 'session.py')!r}))\n"
         f"print(any(os.path.exists(os.path.join(p, 'nmframe', 'sandbox')) for p in sys.path if p))", 5.0,
         _prints("False\nFalse")),
    Case("list sys.path[0] and the cwd of the caller", lambda h: "import os\n"
         f"print([p for p in ({h.project!r}, {h.root!r}) if os.path.exists(p)])", 5.0, _prints("[]")),
    Case("memfd shared memory held after the cell", lambda h: "import os\nfds = []\nfor i in range(24):\n"
         "    fd = os.memfd_create(f'm{i}')\n    os.ftruncate(fd, 64 << 20)\n"
         "    os.pwrite(fd, b'x' * (64 << 20), 0)\n    fds.append(fd)", 20.0,
         lambda r, h: r.status in ("error", "killed")),
    Case("/dev/shm fill", lambda h: "with open('/dev/shm/fill', 'wb') as f:\n    for _ in range(1024):\n"
         "        f.write(b'0' * 2 ** 20)", 20.0,
         lambda r, h: r.status == "error" and ("No space" in r.stderr or "File too large" in r.stderr)),
    Case("SysV shared memory", lambda h: _syscall_refused(29, 194, "0, 256 << 20, 0o1600, 0, 0"), 5.0,
         _prints("refused")),
    Case("empty-file loop in the working dir (inodes)", lambda h: "import os\nn = 0\ntry:\n    while True:\n"
         "        open(f'f{n}', 'w').close()\n        n += 1\nexcept OSError as e:\n    print(n, e.errno)", 20.0,
         lambda r, h: r.status == "ok" and int(r.stdout.split()[0]) <= 16384 and r.stdout.split()[1] == "28"),
    Case("plant a key in the uid's keyring", lambda h: _ctypes_call(
        "ret = libc.syscall(248 if __import__('platform').machine() == 'x86_64' else 217, b'user', b'nmframe-planted',"
        " b'secret', 6, -4)\nprint('refused' if ret == -1 else 'planted')"), 5.0, _prints("refused")),
    Case("read the uid's keyring", lambda h: _syscall_refused(250, 219, "0, -4, 0, 0, 0"), 5.0, _prints("refused")),
    Case("request_key", lambda h: _ctypes_call(
        "ret = libc.syscall(249 if __import__('platform').machine() == 'x86_64' else 218, b'user', b'nmframe-planted',"
        " None, 0)\nprint('refused' if ret == -1 else 'found')"), 5.0, _prints("refused")),
    Case("AF_VSOCK socket", lambda h: "import socket\ns = socket.socket(40, socket.SOCK_STREAM)\n"
         "s.connect((2, 22))", 5.0, _failed),
    Case("netlink socket", lambda h: "import socket\nsocket.socket(16, socket.SOCK_RAW, 0)", 5.0, _failed),
    Case("io_uring_setup", lambda h: _ctypes_call(
        "params = ctypes.create_string_buffer(120)\nret = libc.syscall(425, 8, params)\n"
        "print('refused' if ret == -1 else 'allowed')"), 5.0, _prints("refused")),
    Case("bpf", lambda h: _syscall_refused(321, 280, "0, 0, 0, 0, 0"), 5.0, _prints("refused")),
    Case("perf_event_open", lambda h: _ctypes_call(
        "attr = ctypes.create_string_buffer(128)\nret = libc.syscall(298 if __import__('platform').machine() == "
        "'x86_64' else 241, attr, 0, -1, -1, 0)\nprint('refused' if ret == -1 else 'allowed')"), 5.0,
        _prints("refused")),
    Case("new user namespace", lambda h: _ctypes_call(
        "print('refused' if libc.unshare(0x10000000) == -1 else 'allowed')"), 5.0, _prints("refused")),
    Case("new network namespace via clone flags", lambda h: _ctypes_call(
        "print('refused' if libc.unshare(0x40000000 | 0x00020000) == -1 else 'allowed')"), 5.0, _prints("refused")),
    Case("ptrace the init", lambda h: _syscall_refused(101, 117, "16, 1, 0, 0, 0"), 5.0, _prints("refused")),
    Case("chroot", lambda h: _ctypes_call("print('refused' if libc.chroot(b'/tmp') == -1 else 'allowed')"), 5.0,
         _prints("refused")),
    Case("host block devices and /sys", lambda h: "import os\n"
         "print([p for p in ('/dev/vda', '/dev/sda', '/dev/kmsg', '/dev/mem', '/sys/kernel', '/dev/vsock') "
         "if os.path.exists(p)])", 5.0, _prints("[]")),
    Case("forged response frame", lambda h: "import json, os, struct\n"
         "body = json.dumps({'status': 'ok', 'stdout': 'FORGED\\n', 'stderr': '', 'message': ''}).encode()\n"
         "for fd in range(3, 12):\n    try:\n        os.write(fd, struct.pack('>I', len(body)) + body)\n"
         "    except OSError:\n        pass\nprint('sent')", 5.0, lambda r, h: "FORGED" not in r.stdout),
    Case("forged frame with the request's sequence number", lambda h: "import json, os, struct, sys\n"
         "f, seq = sys._getframe(), None\nwhile f is not None:\n    seq = f.f_locals.get('seq', seq)\n"
         "    f = f.f_back\n"
         "body = json.dumps({'status': 'ok', 'stdout': 'FORGED\\n', 'stderr': '', 'message': '',\n"
         "                   'seq': seq}).encode()\n"
         "for fd in range(3, 12):\n    try:\n        os.write(fd, struct.pack('>I', len(body)) + body)\n"
         "    except OSError:\n        pass\nprint('sent')", 5.0, lambda r, h: True),
    Case("terminal escapes and NULs in output", lambda h: "import sys\n"
         "print('\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mred\\r\\x00\\x08\\x9b tab\\tend')\n"
         "sys.stderr.write('\\x1b[1mbold\\x1b[0m\\n')", 5.0,
         lambda r, h: not CONTROL.search(r.stdout + r.stderr) and "\\x1b[31mred" in r.stdout
         and "tab\tend" in r.stdout),
]


def run_case(sb, case: Case, host: HostileHost, session_id: str) -> tuple[bool, str]:
    """Run one case and then an ordinary cell in the same session; (contained, detail)."""
    t0 = time.monotonic()
    r = sb.execute(case.code(host), session_id=session_id, timeout=case.timeout)
    elapsed = time.monotonic() - t0
    attack_failed = bool(case.contained(r, host))
    host_ok = os.getpid() == host.me and subprocess.run(["true"]).returncode == 0
    after = sb.execute("6 * 7", session_id=session_id)
    serving = after.status == "ok" and after.stdout == "42\n"
    detail = (f"{case.name}: status={r.status} {elapsed:.2f}s contained={attack_failed} host_ok={host_ok} "
              f"serving={serving} stdout={r.stdout[:200]!r} stderr={r.stderr[-300:]!r} message={r.message!r} "
              f"after={after.status}:{after.stdout!r}")
    return attack_failed and host_ok and serving, detail
