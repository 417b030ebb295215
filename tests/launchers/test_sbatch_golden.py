"""Golden tests for the sbatch scripts a dry run prints for the Slurm launcher.

The scripts are what users read before spending cluster hours, so any change to them must be
deliberate: `NMFRAME_UPDATE_GOLDEN=1 pytest tests/launchers/test_sbatch_golden.py` rewrites them and
fails, then review the diff and rerun without the flag. No Slurm needed.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nmframe.engine.resources import Resources
from nmframe.engine.task import Task
from nmframe.engine.execution import PlannedTask
from nmframe.launch.slurm import SlurmOptions, render_sbatch
from tests.helpers import REPO, check_golden

GOLDEN = Path(__file__).parent / "golden"
RUN_DIR = Path("/runs/demo")


def _worker(run_dir: Path, key: str) -> list[str]:
    # a fixed interpreter path: golden files must not depend on the machine that renders them
    return ["/opt/venv/bin/python", "-m", "nmframe.engine.task_runner", "--run-dir", str(run_dir), "--task", key]


def _planned(step, key, params, resources, deps=(), run_dir=RUN_DIR):
    task = Task(step=step, version="1", key=key, params=params, resources=resources,
                inputs={f"in{i}": d for i, d in enumerate(deps)})
    return PlannedTask(task=task, command=_worker(run_dir, key), deps=list(deps),
                       log_path=run_dir / "logs" / f"{task.slug}.log")


CASES = {
    # a CPU-only step with default options: no GPU line at all, so GRES-less nodes accept it
    "cpu_step": (
        _planned("prepare_data", "0123456789abcdef", {"split": "train"}, Resources(cpus=4, time_min=30)),
        SlurmOptions(),
        RUN_DIR,
    ),
    # multi-node GPU training with setup lines, account/partition/qos and an extra sbatch option;
    # the run dir has a space to show that paths are shell-quoted
    "multinode_gpu_train": (
        _planned("train", "fedcba9876543210", {"lr": "3e-5", "ctx": 65536},
                 Resources(cpus=32, gpus=8, nodes=4, time_min=240, mem_gb=512),
                 run_dir=Path("/scratch/nm runs/demo")),
        SlurmOptions(partition="gpu", account="proj-math", qos="high", constraint="h100",
                     setup=["module load cuda/12.4", "source /opt/venv/bin/activate",
                            "export NCCL_DEBUG=WARN"],
                     additional={"mail-type": "FAIL"}),
        Path("/scratch/nm runs/demo"),
    ),
    # a task after two upstream tasks, with option overrides for cpus/time/mem
    "with_dependency": (
        _planned("evaluate", "00ff00ff00ff00ff", {"bench": "aime25", "seed": 0},
                 Resources(cpus=8, gpus=1, time_min=60),
                 deps=("aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb")),
        SlurmOptions(partition="batch", cpus_per_task=2, time_min=90, mem_gb=16, gpus_per_node=0),
        RUN_DIR,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_sbatch_matches_golden(name):
    planned, options, run_dir = CASES[name]
    check_golden(GOLDEN / f"{name}.sbatch", render_sbatch(planned, options, run_dir))


# renders every case in a fresh interpreter: set and dict orders, object ids and hash seeds differ
# between processes, never within one
_RENDER_ALL = """
import json
from nmframe.launch.slurm import render_sbatch
from tests.launchers.test_sbatch_golden import CASES
print(json.dumps({name: render_sbatch(*case) for name, case in sorted(CASES.items())}))
"""


def _render_in_process(hash_seed: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed,
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", _RENDER_ALL], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.splitlines()[-1])


def test_render_is_deterministic_across_processes():
    first, second = _render_in_process("1"), _render_in_process("2")
    assert sorted(first) == sorted(CASES)
    for name in sorted(CASES):
        assert first[name] == second[name], f"{name}: two interpreters (PYTHONHASHSEED 1, 2) render differently"
        assert first[name] == render_sbatch(*CASES[name]), f"{name}: a fresh interpreter renders differently"


def test_render_key_lines():
    """The values the launcher derives, independent of the golden files' exact layout."""
    planned, options, run_dir = CASES["multinode_gpu_train"]
    lines = render_sbatch(planned, options, run_dir).splitlines()
    for expected in ["#SBATCH --job-name=train-lr3e-5-ctx65536-fedcba98", "#SBATCH --nodes=4",
                     "#SBATCH --gpus-per-node=8", "#SBATCH --cpus-per-task=32", "#SBATCH --time=240",
                     "#SBATCH --mem=512GB", "#SBATCH --partition=gpu", "#SBATCH --account=proj-math",
                     "#SBATCH --ntasks-per-node=1", "#SBATCH --mail-type=FAIL",
                     "module load cuda/12.4"]:
        assert expected in lines, expected
    assert lines.index("module load cuda/12.4") < lines.index("export NCCL_DEBUG=WARN")
    assert "'/scratch/nm runs/demo'" in lines[-1]  # the quoted run dir in the command line
    assert "--task fedcba9876543210" in lines[-1]

    dep = render_sbatch(*CASES["with_dependency"]).splitlines()
    assert "#SBATCH --dependency=afterok:JOB_aaaaaaaaaaaaaaaa:JOB_bbbbbbbbbbbbbbbb" in dep
    assert "#SBATCH --kill-on-invalid-dep=yes" in dep
    assert "#SBATCH --cpus-per-task=2" in dep and "#SBATCH --time=90" in dep and "#SBATCH --mem=16GB" in dep
    assert not any(line.startswith("#SBATCH --gpus-per-node") for line in dep)  # override 0 drops the GPU

    cpu = render_sbatch(*CASES["cpu_step"]).splitlines()
    assert not any("gpus" in line or "dependency" in line or "partition" in line for line in cpu)
