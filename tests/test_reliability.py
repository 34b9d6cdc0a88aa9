"""Reliability: diverging training, corrupt inputs, CPU fallback, device checks, stale locks, atomic outputs.

The workflow-level tests each run one or two jobs of the smoke config in a fresh directory
(a few seconds each); the rest call the library directly.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from icdenoise import io
from icdenoise.jobs import job_logging
from icdenoise.resume import LOCK_NAME, claim_workdir
from icdenoise.tasks import sample_prompts
from workflow_utils import SMOKE_CONFIG, SMOKE_RESULTS, run_snakemake

RUN = f"{SMOKE_RESULTS}/runs/fig3/subspace/linear/seed0.npz"
DATA = f"{SMOKE_RESULTS}/data/subspace/seed0.npz"
TRAIN_LOG = f"{SMOKE_RESULTS}/logs/train/subspace.log"  # the subspace job trains every (model, seed)
CPU_LINE = "CUDA is not available on this machine: training on CPU"
NO_GPU = {"CUDA_VISIBLE_DEVICES": ""}  # the tests behave the same on a machine with a GPU


def tmp_files(root):
    return sorted(str(p) for p in root.rglob(".*.tmp*")) if root.exists() else []


# ----------------------------------------------------------------------------- divergence


@pytest.mark.slow
def test_diverging_training_fails_its_job_naming_run_and_settings(tmp_path):
    huge_lr = tmp_path / "huge_lr.yaml"
    huge_lr.write_text("train:\n  lr: 1.0e+12\n")  # merged onto the smoke config: batch_size etc. stay
    workdir = tmp_path / "run"
    # a --configfile without run_name writes to results/<its file name>/
    run, train_log = (p.replace(SMOKE_RESULTS, "results/huge_lr") for p in (RUN, TRAIN_LOG))
    proc = run_snakemake(
        workdir,
        run,
        "--cores",
        "2",
        "--configfile",
        str(SMOKE_CONFIG),
        str(huge_lr),
        configfile=None,
        env=NO_GPU,
        check=False,
    )
    out = proc.stdout
    assert proc.returncode != 0, out[-3000:]
    assert "training diverged" in out and "case=subspace model=linear seed=0" in out, out[-3000:]
    assert all(s in out for s in ("lr=1000000000000.0", "batch_size=16", "epochs=5")), out[-3000:]
    assert "Error in rule train" in out
    assert f"Logfile {train_log}:" in out and "ERROR: TrainingDiverged" in out  # show-failed-logs prints it
    assert "ERROR: TrainingDiverged" in (workdir / train_log).read_text()
    assert not (workdir / run).exists() and not tmp_files(workdir / "results")


# ----------------------------------------------------------------------------- corrupt inputs


@pytest.fixture(scope="module")
def good_files(tmp_path_factory):
    """A real prompt file, run file and parquet table to corrupt."""
    d = tmp_path_factory.mktemp("good")
    batch = sample_prompts("subspace", 4, 0, n=4, L=3, d=2, sigma0_2=1.0, sigma_z2=0.5)
    io.save_prompts(d / "prompts.npz", batch)
    io.save_run(d / "run.npz", {"train_mse": np.ones(3)}, {"case": "subspace"})
    io.write_table(pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]}), d / "table.parquet")
    return d


def _truncated(src, dst):
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])


def _flipped(src, dst):
    """One bit-rotted byte in the last byte of the data of the archive's X array (a zip member)."""
    import struct
    import zipfile

    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as z:
        info = z.getinfo("X.npy")
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    data[info.header_offset + 30 + name_len + extra_len + info.compress_size - 1] ^= 0xFF
    dst.write_bytes(bytes(data))


