"""Sandbox: notebook semantics, output caps, and containment of hostile cells.

Every hostile test runs in the one shared ``Sandbox`` and then checks that the same instance
still answers a normal cell correctly: containment that breaks the service is not containment.
"""
from __future__ import annotations

import os
import resource
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from nmframe.sandbox import RESET_NOTICE, ExecResult, Sandbox, SandboxStartError
from nmframe.sandbox.result import cap_text, compose_capped

IS_ROOT = os.geteuid() == 0
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUTPUT_CHARS = 1000


@pytest.fixture(scope="module")
def sb():
    with Sandbox(max_sessions=48, memory_mb=1024, max_processes=32, output_chars=OUTPUT_CHARS,
                 default_timeout=10.0, grace_s=0.5) as box:
        yield box


def assert_serves(sb: Sandbox, session_id: str = "default") -> None:
    """The same sandbox still runs an ordinary cell, in a fresh session and in a named one."""
    r = sb.execute("sum(range(10))", session_id="after-" + session_id)
    assert (r.status, r.stdout) == ("ok", "45\n")
    r = sb.execute("print('alive')", session_id=session_id)
    assert r.status == "ok" and r.stdout.endswith("alive\n")


def host_pids_of_uid(uid: int) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as fh:
                for line in fh:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            pids.append(int(name))
                        break
        except OSError:
            continue
    return pids


# ---------------------------------------------------------------------------- semantics
def test_state_persists_across_calls(sb):
    assert sb.execute("x = 20\ny = [1, 2]", session_id="state").status == "ok"
    r = sb.execute("y.append(x + 1)\nprint(x, y)", session_id="state")
    assert (r.status, r.stdout) == ("ok", "20 [1, 2, 21]\n")
    r = sb.execute("def f(n):\n    return n * x\nf(3)", session_id="state")
    assert r.stdout == "60\n"
    # Sessions do not share state.
    r = sb.execute("x", session_id="state-other")
    assert r.status == "error" and "NameError: name 'x' is not defined" in r.stderr


def test_final_expression_is_echoed(sb):
    assert sb.execute("1 + 1").stdout == "2\n"
    assert sb.execute("'ab' * 2").stdout == "'abab'\n"
    assert sb.execute("print('p')\n3 * 7").stdout == "p\n21\n"
    assert sb.execute("None").stdout == ""
    assert sb.execute("z = 5").stdout == ""
    assert sb.execute("import sympy\nsympy.factor(sympy.Symbol('t')**2 - 1)").stdout == "(t - 1)*(t + 1)\n"


def test_exception_gives_traceback_and_keeps_state(sb):
    sb.execute("kept = 123", session_id="exc")
    r = sb.execute("print('before')\n1 / 0", session_id="exc")
    assert r.status == "error"
    assert r.stdout == "before\n"
    assert r.stderr.startswith("Traceback (most recent call last):")
    assert 'File "<cell>", line 2' in r.stderr
    assert r.stderr.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "worker.py" not in r.stderr  # the sandbox's own frames are hidden
    assert r.tool_output() == "before\n" + r.stderr.rstrip("\n")
    assert sb.execute("kept", session_id="exc").stdout == "123\n"
    r = sb.execute("def broken(:\n  pass", session_id="exc")
    assert r.status == "error" and "SyntaxError" in r.stderr
    assert sb.execute("kept + 1", session_id="exc").stdout == "124\n"


def test_fd_level_output_and_subprocess_are_captured(sb):
    r = sb.execute("import os, subprocess\nos.write(1, b'raw\\n')\nsubprocess.run(['echo', 'child'])\n"
                   "os.write(2, b'rawerr\\n')\nNone")
    assert r.status == "ok"
    assert "raw\n" in r.stdout and "child\n" in r.stdout
    assert r.stderr == "rawerr\n"


def test_working_directory_is_private_and_writable(sb):
    r = sb.execute("import os\nopen('note.txt', 'w').write('hello')\nprint(open('note.txt').read(), "
                   "os.getcwd() == os.environ['HOME'])", session_id="files")
    assert r.stdout == "hello True\n"
    assert sb.execute("os.path.exists('note.txt')", session_id="files").stdout == "True\n"
    assert sb.execute("import os; os.path.exists('note.txt')", session_id="files-other").stdout == "False\n"


