"""Hydra's command-line habits (--cfg, --info, -sc, hydra.verbose, +key), anchored outputs, --help."""
import logging
import os
import re
import subprocess
import sys

import pytest
import yaml

from nmframe.cli import build_parser, main
from nmframe.cli_help import _first_comment, group_defaults
from nmframe.config import OverrideError, compose, conf_dir, group_choices
from tests.helpers import REPO

QUICK = ["experiment=quickstart"]


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    out = tmp_path / "outputs"
    monkeypatch.setenv("NMFRAME_OUTPUTS", str(out))
    return out


# ------------------------------------------------------------------------------------------ --cfg
def test_cfg_job_with_package_prints_that_section_and_runs_nothing(outputs, capsys):
    assert main(["run", *QUICK, "--cfg", "job", "-p", "trainer"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "# @package trainer"
    section = yaml.safe_load(out)
    assert section["name"] == "torch_cpu" and section["lr"] == 2e-4
    assert not outputs.exists()  # nothing ran, nothing was written


def test_cfg_hydra_and_all_and_short_flag(outputs, capsys):
    assert main(["plan", "-c", "hydra"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert list(shown) == ["hydra"] and "runtime" in shown["hydra"]
    assert main(["plan", "--cfg", "all", "trainer.lr=1e-3"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert "hydra" in shown and shown["trainer"]["lr"] == 1e-3


def test_cfg_unknown_package_exits_1_as_hydra(outputs, capsys):
    assert main(["plan", "--cfg", "job", "--package", "nosuch"]) == 1
    assert "package 'nosuch' not found in config" in capsys.readouterr().err


def test_cfg_resolve_shows_the_anchored_outputs(outputs, capsys):
    assert main(["plan", "--cfg", "job", "-p", "paths"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["outputs"] == "${nmframe_outputs:}"
    assert main(["plan", "--cfg", "job", "-p", "paths", "--resolve"]) == 0
    paths = yaml.safe_load(capsys.readouterr().out)
    assert paths["outputs"] == str(outputs) and paths["artifacts"] == f"{outputs}/artifacts"


def test_cfg_with_multirun_prints_every_point(outputs, capsys):
    assert main(["plan", "-m", "trainer.lr=1e-4,3e-4", "--cfg", "job", "-p", "trainer.lr"]) == 0
    out = capsys.readouterr().out
    assert "# point 1/2: trainer.lr=0.0001" in out and "# point 2/2: trainer.lr=0.0003" in out
    assert re.findall(r"^0\.000[13]$", out, re.M) == ["0.0001", "0.0003"]


def test_cfg_refuses_an_invalid_override_with_one_line(outputs, capsys):
    assert main(["plan", "--cfg", "job", "trainer.lrr=1"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'trainer.lr'?" in err and "Traceback" not in err


# ------------------------------------------------------------------------------------------ --info
def test_info_prints_search_path_and_defaults_tree(outputs, tmp_path, capsys):
    mine = tmp_path / "my_conf"
    (mine / "experiment").mkdir(parents=True)
    assert main(["plan", *QUICK, "--info", "searchpath", "--config-dir", str(mine)]) == 0
    out = capsys.readouterr().out
    assert "Config search path" in out and f"file://{conf_dir()}" in out and f"file://{mine}" in out
    assert main(["plan", *QUICK, "-i", "defaults-tree"]) == 0
    out = capsys.readouterr().out
    assert "Defaults Tree" in out and "experiment: quickstart" in out and "mode: high_low" in out
    assert logging.getLogger().level == logging.WARNING  # Hydra's DEBUG root logger did not stay behind


# ------------------------------------------------------------------------------- shell completion
def test_shell_completion_script_is_valid_bash_and_completes(outputs, tmp_path, capsys):
    assert main(["--shell-completion", "install=bash"]) == 0
    script = tmp_path / "nmframe-completion.bash"
    script.write_text(capsys.readouterr().out)
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    exe = tmp_path / "bin" / "nmframe"  # the script calls back `nmframe -sc query=bash`, as Hydra's does
    exe.parent.mkdir()
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m nmframe.cli "$@"\n')
    exe.chmod(0o755)
    env = {**os.environ, "PATH": f"{exe.parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}

    def complete(*words: str) -> list[str]:
        line = " ".join(words)
        prog = (f'source "{script}"; COMP_LINE="{line}"; COMP_POINT=${{#COMP_LINE}}; '
                f'COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; '
                '_nmframe_completion; printf "%s\\n" "${COMPREPLY[@]}"')
        done = subprocess.run(["bash", "-c", prog], env=env, capture_output=True, text=True, timeout=120)
        return done.stdout.split()

    assert complete("nmframe", "run", "experiment=q") == ["experiment=quickstart", "experiment=quickstart_parallel"]
    assert "experiment=paper/table3" in complete("nmframe", "plan", "experiment=paper/t")
    assert complete("nmframe", "pl") == ["plan"]
    assert complete("nmframe", "plan", "--cf") == ["--cfg"]


def test_shell_completion_query_completes_keys_and_groups(monkeypatch, capsys):
    monkeypatch.setenv("COMP_LINE", "nmframe run -m mode=high,low trainer.l")
    assert main(["-sc", "query=bash"]) == 0
    assert capsys.readouterr().out.split() == ["trainer.lr=", "trainer.lr_decay_steps=", "trainer.lr_schedule="]
    monkeypatch.setenv("COMP_LINE", "nmframe plan laun")
    assert main(["-sc", "query=bash"]) == 0
    assert set(capsys.readouterr().out.split()) == {"launcher.", "launcher="}


def test_shell_completion_refuses_other_shells_and_no_command(capsys):
    assert main(["-sc", "install=fish"]) == 1
    assert "no completion for shell 'fish'" in capsys.readouterr().err
    assert main(["--shell-completion"]) == 1
    assert "install=bash" in capsys.readouterr().err


# ---------------------------------------------------------------------------------- hydra.verbose
@pytest.fixture
def restore_log_levels(monkeypatch):
    monkeypatch.delenv("NMFRAME_VERBOSE", raising=False)  # put back (unset) after the test
    names = ["nmframe", "nmframe.engine"]
    levels = {n: logging.getLogger(n).level for n in names}
    yield
    for n, level in levels.items():
        logging.getLogger(n).setLevel(level)


def _debug_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG and r.name.startswith("nmframe")]


def test_hydra_verbose_true_turns_on_nmframe_debug_logs(outputs, caplog, restore_log_levels):
    assert main(["plan", *QUICK]) == 0
    assert _debug_lines(caplog) == []  # without it: no DEBUG lines
    assert main(["plan", *QUICK, "hydra.verbose=true"]) == 0
    assert any(line.startswith("composed experiment=quickstart: outputs in ") for line in _debug_lines(caplog))
    assert logging.getLogger("nmframe.engine").isEnabledFor(logging.DEBUG)


@pytest.mark.slow
def test_hydra_verbose_reaches_the_task_processes(outputs, monkeypatch, restore_log_levels):
    monkeypatch.setenv("PYTHONPATH", f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")  # the task process
    assert main(["run", "-q", *QUICK, "pipeline.steps=[ingest]", "tracking.wandb_mode=disabled",
                 "hydra.verbose=true"]) == 0
    logs = "".join(p.read_text() for p in (outputs / "runs").rglob("logs/*.log"))
    assert "DEBUG nmframe.task_runner: ingest (key " in logs


def test_hydra_verbose_names_a_logger(outputs, capsys, restore_log_levels):
    assert main(["plan", *QUICK, "hydra.verbose=nmframe.engine", "--cfg", "job", "-p", "name"]) == 0
    assert capsys.readouterr().out.strip() == "quickstart"
    assert logging.getLogger("nmframe.engine").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("nmframe.config").isEnabledFor(logging.DEBUG)


def test_hydra_launcher_points_to_nmframe_launchers(capsys):
    assert main(["run", "hydra/launcher=submitit_slurm"]) == 2
    err = capsys.readouterr().err
    assert "use the launcher group (launcher=dryrun|local|slurm|slurm_local)" in err


# ----------------------------------------------------------------------------------- +key / ++key
@pytest.mark.parametrize("override, expected", [
    ("+trainer.lrr=1e-4", "unknown key 'trainer.lrr'; allowed keys in trainer: name, backend, lr,"),
    ("+trainer.lrr=1e-4", "(did you mean 'trainer.lr'?)"),
    ("++trainer.lrr=1e-4", "(did you mean 'trainer.lr'?)"),
    ("+new_key=1", "unknown key 'new_key'; allowed keys: name, description, pipeline,"),
    ("+parallelism.stages.ctx16k.tpp=2", "(did you mean 'parallelism.stages.ctx16k.tp'?)"),
    ("++trainer.lr=abc", "trainer.lr: Value 'abc' of type 'str' could not be converted to Float"),
])
def test_adding_a_key_into_a_typed_section_is_refused(override, expected):
    with pytest.raises(OverrideError) as e:
        compose([override], check=False)
    assert expected in str(e.value)


def test_add_and_force_add_where_the_schema_has_room():
    cfg = compose(["+launcher.slurm.additional.reservation=r1", "++trainer.lr=5e-5"], check=False)
    assert cfg.launcher.slurm.additional == {"reservation": "r1"} and cfg.trainer.lr == 5e-5


def test_cli_refuses_plus_key_like_a_misspelt_key(capsys):
    assert main(["plan", "+trainer.lrr=1e-4"]) == 2
    assert "invalid config: unknown key 'trainer.lrr'" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------- outputs
def test_outputs_default_is_the_source_tree_not_the_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv("NMFRAME_OUTPUTS", raising=False)
    monkeypatch.chdir(tmp_path)
    assert compose([], check=False).paths.outputs == str(conf_dir().parent / "outputs")


def test_outputs_default_is_the_nearest_marked_project(tmp_path, monkeypatch):
    monkeypatch.delenv("NMFRAME_OUTPUTS", raising=False)
    (tmp_path / ".nmframe").write_text("")
    (tmp_path / "sub" / "dir").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "sub" / "dir")
    cfg = compose([], check=False)
    assert cfg.paths.outputs == str(tmp_path / "outputs") and cfg.paths.runs == str(tmp_path / "outputs" / "runs")


def test_plan_from_another_directory_prints_its_outputs(tmp_path):
    env = {**os.environ, "NMFRAME_OUTPUTS": str(tmp_path / "store"),
           "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run([sys.executable, "-m", "nmframe.cli", "plan", *QUICK], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"outputs: {tmp_path / 'store'} (from $NMFRAME_OUTPUTS)"
    assert not (tmp_path / "outputs").exists()


# ------------------------------------------------------------------------------------------- help
def _flat(text: str) -> str:
    return " ".join(text.split())


def test_help_wraps_descriptions_and_marks_defaults():
    text = build_parser().format_help()
    flat = _flat(text)
    defaults = group_defaults()
    for group, choices in group_choices().items():
        for c in choices:
            desc = _first_comment(conf_dir() / group / f"{c}.yaml")
            assert _flat(desc) in flat, f"{group}/{c}: description cut in --help"
        if defaults.get(group) in choices:
            assert f"{group}:  (default: {defaults[group]})" in text
            assert re.search(rf"^    {re.escape(defaults[group])}\* ", text, re.M)
    assert "examples:" in text and "--cfg job" in text and "nmframe run -m " in text and "nmframe report" in text


@pytest.mark.parametrize("verb", ["run", "plan", "status", "steps", "verify", "report"])
def test_every_subcommand_help_names_its_options_whole(verb, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as e:
        main([verb, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: nmframe {verb}")
    assert not re.search(r"\w-$", out, re.M), "a word split at a hyphen"
    if verb == "status":
        assert "how many recent runs to list (default: 15)" in _flat(out)
