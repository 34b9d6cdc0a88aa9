"""Atomic file output and checked file input (prompts, training runs, parquet tables).

Every writer goes through :func:`atomic_output`: the file is written under a temporary name in
the destination directory and renamed into place only when complete, so a killed job never
leaves a partial file behind. Every reader turns a missing, truncated or foreign file into an
:class:`InputFileError` that names the file and says what was expected.
No pickles: arrays are ``.npz`` (``allow_pickle=False``), tables parquet, metadata JSON.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .tasks import PromptBatch

PROMPT_FORMAT = "icdenoise.prompts.v1"
RUN_FORMAT = "icdenoise.run.v1"


class InputFileError(RuntimeError):
    """An input file is missing, truncated, or not the kind of file the step expects."""


def _umask() -> int:
    """The process's umask (read by setting it and restoring it at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path next to ``path``; rename it to ``path`` on success, delete it on error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A writer killed by SIGKILL cannot delete its temporary file: the job that rewrites the same
    # output removes it (one job writes an output at a time, so none of these is in use).
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp*"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + suffix, dir=path.parent)
    # mkstemp creates 0600; a result must get the mode a new file gets under the user's umask
    # (0644 under 022), so that the group on a shared cluster can read it.
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _save_npz(path, fmt: str, arrays: dict[str, np.ndarray], meta: dict) -> None:
    with atomic_output(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, __format__=np.array(fmt), __meta__=np.array(json.dumps(meta, sort_keys=True)), **arrays)


def _load_npz(path, fmt: str) -> tuple[dict[str, np.ndarray], dict]:
    path = Path(path)
    what = {PROMPT_FORMAT: "a prompt file written by the sample_prompts step", RUN_FORMAT: "a training-run file"}[fmt]
    if not path.exists():
        raise InputFileError(f"{path}: file not found (expected {what})")
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):  # a single .npy array
            raise InputFileError(f"{path}: not {what}: a bare .npy array, not an .npz archive")
        with z:
            found = str(z["__format__"]) if "__format__" in z.files else None
            if found != fmt:
                raise InputFileError(f"{path}: not {what} (format tag {found!r}, expected {fmt!r})")
            meta = json.loads(str(z["__meta__"]))
            arrays = {k: z[k] for k in z.files if not k.startswith("__")}
    except InputFileError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        detail = "holds pickled data, which is never loaded" if "pickle" in str(exc) else f"{type(exc).__name__}: {exc}"
        raise InputFileError(
            f"{path}: cannot read {what}: file is truncated or corrupt, or another kind of file ({detail})"
        ) from None
    return arrays, meta


def save_prompts(path, batch: PromptBatch) -> None:
    """Write a PromptBatch (context, queries, targets, oracle task arrays, parameters)."""
    arrays = {"X": batch.X, "x_query": batch.x_query, "x_target": batch.x_target}
    arrays.update({f"task_{k}": v for k, v in batch.task.items()})
    _save_npz(path, PROMPT_FORMAT, arrays, batch.params)


def load_prompts(path) -> PromptBatch:
    """Read a PromptBatch written by :func:`save_prompts`; a bad file raises InputFileError."""
    arrays, params = _load_npz(path, PROMPT_FORMAT)
    missing = {"X", "x_query", "x_target"} - set(arrays)
    if missing:
        raise InputFileError(f"{path}: prompt file lacks arrays {sorted(missing)}")
    task = {k[len("task_") :]: v for k, v in arrays.items() if k.startswith("task_")}
    return PromptBatch(X=arrays["X"], x_query=arrays["x_query"], x_target=arrays["x_target"], task=task, params=params)


def save_run(path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write a training run: curves and final weights (arrays) plus its settings and timing (meta)."""
    _save_npz(path, RUN_FORMAT, arrays, meta)


def load_run(path) -> tuple[dict[str, np.ndarray], dict]:
    """Read a training run written by :func:`save_run`."""
    return _load_npz(path, RUN_FORMAT)


def write_table(df, path) -> None:
    """Write a pandas DataFrame as parquet, atomically, without the index."""
    with atomic_output(path, suffix=".parquet") as tmp:
        df.to_parquet(tmp, index=False)


def read_table(path, columns: list[str] | None = None):
    """Read a parquet table; a missing or corrupt file raises InputFileError naming it."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: table not found")
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several exception types for bad files
        raise InputFileError(f"{path}: not a readable parquet table ({type(exc).__name__}: {exc})") from None
    if columns is not None:
        missing = sorted(set(columns) - set(df.columns))
        if missing:
            raise InputFileError(f"{path}: table lacks columns {missing}")
    return df


def write_json(obj, path) -> None:
    """Write JSON atomically (sorted keys, so equal content gives equal bytes)."""
    with atomic_output(path, suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def concat_tables(paths: list[str], out: str) -> None:
    """Concatenate parquet tables with the same columns (sorted by path for a stable order)."""
    import pandas as pd

    frames = [read_table(p) for p in sorted(paths)]
    write_table(pd.concat(frames, ignore_index=True), out)
