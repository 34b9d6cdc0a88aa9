"""One module per study of the workflow; each is what that study's rule scripts call.

A study module reads its inputs, calls the science modules (``tasks``, ``models``, ``bayes``, ``train``,
``energy``, ``landscape``) and writes its outputs atomically. The same name runs through every layer:
``workflow/rules/<study>.smk``, ``icdenoise/studies/<study>.py``, ``icdenoise/plotting/<study>.py``,
``workflow/report/<study>.rst`` and the ``<study>:`` section of ``config/config.yaml``.

==========================  ==========================================================
study                       paper
==========================  ==========================================================
``training_dynamics``       Figure 3: training dynamics and final weights (§3.2-3.4)
``context_sweep``           Figure 4a: context-length sweep (case 1)
``dim_shift``               Figure 4b: inference-time shift of the task dimension
``dam_energy``              Figure 5: attention step = gradient step on the DAM energy (§4)
``hopfield_iterations``     beyond the paper: K steps of Eq. 16 (§4)
``alpha_beta_landscape``    Figure 6: α-β loss landscapes (App. F)
==========================  ==========================================================

``common`` holds what several studies share (model evaluation, heuristic and trained weights).
"""
