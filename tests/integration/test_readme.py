"""Every command in README.md's ```bash blocks is run by a test.

Cheap commands (plans, listings, help, status, verify, dry runs) run here, in a fresh folder, with
their output checked: :data:`CHEAP` maps each to (exit status, text its output must hold).
Expensive ones (full runs, Slurm, vLLM, a GPU, data that is not shipped) are in :data:`RUN_ELSEWHERE`,
each mapped to the test that runs it (gated by its marker: slow, slurm, vllm, gpu) and what that test
changes (outputs folder, fixture data in place of /data). A README command in neither fails
:func:`test_every_readme_command_is_run_by_a_test`, so a new command comes with its test.

To add a README command: put it under CHEAP with (rc, [expected output]) if it takes seconds on a
CPU; else under RUN_ELSEWHERE with "tests/<file>.py::<test>" and what the test does differently.
Commands are compared as the README writes them (comments and line continuations removed,
spaces collapsed); `README_COMMANDS` lists them as extracted.
"""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

README = REPO / "README.md"
PREFIXES = ("nmframe ", "python bench/", "bash bench/", "bash launchers/", "sudo bash launchers/")

# command -> (exit status, strings its stdout+stderr must contain)
CHEAP: dict[str, tuple[int, list[str]]] = {
    "nmframe status": (0, ["no runs yet: try `nmframe run experiment=quickstart`"]),
    "nmframe plan experiment=quickstart trainer.lr=1e-4": (0, ["plan: quickstart (1 point)", "train_stage",
                                                                "24 tasks: 24 to run, 0 cached"]),
    "nmframe steps": (0, ["registered steps", "ingest", "train_stage", "evaluate"]),
    "nmframe verify experiment=quickstart": (0, ["0 artifacts in", "0 intact, 0 damaged"]),
    "nmframe --help": (0, ["config groups (pick one with group=choice):", "paper/lr_sweep"]),
    "nmframe plan -m experiment=quickstart trainer.lr=1e-5,5e-5,1e-4,2e-4,5e-4": (
        0, ["plan: quickstart (5 points)", "60 tasks: 60 to run"]),
    "nmframe plan -m experiment=quickstart mode=high,all buckets=quickstart,tiny": (
        0, ["plan: quickstart (4 points)", "68 tasks: 68 to run"]),
    "nmframe plan -m experiment=quickstart pipeline.steps=[ingest] trainer.lr=1e-5,5e-4": (
        2, ["invalid sweep: trainer.lr is read by no step of pipeline.steps=[ingest]; steps that read it: "
            "train_stage"]),
    "nmframe plan experiment=quickstart launcher=slurm": (0, ["launcher: slurm", "train_stage"]),
    "nmframe plan experiment=quickstart --cfg job -p trainer": (0, ["# @package trainer\nname: torch_cpu\n"]),
    "nmframe plan experiment=quickstart --info defaults-tree": (0, ["Defaults Tree", "experiment: quickstart"]),
    "nmframe plan experiment=quickstart hydra.verbose=true": (0, ["/outputs (from $NMFRAME_OUTPUTS)",
                                                                  "plan: quickstart (1 point)"]),
    "nmframe run experiment=quickstart launcher=dryrun launcher.dryrun_target=slurm": (
        0, ["#!/bin/bash", "#SBATCH", "dry run: 24 tasks printed, nothing executed"]),
}

