"""The cluster profiles under launchers/slurm/profiles must stay valid SlurmOptions."""
from pathlib import Path

import pytest
import yaml

from nmframe.launch.slurm import SlurmOptions

PROFILES = sorted((Path(__file__).resolve().parents[2] / "launchers" / "slurm" / "profiles").glob("*.yaml"))


def test_profiles_exist():
    assert {p.stem for p in PROFILES} >= {"local", "example-gpu-cluster"}


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_profile_builds_options(path):
    options = SlurmOptions.from_dict(yaml.safe_load(path.read_text()))
    assert isinstance(options.setup, list) and isinstance(options.additional, dict)
    assert options.poll_interval_s > 0 and options.array_parallelism >= 1


def test_local_profile_is_cpu_only():
    options = SlurmOptions.from_dict(yaml.safe_load((PROFILES[0].parent / "local.yaml").read_text()))
    assert options.partition == "debug" and options.gpus_per_node == 0


def test_unknown_key_is_an_error():
    with pytest.raises(TypeError):
        SlurmOptions.from_dict({"partiton": "gpu"})
