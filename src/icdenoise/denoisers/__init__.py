"""The models behind the registry in :mod:`icdenoise.models` (§3.1): the interface (``base``) and one module per
model (``linear`` Eq. 11, ``softmax`` Eq. 12, ``linear_residual`` Eq. 11 plus λ x̃)."""
