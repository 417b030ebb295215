"""Run hostile cells against one Sandbox and print how many were contained.

A case counts as contained when the attack failed (its own criterion, checked on the host
where that is possible) AND the same sandbox then answered an ordinary cell correctly.

    python bench/sandbox_hostile.py
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from nmframe.sandbox import Sandbox

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "nmframe-hostile-secret-93ad"


def main() -> int:
    os.environ["NMFRAME_HOSTILE_SECRET"] = SECRET
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    port = server.getsockname()[1]
    me = os.getpid()
    tmp_target = "/tmp/nmframe_hostile_escape"
    repo_target = os.path.join(REPO, "nmframe_hostile_escape")
    for p in (tmp_target, repo_target):
        if os.path.exists(p):
            os.remove(p)

    def no_accept() -> bool:
        try:
            server.accept()
            return False
        except BlockingIOError:
            return True

    failed = lambda r: r.status in ("error", "killed", "timeout")  # noqa: E731
    cases = [
        ("infinite loop", "while True:\n    pass", 1.0, lambda r: r.status == "timeout", None),
        ("loop blocking SIGALRM/SIGXCPU",
         "import signal\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGXCPU})\nwhile True:\n    pass",
         1.0, lambda r: r.status == "timeout" and r.session_lost, None),
        ("fork bomb", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass", 2.0,
         lambda r: r.status == "timeout", None),
        ("fork bomb with setsid", "import os\nwhile True:\n    try:\n        if os.fork() == 0:\n            os.setsid()\n"
         "    except OSError:\n        pass", 2.0, lambda r: r.status == "timeout", None),
        ("thread bomb", "import threading, time\nwhile True:\n    threading.Thread(target=time.sleep, args=(60,)).start()",
         5.0, lambda r: r.status == "error" and "can't start new thread" in r.stderr, None),
        ("memory bomb 10 GB", "x = bytearray(10 * 1024 ** 3)", 5.0, lambda r: "MemoryError" in r.stderr, None),
        ("gradual memory bomb", "l = []\nwhile True:\n    l.append(bytearray(64 * 1024 ** 2))", 10.0,
         lambda r: r.status in ("error", "killed"), None),
        ("disk fill in working dir", "with open('big', 'wb') as f:\n    for _ in range(4096):\n        f.write(b'0' * 2 ** 20)",
         10.0, lambda r: r.status == "error" and ("File too large" in r.stderr or "No space" in r.stderr), None),
        ("connect to host loopback port", f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)",
         5.0, lambda r: failed(r), no_accept),
        ("connect to external address", "import socket\nsocket.create_connection(('1.1.1.1', 443), timeout=2)", 5.0,
         failed, None),
        ("DNS lookup", "import socket\nsocket.getaddrinfo('pypi.org', 443)", 5.0, failed, None),
        ("host unix socket", "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('/run/dbus/system_bus_socket')",
         5.0, failed, None),
        ("write /tmp", f"open({tmp_target!r}, 'w').write('x')", 5.0, failed, lambda: not os.path.exists(tmp_target)),
        ("write repo dir", f"open({repo_target!r}, 'w').write('x')", 5.0, failed, lambda: not os.path.exists(repo_target)),
        ("read secret env var", f"import os\nassert not any({SECRET!r} in v for v in os.environ.values())\n"
         f"for p in os.listdir('/proc'):\n    try:\n        assert {SECRET!r}.encode() not in open(f'/proc/{{p}}/environ','rb').read()\n"
         "    except OSError:\n        pass\nprint('clean')", 5.0, lambda r: r.stdout == "clean\n", None),
        ("read parent environ", "import os\nopen(f'/proc/{os.getppid()}/environ','rb').read()", 5.0, failed, None),
        ("read root's files", "import os\nos.listdir('/root')", 5.0,
         lambda r: r.status == "error" or r.stdout.strip() in ("['.pyenv']", "[]"), None),
        ("init's root via /proc/1/root", "import os\nos.listdir('/proc/1/root/root')", 5.0, failed, None),
        ("become root", "import os\nos.setuid(0)", 5.0, failed, None),
        ("mount syscall", "import ctypes\nassert ctypes.CDLL(None).mount(b'none', b'/mnt', b'tmpfs', 0, None) == 0", 5.0,
         failed, None),
        ("write sysctl", "open('/proc/sys/kernel/hostname', 'w').write('x')", 5.0, failed, None),
        ("print 100 MB", "print('a' * 100_000_000)", 20.0, lambda r: len(r.stdout) < 1100, None),
        ("subprocess output flood", "import os\nos.system('yes | head -c 100000000')", 20.0,
         lambda r: len(r.stdout) < 1100, None),
        ("kill parent via getppid", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", 5.0, failed, None),
        ("kill host parent pid", f"import os, signal\nos.kill({me}, signal.SIGKILL)", 5.0, failed, None),
        ("killpg own group", "import os, signal\nos.killpg(os.getpgid(0), signal.SIGKILL)", 5.0, lambda r: True, None),
        ("kill -1", "import os, signal\nos.kill(-1, signal.SIGKILL)", 5.0, lambda r: True, None),
        ("garbage on protocol pipe", "import os\nfor fd in range(3, 10):\n    try:\n        os.write(fd, b'\\xff' * 64)\n"
         "    except OSError:\n        pass", 5.0, lambda r: True, None),
    ]
    rows = []
    with Sandbox(max_sessions=8, memory_mb=1024, max_processes=32, max_file_mb=64, disk_mb=128, grace_s=0.5) as sb:
        print(f"isolation: {sb.isolation}")
        for i, (name, code, timeout, contained_if, host_check) in enumerate(cases):
            sid = f"h{i}"
            t0 = time.monotonic()
            r = sb.execute(code, session_id=sid, timeout=timeout)
            elapsed = time.monotonic() - t0
            ok_attack = bool(contained_if(r)) and (host_check is None or host_check())
            host_ok = os.getpid() == me and subprocess.run(["true"]).returncode == 0
            after = sb.execute("6 * 7", session_id=sid)
            serving = after.status == "ok" and after.stdout == "42\n"
            contained = ok_attack and host_ok and serving
            detail = (r.message or r.stderr.strip().splitlines()[-1:] and r.stderr.strip().splitlines()[-1] or r.stdout[:60])
            detail = " ".join(str(detail).split())
            rows.append((name, r.status, f"{elapsed:.2f}", "yes" if contained else "NO", detail[:70]))
            sb.close_session(sid)
    server.close()
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'status':<8} {'secs':>5}  contained  detail")
    for name, status, secs, cont, detail in rows:
        print(f"{name:<{width}}  {status:<8} {secs:>5}  {cont:<9}  {detail}")
    n_ok = sum(r[3] == "yes" for r in rows)
    print(f"attempts: {len(rows)}, contained: {n_ok}")
    return 0 if n_ok == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