def test_reset_and_close_session(sb):
    sb.execute("a = 1", session_id="rs")
    sb.reset("rs")
    r = sb.execute("'a' in globals()", session_id="rs")
    assert (r.stdout, r.session_reset) == ("False\n", False)  # an asked-for reset is no surprise
    sb.close_session("rs")
    assert "rs" not in sb.live_sessions
    r = sb.execute("1", session_id="rs")
    assert r.stdout == "1\n" and r.session_reset is False


# ---------------------------------------------------------------------------- time
def test_infinite_loop_is_interrupted_and_state_survives(sb):
    sb.execute("counter = 7", session_id="loop")
    t0 = time.monotonic()
    r = sb.execute("print('started')\nwhile True:\n    counter += 1", session_id="loop", timeout=1.0)
    elapsed = time.monotonic() - t0
    assert r.status == "timeout"
    assert 0.9 < elapsed < 3.0
    assert r.stdout == "started\n"
    assert "exceeded the 1 s time limit" in r.tool_output()
    r = sb.execute("counter > 7", session_id="loop")
    assert (r.status, r.stdout, r.session_reset) == ("ok", "True\n", False)
    assert_serves(sb, "loop")


def test_loop_that_blocks_signals_is_killed_and_session_restarted(sb):
    sb.execute("lost = 1", session_id="hard")
    code = ("import signal\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGXCPU})\n"
            "while True:\n    pass")
    t0 = time.monotonic()
    r = sb.execute(code, session_id="hard", timeout=1.0)
    assert time.monotonic() - t0 < 4.0
    assert (r.status, r.session_lost) == ("timeout", True)
    assert "the Python session was reset; earlier variables are lost" in r.tool_output()
    r = sb.execute("'lost' in globals()", session_id="hard")
    assert (r.status, r.stdout, r.session_reset) == ("ok", "False\n", True)
    assert r.tool_output().startswith(RESET_NOTICE)
    assert_serves(sb, "hard")


# ---------------------------------------------------------------------------- processes
@pytest.mark.skipif(not IS_ROOT, reason="process containment needs root (dedicated uid + PID namespace)")
def test_fork_bomb_is_contained(sb):
    code = ("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass")
    t0 = time.monotonic()
    r = sb.execute(code, session_id="forkbomb", timeout=1.5)
    assert time.monotonic() - t0 < 5.0
    assert r.status == "timeout"
    # The host can still start processes and none of the bomb's survive.
    assert subprocess.run(["true"]).returncode == 0
    uid = sb._sessions["forkbomb"].uid
    # Only the worker itself is left (none when the loaded machine made the parent's backstop kill it).
    assert len(host_pids_of_uid(uid)) == (0 if r.session_lost else 1)
    r = sb.execute("import os; sorted(int(p) for p in os.listdir('/proc') if p.isdigit())", session_id="forkbomb")
    assert r.stdout == "[1, 2]\n"  # only the namespace's init and the worker are left
    assert_serves(sb, "forkbomb")


def test_process_limit_stops_plain_fork_loop(sb):
    r = sb.execute("import os\nkids = []\nwhile True:\n    pid = os.fork()\n    if pid == 0:\n"
                   "        import time; time.sleep(30)\n    kids.append(pid)", session_id="nproc", timeout=5)
    assert r.status == "error" and "BlockingIOError" in r.stderr
    assert sb.execute("len(kids) < 32", session_id="nproc").stdout == "True\n"
    assert_serves(sb, "nproc")


def test_cannot_kill_the_parent(sb):
    me = os.getpid()
    for code in ("import os, signal; os.kill(os.getppid(), signal.SIGKILL)",
                 f"import os, signal; os.kill({me}, signal.SIGKILL)",
                 "import os, signal; os.killpg(os.getpgid(0), signal.SIGKILL)",
                 "import os, signal; os.kill(-1, signal.SIGKILL)",
                 "import os, signal; os.kill(1, signal.SIGKILL)"):
        r = sb.execute(code, session_id="parricide")
        assert r.status in ("error", "killed"), (code, r)
        assert os.getpid() == me
        assert_serves(sb, "parricide")


# ---------------------------------------------------------------------------- memory
def test_memory_bomb_is_refused(sb):
    r = sb.execute("blob = bytearray(10 * 1024 ** 3)", session_id="mem")
    assert r.status == "error" and r.stderr.rstrip().endswith("MemoryError")
    assert_serves(sb, "mem")


