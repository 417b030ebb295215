"""Through the command line: a damaged artifact is recomputed with the reason (and only what
depends on it is rechecked); run directories never clash or escape; bad names, full or read-only
disks and over-long numbers are one line, never a traceback."""
import json
import os
import subprocess
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from nmframe.cli import main
from nmframe.engine.runs import RunDir, RunNotFound, find_run, list_runs

from tests.helpers import base_overrides, counter_lines

STEPS = "pipeline.steps=[ingest,counted]"


def _states(nm_env):
    rd = list_runs(nm_env / "outputs" / "runs")[-1]
    tasks = rd.tasks()
    return {tasks[k]["task"]["step"]: v["state"] for k, v in rd.states().items()}


def _artifact(nm_env, step):
    return next((nm_env / "outputs" / "artifacts" / step).glob("[0-9a-f]*"))


def test_truncated_data_file_is_recomputed_and_says_why(nm_env, capsys):
    over = base_overrides(nm_env, STEPS)
    assert main(["run", "-q", *over]) == 0
    problems = _artifact(nm_env, "ingest") / "problems.jsonl"
    full = problems.read_bytes()
    problems.write_bytes(full[: len(full) // 2])
    capsys.readouterr()
    assert main(["run", "-q", *over]) == 0
    out = capsys.readouterr().out
    assert f"recompute ingest: problems.jsonl has {len(full) // 2} bytes, the manifest says {len(full)}" in out
    assert problems.read_bytes() == full
    # counted was rechecked after ingest came back, and reused: ingest is deterministic
    assert _states(nm_env) == {"ingest": "done", "counted": "cached"}
    assert len(counter_lines(nm_env)) == 1


def test_deleted_file_of_downstream_recomputes_only_that_task(nm_env, capsys):
    over = base_overrides(nm_env, STEPS)
    assert main(["run", "-q", *over]) == 0
    (_artifact(nm_env, "counted") / "out.txt").unlink()
    capsys.readouterr()
    assert main(["run", "-q", *over]) == 0
    assert "recompute counted: out.txt is missing" in capsys.readouterr().out
    assert _states(nm_env) == {"ingest": "cached", "counted": "done"}
    assert len(counter_lines(nm_env)) == 2


def test_verify_finds_a_same_size_edit_and_run_verify_recomputes_it(nm_env, capsys):
    over = base_overrides(nm_env, STEPS)
    assert main(["run", "-q", *over]) == 0
    out_txt = _artifact(nm_env, "counted") / "out.txt"
    st = out_txt.stat()
    text = out_txt.read_text()
    out_txt.write_text(text.replace("problems", "PROBLEMS"))
    os.utime(out_txt, ns=(st.st_atime_ns, st.st_mtime_ns))
    capsys.readouterr()
    assert main(["verify", *over]) == 1
    captured = capsys.readouterr()
    assert "damaged counted/" in captured.err and "out.txt was modified" in captured.err
    assert "2 artifacts" in captured.out and "1 damaged" in captured.out
    assert main(["run", "-q", *over]) == 0 and len(counter_lines(nm_env)) == 1  # sizes alone cannot see it
    assert main(["run", "-q", "--verify", *over]) == 0
    assert out_txt.read_text() == text and len(counter_lines(nm_env)) == 2
    assert main(["verify", *over]) == 0


def _create(args):
    root, i = args
    return str(RunDir.create(Path(root), ["x=1"], label="same").path)


def test_concurrent_run_dirs_with_one_label_never_share(tmp_path):
    with ProcessPoolExecutor(8) as pool:
        paths = list(pool.map(_create, [(tmp_path, i) for i in range(8)]))
    assert len(set(paths)) == 8 and all(Path(p).parent == tmp_path for p in paths)


def test_slash_in_name_stays_inside_runs(tmp_path):
    rd = RunDir.create(tmp_path / "runs", [], label="paper/t4")
    assert rd.path.parent == tmp_path / "runs" and "-paper-t4-" in rd.path.name


@pytest.mark.parametrize("override, message", [
    ("name=x/../../../../elsewhere", "must be a relative name without '..'"),
    ("experiment=../../..", "must be a relative name without '..'"),
    ("name=${oc.env:HOME}", "interpolation is not allowed here"),
    ("name=" + "a" * 5000, "5000 characters is too long (at most 100)"),
    ("source.max_problems=" + "9" * 5000, "value has 5000 digits"),
    ("hydra.searchpath=[file:///etc]", "hydra settings are not overridable"),
    ("name=.", "must be a relative name without '..', '.' or empty parts"),
    ("model=/etc/passwd", "must be a relative name without '..', '.' or empty parts"),
])
def test_unsafe_names_and_long_numbers_are_one_line(nm_env, capsys, override, message):
    assert main(["plan", *base_overrides(nm_env), override]) == 2
    err = " ".join(capsys.readouterr().err.split())  # the console wraps long lines
    assert message in err and "Traceback" not in err
    assert not (nm_env / "outputs").exists() and not (nm_env.parent / "elsewhere").exists()


def _mount(target: Path, opts: str):
    target.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(target)], capture_output=True).returncode:
        pytest.skip("needs permission to mount a tmpfs")


