"""The hostile suite again, as an ordinary user (how a Slurm job runs the sandbox).

Root side (this test): make a system user, a virtual environment that user can run (a Python
of the same version on the machine plus this interpreter's installed packages), a copy of the
package and of tests/sandbox that the user can read, and, for the second variant, a memory
and pids cgroup delegated to the user, as a CI runner or a Slurm job step would.  Then run
test_hostile.py under ``setpriv`` and require every case to pass.
"""
from __future__ import annotations

import os
import pwd
import shutil
import site
import subprocess
import sys
import tempfile

import pytest

from nmframe.sandbox import cgroups
from nmframe.sandbox.session import PACKAGE_ROOT

from .hostile_cases import CASES

pytestmark = pytest.mark.slow
USER = "nmframe-sbtest"
VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"


def _as_user(uid: int, gid: int, argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *argv],
                          capture_output=True, text=True, **kw)


def _world_reachable(path: str) -> bool:
    """Whether any user can reach ``path``: it exists and every directory above it is searchable."""
    path = os.path.realpath(path)
    parts = path.split("/")[1:-1]
    return os.path.exists(path) and all(os.stat("/" + "/".join(parts[:i + 1])).st_mode & 0o001
                                        for i in range(len(parts)))


@pytest.fixture(scope="module")
def user():
    if os.geteuid() != 0:
        pytest.skip("needs root to create the unprivileged user")
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv (util-linux)")
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        if shutil.which("useradd") is None:
            pytest.skip("needs useradd to create the unprivileged user")
        # another test run may be creating it at the same moment: what counts is that it exists
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                       capture_output=True)
        pw = pwd.getpwnam(USER)
    probe = _as_user(pw.pw_uid, pw.pw_gid, ["unshare", "-U", "-r", "-m", "-p", "-n", "-f", "true"])
    if probe.returncode != 0:
        pytest.skip(f"unprivileged user namespaces are not allowed here: {probe.stderr.strip()}")
    return pw


@pytest.fixture(scope="module")
def user_env(user):
    """A directory the user can read: venv/ (its interpreter) and src/ (the code under test)."""
    top = tempfile.mkdtemp(prefix="nmframe-sbtest-", dir="/tmp")
    os.chmod(top, 0o755)
    try:
        candidates = [os.path.realpath(getattr(sys, "_base_executable", sys.executable)),
                      f"/usr/bin/python{VERSION}", f"/usr/local/bin/python{VERSION}"]
        python = next((c for c in candidates if _world_reachable(c) and _as_user(
            user.pw_uid, user.pw_gid, [c, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
        ).stdout.strip() == VERSION), None)
        if python is None:
            pytest.skip(f"no Python {VERSION} the unprivileged user can run (tried {candidates})")
        subprocess.run([python, "-m", "venv", "--without-pip", f"{top}/venv"], check=True)
        src = f"{top}/src"
        shutil.copytree(os.path.join(PACKAGE_ROOT, "nmframe"), f"{src}/nmframe",
                        ignore=shutil.ignore_patterns("__pycache__"))
        os.makedirs(f"{src}/tests")
        open(f"{src}/tests/__init__.py", "w").close()
        shutil.copytree(os.path.dirname(os.path.abspath(__file__)), f"{src}/tests/sandbox",
                        ignore=shutil.ignore_patterns("__pycache__"))
        packages = [p for p in site.getsitepackages() if os.path.isdir(p)]
        site_dir = subprocess.run([f"{top}/venv/bin/python", "-c", "import site; print(site.getsitepackages()[0])"],
                                  capture_output=True, text=True, check=True).stdout.strip()
        with open(os.path.join(site_dir, "00-nmframe-sbtest.pth"), "w") as fh:
            fh.write("\n".join([src, *packages]) + "\n")
        subprocess.run(["chmod", "-R", "a+rX", top], check=True)
        check = _as_user(user.pw_uid, user.pw_gid, [f"{top}/venv/bin/python", "-c", "import pytest, nmframe"], cwd=src)
        if check.returncode != 0:
            pytest.skip(f"the installed packages are not readable by {USER}: {check.stderr.strip()[-300:]}")
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def delegated_cgroup(user):
    """A memory and pids cgroup (v1) below this process's own, owned by the user."""
    parents, note = cgroups.find_parents()
    if set(parents) != {"memory", "pids"}:
        pytest.skip(f"no cgroup v1 memory and pids hierarchy to delegate from here ({note})")
    name = f"nmframe-sbtest-{os.getpid()}"
    made = []
    for parent in parents.values():
        path = os.path.join(parent, name)
        os.mkdir(path)
        made.append(path)
        for entry in [path, *(os.path.join(path, f) for f in os.listdir(path))]:
            os.chown(entry, user.pw_uid, user.pw_gid)
    yield name
    for path in made:
        for child in os.listdir(path):
            if os.path.isdir(os.path.join(path, child)):
                os.rmdir(os.path.join(path, child))
        os.rmdir(path)


def _run_hostile(user, top: str, cgroup: str = "") -> None:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": top, "LANG": "C.UTF-8",
           "NMFRAME_TEST_SANDBOX_CGROUP": cgroup}
    proc = _as_user(user.pw_uid, user.pw_gid,
                    [f"{top}/venv/bin/python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--noconftest",
                     "-o", "addopts=", "tests/sandbox/test_hostile.py"],
                    cwd=f"{top}/src", env=env, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert f"{len(CASES) + 1} passed" in out, out[-3000:]


def test_hostile_suite_as_an_ordinary_user(user, user_env):
    _run_hostile(user, user_env)


def test_hostile_suite_as_an_ordinary_user_with_a_delegated_cgroup(user, user_env, delegated_cgroup):
    _run_hostile(user, user_env, delegated_cgroup)
