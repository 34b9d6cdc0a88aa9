"""Each study's claims, in a module named as the study: ``icdenoise/claims/<study>.py``; and the deviations.

A study's module exposes ``TABLES`` (the names of the tables it reads, all of that study) and
``claims(tables, settings, scale, tol) -> list[Claim]``: ``tables`` maps a table name to its DataFrame (the
tables of a study switched off are missing, and its claims say "not checkable"), ``settings`` are the claims
rule's settings, ``scale`` a :class:`icdenoise.verdict.Scale` of them and ``tol`` the ``claims.tolerances``
block. A study without claims has no module here. ``deviations.py`` measures the deviations from the authors'
code (``evaluate_deviations``).
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType


def for_study(study: str) -> ModuleType | None:
    """The claims module of ``study`` (``icdenoise.claims.<study>``); None for a study without claims."""
    name = f"{__name__}.{study}"
    return importlib.import_module(name) if importlib.util.find_spec(name) is not None else None
