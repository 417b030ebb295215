"""A damaged artifact is noticed (sizes, changed mtimes re-hashed, every hash on verify), and no
kill at any point of a commit leaves a key without a complete artifact."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from nmframe.engine import artifacts
from nmframe.engine.artifacts import MANIFEST, ArtifactStore
from nmframe.engine.integrity import file_digest, files_digest


def _commit(store, key, text, step="s"):
    temp = store.new_temp(step, key)
    (temp / "data.jsonl").write_text(text)
    (temp / "sub").mkdir()
    (temp / "sub" / "extra.txt").write_text("x\n")
    return store.commit(step, key, temp, {"note": text})


def test_manifest_lists_size_and_sha256_of_every_file(tmp_path):
    store = ArtifactStore(tmp_path)
    final = _commit(store, "k1", '{"a": 1}\n')
    files = json.loads((final / MANIFEST).read_text())["files"]
    assert sorted(files) == ["data.jsonl", "sub/extra.txt"]
    assert files["data.jsonl"]["size"] == 9
    assert files["data.jsonl"]["sha256"] == file_digest(final / "data.jsonl")
    assert store.check("s", "k1").ok and store.check("s", "k1", deep=True).ok


@pytest.mark.parametrize("damage, reason", [
    (lambda d: (d / "data.jsonl").write_text('{"a": 1'), "data.jsonl has 7 bytes, the manifest says 9"),
    (lambda d: (d / "data.jsonl").write_text('{"a": 2}\n'), "data.jsonl was modified"),
    (lambda d: (d / "sub" / "extra.txt").unlink(), "sub/extra.txt is missing"),
    (lambda d: (d / MANIFEST).write_text("{garbage"), "manifest.json is not valid JSON"),
    (lambda d: (d / MANIFEST).unlink(), "manifest.json is missing"),
])
def test_damaged_artifact_is_not_done_and_says_why(tmp_path, damage, reason):
    store = ArtifactStore(tmp_path)
    final = _commit(store, "k1", '{"a": 1}\n')
    damage(final)
    verdict = store.check("s", "k1")
    assert verdict.state == "damaged" and reason in verdict.reason
    assert not store.is_done("s", "k1")


def test_forged_manifest_of_another_key_is_damage(tmp_path):
    store = ArtifactStore(tmp_path)
    a, b = _commit(store, "k1", "one\n"), _commit(store, "k2", "two\n")
    (a / MANIFEST).write_text((b / MANIFEST).read_text())
    assert "describes s/k2, not s/k1" in store.check("s", "k1").reason


def test_touched_file_is_rehashed_and_still_ok(tmp_path):
    store = ArtifactStore(tmp_path)
    final = _commit(store, "k1", "one\n")
    os.utime(final / "data.jsonl", ns=(1, 1))
    assert store.check("s", "k1").ok


def test_same_size_edit_with_restored_mtime_needs_verify(tmp_path):
    store = ArtifactStore(tmp_path)
    final = _commit(store, "k1", "one\n")
    st = (final / "data.jsonl").stat()
    (final / "data.jsonl").write_text("two\n")
    os.utime(final / "data.jsonl", ns=(st.st_atime_ns, st.st_mtime_ns))
    assert store.check("s", "k1").ok  # sizes and mtimes cannot see it
    assert "data.jsonl was modified" in store.check("s", "k1", deep=True).reason


def test_artifact_is_stale_when_its_input_changed(tmp_path):
    store = ArtifactStore(tmp_path)
    up = _commit(store, "u1", "one\n", step="up")
    temp = store.new_temp("down", "d1")
    (temp / "out.txt").write_text("from one\n")
    store.commit("down", "d1", temp, {"inputs": {"x": {"key": "u1", "digest": store.content_digest("up", "u1")}}})
    assert store.reusable("down", "d1", {"x": ("up", "u1")}).ok
    # a recomputed input that comes out identical (only its log differs) keeps the artifact
    before = store.content_digest("up", "u1")
    files = json.loads((up / MANIFEST).read_text())["files"]
    assert files_digest({**files, "step.log": {"sha256": "other"}}) == before
    temp = store.new_temp("up", "u1")
    (temp / "data.jsonl").write_text("two\n")
    (temp / "sub").mkdir()
    (temp / "sub" / "extra.txt").write_text("x\n")
    store.commit("up", "u1", temp, {})
    verdict = store.reusable("down", "d1", {"x": ("up", "u1")})
    assert verdict.state == "stale" and "input 'x' (up/u1) changed" in verdict.reason


_KILLER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from nmframe.engine import artifacts
    root, point, no_exchange = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    if no_exchange:  # a filesystem that refuses RENAME_EXCHANGE
        def refuse(a, b):
            raise OSError(22, "Invalid argument")
        artifacts._renameat2_exchange = refuse
    def hook(name):
        if name == point:
            os.kill(os.getpid(), signal.SIGKILL)
    artifacts.commit_hook = hook
    store = artifacts.ArtifactStore(root)
    temp = store.new_temp("s", "k1")
    (temp / "data.jsonl").write_text("new\\n")
    store.commit("s", "k1", temp, {})
    print("finished")
""")

_POINTS = {False: ["written", "exchanged", "removed-old", "none"],
           True: ["written", "set-aside-old", "renamed", "removed-old", "none"]}


@pytest.mark.parametrize("no_exchange,point", [(m, p) for m, ps in _POINTS.items() for p in ps])
def test_kill_at_each_point_of_a_forced_commit_keeps_an_artifact(tmp_path, no_exchange, point):
    store = ArtifactStore(tmp_path)
    temp = store.new_temp("s", "k1")
    (temp / "data.jsonl").write_text("old\n")
    store.commit("s", "k1", temp, {})
    proc = subprocess.run([sys.executable, "-c", _KILLER, str(tmp_path), point, "1" if no_exchange else "0"],
                          capture_output=True, text=True, timeout=120)
    killed = point != "none"
    assert proc.returncode == (-9 if killed else 0), proc.stderr
    step_dir = tmp_path / "s"
    leftovers = sorted(p.name.split("-")[0] for p in step_dir.iterdir() if p.name.startswith(".") and p.name != ".locks")
    if not (no_exchange and point == "set-aside-old"):
        # the key holds a complete artifact at every instant of the exchange commit
        assert store.check("s", "k1", deep=True).ok
    else:
        assert not (step_dir / "k1").exists() and leftovers == [".old", ".tmp"]
    with store.lease("s", "k1"):  # the next holder of the key's lease restores or clears
        pass
    assert store.check("s", "k1", deep=True).ok
    assert (step_dir / "k1" / "data.jsonl").read_text() in ("old\n", "new\n")
    if point in ("removed-old", "none", "exchanged", "renamed"):
        assert (step_dir / "k1" / "data.jsonl").read_text() == "new\n"
    assert [p.name for p in step_dir.iterdir() if p.name != "k1"] == [".locks"]
