"""icdenoise: in-context denoising with one-layer transformers (Smart, Bietti, Sengupta; ICML 2025).

Modules follow the paper: ``tasks`` (§2.2 samplers), ``bayes`` (§2.3 Props 1-4 and finite-L theory),
``models`` (§3.1 Eq. 11-12), ``train`` (§3 training loop), ``energy`` (§4 Eq. 15-16),
``landscape`` (App. F alpha-beta scans), ``io`` (atomic file and table I/O).
Heavy imports (torch, scipy) happen inside the submodules, so ``import icdenoise`` is cheap.
"""

__version__ = "0.1.0"