CORRUPTIONS = {
    "missing": (lambda src, dst: None, "not found"),
    "empty": (lambda src, dst: dst.write_bytes(b""), "truncated or corrupt"),
    "truncated": (_truncated, "truncated or corrupt"),
    "flipped_byte": (_flipped, "truncated or corrupt"),
    "text_file": (lambda src, dst: dst.write_text("x,y\n1,2\n"), "truncated or corrupt"),
    "bare_npy": (lambda src, dst: np.save(open(dst, "wb"), np.zeros(3)), "not an .npz archive"),
    "foreign_npz": (lambda src, dst: np.savez(dst, X=np.zeros(3)), "format tag None"),
}


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_bad_prompt_file_is_a_clear_error_naming_it(good_files, tmp_path, kind):
    make, expected = CORRUPTIONS[kind]
    bad = tmp_path / "prompts.npz"
    make(good_files / "prompts.npz", bad)
    with pytest.raises(io.InputFileError) as info:
        io.load_prompts(bad)
    assert str(bad) in str(info.value) and expected in str(info.value)
    assert info.value.__suppress_context__ or info.value.__context__ is None  # no library traceback chained


def test_run_file_where_prompts_are_expected_and_back(good_files):
    with pytest.raises(io.InputFileError, match=r"run\.npz: not a prompt file .*'icdenoise\.run\.v1'"):
        io.load_prompts(good_files / "run.npz")
    with pytest.raises(io.InputFileError, match=r"prompts\.npz: not a training-run file"):
        io.load_run(good_files / "prompts.npz")
    with pytest.raises(io.InputFileError, match="truncated or corrupt"):
        io.load_run(good_files / "table.parquet")


@pytest.mark.parametrize("kind", ["missing", "empty", "truncated", "text_file", "npz"])
def test_bad_table_is_a_clear_error_naming_it(good_files, tmp_path, kind):
    bad = tmp_path / "table.parquet"
    src = good_files / "table.parquet"
    if kind == "npz":
        shutil.copy(good_files / "prompts.npz", bad)
    elif kind != "missing":
        CORRUPTIONS[kind][0](src, bad)
    with pytest.raises(io.InputFileError) as info:
        io.read_table(bad)
    assert str(bad) in str(info.value)
    assert ("not found" if kind == "missing" else "not a readable parquet table") in str(info.value)
    with pytest.raises(io.InputFileError, match=r"table\.parquet: table lacks columns \['c'\]"):
        io.read_table(src, columns=["a", "c"])


@pytest.mark.slow
def test_truncated_data_file_fails_the_training_job_naming_the_file(tmp_path):
    run_snakemake(tmp_path, "--cores", "1", DATA)
    _truncated(tmp_path / DATA, tmp_path / DATA)  # in place: no rerun trigger fires for it
    proc = run_snakemake(tmp_path, "--cores", "1", RUN, env=NO_GPU, check=False)
    out = proc.stdout
    assert proc.returncode != 0, out[-3000:]
    assert f"ERROR: InputFileError: {DATA}: cannot read a prompt file" in out, out[-3000:]
    assert "truncated or corrupt" in out and "Error in rule train" in out
    assert "site-packages/numpy" not in out and "site-packages/zipfile" not in out  # no library traceback
    assert not (tmp_path / RUN).exists()


# ----------------------------------------------------------------------------- resources and devices


@pytest.mark.slow
def test_gpu_resource_on_cpu_machine_trains_on_cpu_with_one_log_line(tmp_path):
    run_snakemake(tmp_path, "--cores", "2", RUN, "--resources", "gpu=1", env=NO_GPU)
    log = (tmp_path / TRAIN_LOG).read_text()
    assert log.count(CPU_LINE) == 1, log
    _, meta = io.load_run(tmp_path / RUN)
    assert meta["device"] == "cpu"


@pytest.mark.slow
def test_device_cuda_without_gpu_fails_before_any_job(tmp_path):
    proc = run_snakemake(tmp_path, "--cores", "2", RUN, "--config", "device=cuda", env=NO_GPU, check=False)
    out = proc.stdout
    assert proc.returncode != 0, out[-3000:]
    assert "config key 'device' = 'cuda' demands CUDA" in out and "allowed here: 'auto'" in out, out[-3000:]
    assert not (tmp_path / "results").exists()
    assert not list((tmp_path / ".snakemake" / "locks").glob("*"))  # released: fixing the config and rerunning works
    # A dry run still plans (a cluster login node has no GPU; its jobs run on GPU nodes).
    dry = run_snakemake(tmp_path, "-n", RUN, "--config", "device=cuda", env=NO_GPU)
    assert "train" in dry.stdout


