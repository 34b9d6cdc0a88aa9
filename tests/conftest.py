"""Shared fixtures: one smoke run of the whole workflow per test session."""

from __future__ import annotations

import pytest

from workflow_utils import run_snakemake


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tiny tensors on a 2-core machine: one intra-op torch thread is ~5x faster than oversubscribing."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """Run the smoke config end to end once; tests read its results (and which packages each rule imported)."""
    workdir = tmp_path_factory.mktemp("smoke")
    imports = workdir / "imports"
    run_snakemake(workdir, "--cores", "2", env={"ICDENOISE_RECORD_IMPORTS": str(imports)})
    return workdir