# command -> "tests/<file>.py::<test>: what that test runs in its place"
RUN_ELSEWHERE: dict[str, str] = {
    "nmframe run -m experiment=quickstart source=aops,aops_se teacher=tiny":
        "tests/integration/test_quickstart_aops_vs_se_e2e.py::"
        "test_quickstart_sweep_aops_vs_aops_se_runs_and_reports_the_paired_comparison: the same, then its report (slow)",
    "nmframe plan experiment=paper/table3 launcher=dryrun":
        "tests/unit/test_paper_llm_steps.py::test_readme_commands_for_the_llm_steps: plans it, LLM steps on GPUs",
    "nmframe plan experiment=paper/table3 launcher=dryrun filters.classify_method=heuristic "
    "filters.decontam_method=ngram answers.judge=null":
        "tests/unit/test_paper_llm_steps.py::test_readme_commands_for_the_llm_steps: plans it, heuristics on CPUs",
    "nmframe calibrate outputs/runs/<run> --out my_cluster.yaml":
        "tests/unit/test_costmodel.py::test_readme_cost_model_commands_run: calibrates a run directory with step times",
    "nmframe plan experiment=paper/full_recipe costmodel.profile=my_cluster.yaml":
        "tests/unit/test_costmodel.py::test_readme_cost_model_commands_run: plans with the profile it wrote",
    "nmframe run experiment=quickstart":
        "tests/integration/test_quickstart_e2e.py::test_quickstart_runs_end_to_end_and_reports: the same, "
        "outputs in a temporary folder (slow)",
    "nmframe report quickstart":
        "tests/integration/test_quickstart_e2e.py::test_quickstart_runs_end_to_end_and_reports: after the run "
        "(slow)",
    "nmframe status <run-name>":
        "tests/engine/test_run_cache.py::test_status_lists_runs_and_tasks: `nmframe status <run dir>` after a run",
    "nmframe run experiment=quickstart teacher=tiny_vllm":
        "tests/integration/test_vllm_quickstart.py::test_generate_and_evaluate_through_vllm: the quickstart's "
        "generate and evaluate with teacher=tiny_vllm (vllm, slow)",
    "nmframe run experiment=quickstart teacher=tiny_vllm teacher.backend=openai":
        "tests/unit/test_generation_server.py::test_serve_command_runs_the_server_module_and_serves_a_builtin_under_its_name: "
        "the server the task starts (vllm)",
    "nmframe run experiment=quickstart pipeline.steps=[evaluate] evaluate.model=builtin:tiny-gpt-oss "
    "evaluate.backend=vllm evaluate.prompt_format=harmony teacher=tiny_vllm":
        "tests/integration/test_vllm_quickstart.py::test_generate_and_evaluate_through_vllm: evaluation "
        "sampled by vLLM (vllm, slow)",
    "nmframe run source=stackexchange_raw paths.data=/data/se-dumps \"pipeline.steps=[extract_problems,"
    "extract_answers,classify,decontaminate,generate,validate_answers,filter_trivial,filter_correct]\" "
    "filters.classify_method=rules_llm filters.decontam_method=rules_llm":
        "tests/integration/test_curation_steps.py::test_stackexchange_dump_to_problems: a fixture Posts.xml "
        "dump through extract_problems ... decontaminate with the rules_llm methods",
    "nmframe run \"pipeline.steps=[stream_released]\" stream.files=[/data/nemotron-math-v2] buckets=paper "
    "model=qwen3_30b_a3b trainer=megatron":
        "tests/unit/test_stream_step.py::test_stream_released_step: stream_released on fixture Parquet rows",
    "nmframe plan -m experiment=paper/table4_aops_vs_se source=aops,aops_se launcher=slurm paths.data=/data":
        "tests/configs/test_experiments.py::test_experiment_file_header_composes_validates_and_plans: each "
        "paper experiment planned without its data",
    "nmframe run -m experiment=paper/table4_aops_vs_se source=aops,aops_se launcher=slurm paths.data=/data":
        "tests/launchers/test_slurm_cli.py::test_multirun_sweep_on_slurm_shares_upstream: a sweep on the local "
        "Slurm cluster (slurm); the table's data and GPUs are not in any test",
    "nmframe report paper/table4_aops_vs_se":
        "tests/unit/test_report.py::test_markdown_matches_golden: the table4 report of hand-built results (golden Markdown)",
    "nmframe run experiment=quickstart launcher=slurm launcher.slurm.partition=batch launcher.slurm.account=myproj "
    "'launcher.slurm.setup=[module load cuda, source /path/to/.venv/bin/activate]'":
        "tests/launchers/test_slurm_cli.py::test_two_step_dag_runs_as_dependent_slurm_jobs: launcher=slurm on "
        "the local cluster's partition (slurm)",
    "sudo bash launchers/slurm/local-cluster.sh start":
        "tests/launchers/test_slurm_cluster.py::test_two_step_dependency: runs on the cluster this script starts "
        "(bash .ci/run starts it; slurm)",
    "nmframe run experiment=quickstart_parallel launcher=slurm_local":
        "tests/launchers/test_slurm_multinode.py::test_train_stage_runs_torchrun_on_both_nodes: its train_stage "
        "on both nodes (slurm, slow)",
    "bash bench/gpu_proof.sh":
        "tests/gpu/test_megatron_te.py::test_te_stages_through_checkpoints: its Transformer Engine part "
        "(gpu); the whole script runs on a GPU machine only",
    "bash bench/gpu_proof.sh --dry-run":
        "tests/integration/test_gpu_proof_dry_run.py::test_gpu_proof_dry_run: the same (slow)",
}


