"""Shared fixtures: one smoke run of the whole workflow per test session."""

from __future__ import annotations

import pytest
from workflow_utils import run_snakemake


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """Run the smoke config end to end once; tests read its results (and which packages each rule imported)."""
    workdir = tmp_path_factory.mktemp("smoke")
    imports = workdir / "imports"
    run_snakemake(workdir, "--cores", "2", env={"ICDENOISE_RECORD_IMPORTS": str(imports)})
    return workdir