@pytest.mark.parametrize("opts, reason", [("size=64k", "No space left on device"), ("ro", "Read-only file system")])
def test_full_or_read_only_outputs_are_one_line(nm_env, capsys, opts, reason):
    outputs = nm_env / "mnt"
    _mount(outputs, opts)
    try:
        if opts.startswith("size"):
            fd = os.open(outputs / "filler", os.O_WRONLY | os.O_CREAT)  # fill the disk
            try:
                while True:
                    os.write(fd, b"\0" * 4096)
            except OSError:
                pass
            finally:
                os.close(fd)
        over = base_overrides(nm_env, STEPS)
        over[1] = f"paths.outputs={outputs}"
        assert main(["run", "-q", *over]) == 1
        err = "".join(capsys.readouterr().err.split())  # the console wraps long lines anywhere
        assert f"cannotwriteorread{outputs}" in err and reason.replace(" ", "") in err and "Traceback" not in err
    finally:
        subprocess.run(["umount", str(outputs)], check=True)


def test_one_run_lookup_for_status_and_report(tmp_path):
    from nmframe.report.collect import find_run as report_find_run

    runs = tmp_path / "outputs" / "runs"
    made = []
    for name, started in (("quickstart", 1.0), ("other", 2.0), ("quickstart", 3.0)):
        rd = RunDir.create(runs, [f"experiment={name}"], label=name)
        rd.save_tasks({})
        rd.save_run_info({"name": name, "overrides": [[f"experiment={name}"]], "started": started})
        made.append(rd.path)
    assert find_run("quickstart", runs).path == made[2]  # the latest run of the experiment
    assert find_run(made[0].name, runs).path == made[0]
    assert find_run(str(made[1]), runs).path == made[1]
    assert report_find_run("quickstart", tmp_path / "outputs") == made[2]
    with pytest.raises(RunNotFound, match="no run or experiment named '../runs'"):
        find_run("../runs", runs)
    assert main(["status", "nothing-like-this", "--outputs", str(tmp_path / "outputs")]) == 2


def test_config_file_that_is_not_yaml_names_file_and_line(nm_env, capsys):
    (nm_env / "mine" / "experiment").mkdir(parents=True)
    (nm_env / "mine" / "experiment" / "bad.yaml").write_text("name: x\ntrainer: {lr: [1,\n")
    assert main(["plan", "--config-dir", str(nm_env / "mine"), *base_overrides(nm_env)[1:], "experiment=bad"]) == 2
    err = "".join(capsys.readouterr().err.split())  # the console wraps long lines anywhere
    assert f"{nm_env / 'mine' / 'experiment' / 'bad.yaml'}:3:notvalidYAML" in err and "Traceback" not in err
