"""One module per study of the workflow; each is what that study's rule scripts call.

A study module reads its inputs, calls the science modules (``tasks``, ``models``, ``bayes``, ``train``,
``energy``, ``landscape``) and writes its outputs atomically. The same name runs through every layer:
``workflow/rules/<study>.smk``, ``icdenoise/studies/<study>.py``, ``icdenoise/plotting/<study>.py``,
``workflow/report/<study>.rst`` and the ``<study>:`` section of ``config/config.yaml``.

The studies, what each reproduces, and the two steps that are not studies (``claims``, the verdict, and
``dataset_choice``, one of its training steps) are listed once, in ``registry.py`` (``STUDIES``).
``common`` holds what several studies share (model evaluation, heuristic and trained weights).
"""