def _strip_comment(line: str) -> str:
    """The line without a trailing `# comment` (a # outside quotes, after a space)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def readme_commands(text: str) -> list[str]:
    """The commands of the ```bash blocks that start with one of PREFIXES (also after `&&`)."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        logical, pending = [], ""
        for raw in block.splitlines():
            line = _strip_comment(raw).rstrip()
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            logical.append(pending + line)
            pending = ""
        for line in logical:
            for part in line.split("&&"):
                cmd = " ".join(part.split())
                if cmd.startswith(PREFIXES) and cmd not in out:
                    out.append(cmd)
    return out


README_COMMANDS = readme_commands(README.read_text())


def test_the_extractor_reads_continuations_comments_and_chains():
    text = ("```bash\npip install x && nmframe run a=1   # comment\nnmframe plan \\\n    b='x # y' c=2\n"
            "bash bench/s.sh --dry-run\nls\n```\n```\nnmframe not-bash\n```\n")
    assert readme_commands(text) == ["nmframe run a=1", "nmframe plan b='x # y' c=2", "bash bench/s.sh --dry-run"]


def test_every_readme_command_is_run_by_a_test():
    assert len(README_COMMANDS) >= 20
    missing = [c for c in README_COMMANDS if c not in CHEAP and c not in RUN_ELSEWHERE]
    assert not missing, ("README commands that no test runs; add each to CHEAP or RUN_ELSEWHERE in "
                         f"{Path(__file__).name}: {missing}")


def test_no_mapping_outlives_its_readme_command():
    stale = [c for c in (*CHEAP, *RUN_ELSEWHERE) if c not in README_COMMANDS]
    assert not stale, f"no longer in README.md: {stale}"


@pytest.mark.parametrize("command", sorted(RUN_ELSEWHERE))
def test_each_expensive_command_names_a_test_that_exists(command):
    node = RUN_ELSEWHERE[command].split(": ", 1)[0]
    path, _, name = node.partition("::")
    assert name and (REPO / path).is_file(), RUN_ELSEWHERE[command]
    assert re.search(rf"^def {re.escape(name)}\(", (REPO / path).read_text(), flags=re.M), node


@pytest.mark.parametrize("command", sorted(CHEAP))
def test_cheap_readme_command_runs_with_its_output(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NMFRAME_WORKDIR", raising=False)
    monkeypatch.setenv("NMFRAME_OUTPUTS", str(tmp_path / "outputs"))  # a fresh store, not the checkout's
    want_rc, expected = CHEAP[command]
    args = shlex.split(command)
    if args[0] == "nmframe":
        from nmframe.cli import main

        monkeypatch.setenv("COLUMNS", "250")  # table rows on one line each
        try:
            rc = main(args[1:])
        except SystemExit as exc:  # --help
            rc = exc.code
        captured = capsys.readouterr()
        output = captured.out + captured.err
    else:
        proc = subprocess.run([a if a != "python" else sys.executable for a in args], cwd=REPO,
                              capture_output=True, text=True, timeout=300)
        rc, output = proc.returncode, proc.stdout + proc.stderr
    assert rc == want_rc, output[-2000:]
    for text in expected:
        assert text in output, (text, output[-2000:])