# ----------------------------------------------------------------------------- stale locks


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _stale_locks(workdir, holder: str):
    locks = workdir / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    for name in ("0.input.lock", "0.output.lock"):
        (locks / name).write_text("results/x\n")
    (workdir / ".snakemake" / LOCK_NAME).write_text(holder + "\n")
    return locks


def test_stale_locks_of_a_killed_run_are_removed(tmp_path):
    locks = _stale_locks(tmp_path, f"{socket.gethostname()} {_dead_pid()}")
    handle, removed = claim_workdir(tmp_path)
    try:
        assert handle is not None and sorted(p.name for p in removed) == ["0.input.lock", "0.output.lock"]
        assert not list(locks.glob("*"))
        assert (tmp_path / ".snakemake" / LOCK_NAME).read_text().split() == [socket.gethostname(), str(os.getpid())]
    finally:
        handle.close()


def test_locks_of_a_live_run_are_kept(tmp_path):
    import fcntl

    locks = _stale_locks(tmp_path, f"{socket.gethostname()} {_dead_pid()}")
    with open(tmp_path / ".snakemake" / LOCK_NAME, "a") as live:  # another run of the workflow holds it
        fcntl.flock(live, fcntl.LOCK_EX | fcntl.LOCK_NB)
        handle, removed = claim_workdir(tmp_path)
    assert handle is None and removed == [] and len(list(locks.glob("*"))) == 2


def test_locks_recorded_by_another_host_are_kept(tmp_path):
    locks = _stale_locks(tmp_path, "some-other-login-node 12345")
    handle, removed = claim_workdir(tmp_path)
    handle.close()
    assert removed == [] and len(list(locks.glob("*"))) == 2
    assert (tmp_path / ".snakemake" / LOCK_NAME).read_text().split()[0] == "some-other-login-node"


# ----------------------------------------------------------------------------- atomic outputs, job logs


def test_atomic_output_leaves_nothing_on_failure_and_clears_stale_temp_files(tmp_path):
    target = tmp_path / "t.parquet"
    stale = tmp_path / ".t.parquet.killed1.tmp.parquet"  # what a SIGKILLed writer leaves behind
    stale.write_bytes(b"partial")
    with pytest.raises(ZeroDivisionError):
        with io.atomic_output(target, suffix=".parquet") as tmp:
            tmp.write_bytes(b"half")
            raise ZeroDivisionError
    assert not target.exists() and tmp_files(tmp_path) == []
    io.write_table(pd.DataFrame({"a": [1]}), target)
    assert io.read_table(target)["a"].tolist() == [1] and tmp_files(tmp_path) == []


def test_job_logging_known_failure_exits_with_its_message(tmp_path, capsys):
    log = tmp_path / "job.log"
    with pytest.raises(SystemExit) as info:
        with job_logging(str(log)):
            io.load_prompts(tmp_path / "absent.npz")
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "ERROR: InputFileError:" in err and "absent.npz: file not found" in err and "Traceback" not in err
    text = log.read_text()
    assert "Traceback" in text and "ERROR: InputFileError:" in text
    with pytest.raises(KeyError):  # anything else is a bug: its traceback propagates
        with job_logging(str(tmp_path / "other.log")):
            raise KeyError("x")


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_outputs_get_the_mode_of_the_umask(tmp_path, umask, mode):
    """Results are readable by the group: a new output gets 0666 & ~umask, not mkstemp's 0600."""
    old = os.umask(umask)
    try:
        io.write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.parquet")
        io.write_json({"a": 1}, tmp_path / "t.json")
        with io.atomic_output(tmp_path / "f.bin") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(old)
    for name in ("t.parquet", "t.json", "f.bin"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name