@pytest.mark.slow
def test_gradual_memory_bomb_is_contained(sb):
    r = sb.execute("chunks = []\nwhile True:\n    chunks.append(bytearray(32 * 1024 ** 2))",
                   session_id="mem2", timeout=8)
    assert r.status in ("error", "killed")
    if r.status == "error":
        assert "MemoryError" in r.stderr
        assert sb.execute("n = len(chunks); del chunks; n < 40", session_id="mem2").stdout == "True\n"
    assert_serves(sb, "mem2")


# ---------------------------------------------------------------------------- network
@pytest.mark.skipif(not IS_ROOT, reason="the network namespace needs root")
def test_cannot_reach_a_port_on_the_host_loopback(sb):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    port = server.getsockname()[1]
    try:
        r = sb.execute(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)",
                       session_id="net")
        assert r.status == "error" and "Network is unreachable" in r.stderr
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()
    assert_serves(sb, "net")


@pytest.mark.skipif(not IS_ROOT, reason="the network namespace needs root")
def test_cannot_reach_external_addresses_or_dns(sb):
    r = sb.execute("import socket\nsocket.create_connection(('1.1.1.1', 443), timeout=2)", session_id="net2")
    assert r.status == "error" and "Network is unreachable" in r.stderr
    r = sb.execute("socket.getaddrinfo('pypi.org', 443)", session_id="net2")
    assert r.status == "error" and "gaierror" in r.stderr
    assert_serves(sb, "net2")


# ---------------------------------------------------------------------------- files
@pytest.mark.parametrize("target", ["/tmp/nmframe_sandbox_escape_test", os.path.join(REPO, "nmframe_sandbox_escape_test"),
                                    "/var/tmp/nmframe_sandbox_escape_test", "/root/nmframe_sandbox_escape_test"])
def test_cannot_write_outside_the_working_directory(sb, target):
    if os.path.exists(target):
        os.remove(target)
    r = sb.execute(f"open({target!r}, 'w').write('pwned')", session_id="escape")
    assert r.status == "error"
    assert "Read-only file system" in r.stderr or "Permission denied" in r.stderr
    assert not os.path.exists(target)
    assert_serves(sb, "escape")


def test_secret_environment_is_not_visible(sb, monkeypatch):
    secret = "nmframe-sandbox-secret-4f1c"
    monkeypatch.setenv("NMFRAME_TEST_SECRET", secret)
    code = ("import os\nfound = [k for k, v in os.environ.items() if 'nmframe-sandbox-secret' in v]\n"
            "for pid in os.listdir('/proc'):\n"
            "    if pid.isdigit() or pid == 'self':\n"
            "        try:\n"
            "            if b'nmframe-sandbox-secret' in open(f'/proc/{pid}/environ', 'rb').read():\n"
            "                found.append(pid)\n"
            "        except OSError:\n"
            "            pass\n"
            "try:\n"
            "    open(f'/proc/{os.getppid()}/environ', 'rb').read()\n"
            "    ppid_env = 'readable'\n"
            "except OSError as e:\n"
            "    ppid_env = type(e).__name__\n"
            "print(found, 'NMFRAME_TEST_SECRET' in os.environ, ppid_env)")
    r = sb.execute(code, session_id="env-fresh")
    assert r.status == "ok"
    assert r.stdout == "[] False PermissionError\n"


# ---------------------------------------------------------------------------- output
def test_output_flood_is_capped_without_hurting_the_parent(sb):
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = sb.execute("print('a' * 100_000_000)", session_id="flood", timeout=20)
    assert r.status == "ok"
    assert r.stdout == "a" * OUTPUT_CHARS + "\n... [truncated 99999001 chars]"
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert rss_after - rss_before < 50 * 1024  # KiB: the parent never saw the 100 MB
    r = sb.execute("for i in range(200000):\n    print(i)", session_id="flood")
    assert r.stdout.startswith("0\n1\n2\n") and r.stdout.endswith("chars]")
    assert len(r.stdout) < OUTPUT_CHARS + 60
    r = sb.execute("import os\nos.system('yes | head -c 50000000')\nNone", session_id="flood")
    assert r.stdout.startswith("y\ny\n") and "truncated" in r.stdout and len(r.stdout) < OUTPUT_CHARS + 60
    r = sb.execute("raise ValueError('x' * 5000)", session_id="flood")
    assert r.stderr.startswith("... [truncated") and r.stderr.rstrip().endswith("x" * 100)
    assert_serves(sb, "flood")


