"""The list of studies, in the paper's order, which is also the report's: the one place that names them all.

A study is one figure's worth of work under one name in every layer: ``workflow/rules/<name>.smk``,
``icdenoise/studies/<name>.py``, ``icdenoise/plotting/<name>.py``, ``workflow/report/<name>.rst`` and the
``<name>:`` config section with its ``enabled`` switch. The Snakefile includes the rule files in this order,
each figure's report category comes from :func:`report_category`, and tests/test_layout.py checks every
layer, the README's Layout table and the config defaults against this list.

Two steps are not studies: the verdict ``claims`` (workflow/rules/claims.smk, studies/claims.py) reads the
tables of every study and draws no figure, so it is included after them and its pages are the report's
first category, :data:`VERDICT_CATEGORY`; ``dataset_choice`` (studies/dataset_choice.py) is a training step
of the verdict (deviation (c), rule ``train_dataset_choice`` in claims.smk, switched by
``claims.dataset_choice``), with no rule file, figure or config section of its own.

Only the workflow's planning and the tests read this module, never a job's script, so adding a study
reruns no job of the others (src/icdenoise/fingerprint.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Study:
    """One study: its name in every layer, its label and what it reproduces."""

    name: str
    #: how the report category, the caption and the first line of its files name it
    label: str
    #: what it reproduces: a figure of the paper, or "beyond the paper" (the README's Layout table)
    paper: str
    #: not in the default target unless ``<name>.enabled: true`` (the schema's default is false)
    opt_in: bool = False


STUDIES = (
    Study("training_dynamics", "Figure 3", "Figure 3"),  # training dynamics and final weights (§3.2-3.4)
    Study("context_sweep", "Figure 4a", "Figure 4a"),  # context-length sweep (case 1)
    Study("dim_shift", "Figure 4b", "Figure 4b"),  # inference-time shift of the task dimension
    Study("dam_energy", "Figure 5", "Figure 5"),  # attention step = gradient step on the DAM energy (§4)
    Study("alpha_beta_landscape", "Figure 6", "Figure 6"),  # α-β loss landscapes (App. F)
    Study("hopfield_iterations", "Hopfield iterations", "beyond the paper (§4)"),  # K steps of Eq. 16
    Study("gap_study", "Gap study", "beyond the paper", opt_in=True),  # the gap to Bayes, estimation vs floor
    Study("noisy_context", "Noisy context", "beyond the paper", opt_in=True),  # every token noisy: two stages
    Study("phase_diagram", "Phase diagram", "beyond the paper", opt_in=True),  # Figure 3 on a grid of settings
    Study("depth", "Trained depth", "beyond the paper", opt_in=True),  # K-layer attention: does depth beat one step?
)

STUDY_NAMES = tuple(s.name for s in STUDIES)

#: Digits of the report categories' numbers: the report orders its categories by name, so "10." would sort
#: before "2." unless every number has as many digits (01 ... 10).
_DIGITS = len(str(len(STUDIES) + 1))
#: The report category of the claims and deviations pages (workflow/report/workflow.rst names it).
VERDICT_CATEGORY = f"{1:0{_DIGITS}d}. Verdict"


def report_category(name: str) -> str:
    """A study's report category: ``"<n>. <label>"``, numbered after the verdict in the order of STUDIES."""
    i = STUDY_NAMES.index(name)
    return f"{i + 2:0{_DIGITS}d}. {STUDIES[i].label}"