def test_garbage_on_the_protocol_pipe_only_resets_that_session(sb):
    sb.execute("v = 1", session_id="garbage")
    r = sb.execute("import os\nfor fd in range(3, 10):\n    try:\n        os.write(fd, b'\\xff' * 64)\n"
                   "    except OSError:\n        pass", session_id="garbage")
    assert r.status == "killed" and "stopped answering" in r.message
    r = sb.execute("'v' in globals()", session_id="garbage")
    assert (r.stdout, r.session_reset) == ("False\n", True)
    assert_serves(sb, "garbage")


# ---------------------------------------------------------------------------- concurrency
def test_many_sessions_concurrently(sb):
    n = 32

    def job(i: int) -> tuple[str, str]:
        a = sb.execute(f"v = {i}\nimport time; time.sleep(0.05)\nv * 3", session_id=f"conc{i}")
        b = sb.execute("v + 1", session_id=f"conc{i}")
        return a.stdout, b.stdout

    with ThreadPoolExecutor(max_workers=n) as pool:
        out = list(pool.map(job, range(n)))
    assert out == [(f"{3 * i}\n", f"{i + 1}\n") for i in range(n)]


def test_lru_eviction_reports_a_reset():
    with Sandbox(max_sessions=3, default_timeout=5) as box:
        for i in range(5):
            assert box.execute(f"a = {i}", session_id=f"lru{i}").status == "ok"
        assert sorted(box.live_sessions) == ["lru2", "lru3", "lru4"]
        r = box.execute("a", session_id="lru0")
        assert (r.status, r.session_reset) == ("error", True)
        assert r.tool_output().startswith(RESET_NOTICE)
        assert box.execute("a", session_id="lru4").stdout == "4\n"


def test_close_kills_every_session_process():
    box = Sandbox(max_sessions=4)
    for i in range(3):
        box.execute("import os; os.getpid()", session_id=f"c{i}")
    pids = [s.proc.pid for s in box._sessions.values()]
    box.close()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(RuntimeError):
        box.execute("1")


@pytest.mark.skipif(not IS_ROOT, reason="a dedicated uid per session needs root")
def test_isolation_mode_is_reported(sb):
    info = sb.isolation
    assert (info["mode"], info["missing"]) == ("isolated", [])
    assert info["netns"] and info["pidns"] and info["mountns"] and info["private_root"] and info["seccomp"]
    assert info["uid"] >= 1 << 28 and info["unprivileged"]
    assert info["limits"]["disk_inodes"] == 16384


def test_unisolated_sandbox_is_refused_when_isolation_is_required():
    with Sandbox(max_sessions=1, namespaces=False, seccomp=False, run_as_uid=False,
                 require_isolation=True) as box:
        with pytest.raises(SandboxStartError) as err:
            box.execute("open('/tmp/nmframe-should-not-exist', 'w')")
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("untrusted code cannot be isolated on this host: no network namespace, no PID namespace")
    assert "no seccomp filter" in msg
    assert not os.path.exists("/tmp/nmframe-should-not-exist")


# ---------------------------------------------------------------------------- pure helpers
def test_truncation_rules():
    assert cap_text("abc", 5) == "abc"
    assert cap_text("abcdefgh", 3) == "abc\n... [truncated 5 chars]"
    assert cap_text("abcdefgh", 3, "tail") == "... [truncated 5 chars]\nfgh"
    assert cap_text("abcdefgh", 4, "middle") == "ab\n... [truncated 4 chars]\ngh"
    assert compose_capped("abc", "fgh", 8, 3) == "abc\n... [truncated 5 chars]"


def test_tool_output_texts():
    r = ExecResult(status="ok", stdout="1\n", session_reset=True)
    assert r.tool_output() == RESET_NOTICE + "\n1"
    r = ExecResult(status="timeout", stdout="partial\n", message="TimeoutError: slow")
    assert r.tool_output() == "partial\nTimeoutError: slow"
    with pytest.raises(ValueError):
        ExecResult(status="weird")
