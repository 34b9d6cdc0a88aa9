"""Configuration checks that run before any job: JSON schema (types, ranges) and relations between keys.

Every message names the offending key as a dotted path (``cases.subspace.d``) and, where it
applies, the allowed values, so a bad config fails at planning time with a readable error.
"""

from __future__ import annotations

from pathlib import Path


class ConfigError(ValueError):
    """The configuration is invalid; the message lists every problem found."""


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def schema_errors(config: dict, schema: dict) -> list[str]:
    """Messages for every JSON-schema violation, each naming its key."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    out = []
    for err in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path))):
        key = _key(err.absolute_path)
        if err.validator == "additionalProperties":
            allowed = sorted(err.schema.get("properties", {}))
            extra = sorted(set(err.instance) - set(allowed)) if isinstance(err.instance, dict) else []
            for name in extra:
                where = f"{key}.{name}" if err.absolute_path else name
                out.append(f"config key '{where}' is not allowed here; allowed keys: {', '.join(allowed)}")
            continue
        if err.validator == "enum":
            out.append(f"config key '{key}': {err.instance!r} is not allowed; allowed values: {err.validator_value}")
            continue
        if err.validator == "required":
            out.append(f"config key '{key}': {err.message}")
            continue
        out.append(f"config key '{key}': {err.message}")
    return out


def relation_errors(config: dict) -> list[str]:
    """Messages for settings that pass the schema but cannot work together."""
    out = []
    n = config.get("n")
    cases = config.get("cases", {}) or {}
    for case in ("subspace", "sphere"):
        d = (cases.get(case) or {}).get("d")
        if isinstance(n, int) and isinstance(d, int) and d >= n:
            span = "d+1" if case == "sphere" else "d"
            out.append(
                f"config key 'cases.{case}.d' = {d} must be < n = {n} (the {case} spans {span} of the n dimensions)"
            )
    train = config.get("train", {}) or {}
    bs, n_train = train.get("batch_size"), config.get("n_train")
    if isinstance(bs, int) and isinstance(n_train, int) and bs > n_train:
        out.append(f"config key 'train.batch_size' = {bs} is larger than the training set (n_train = {n_train})")
    seeds = config.get("seeds") or []
    hm = (config.get("figures") or {}).get("heatmap_seed")
    if hm is not None and seeds and hm not in seeds:
        out.append(f"config key 'figures.heatmap_seed' = {hm} is not one of the training seeds {seeds}")
    if config.get("dataset") == "shared" and seeds and config.get("shared_data_seed") is None:
        out.append("config key 'shared_data_seed' is needed when dataset is 'shared'")
    out += _study_relation_errors(config, cases)
    return out


def _study_relation_errors(config: dict, cases: dict) -> list[str]:
    """Figure 5/6 and Hopfield-iteration settings (sections fig5, hopfield, landscape)."""
    out = []
    hop = config.get("hopfield") or {}
    steps = hop.get("steps")
    if isinstance(steps, list) and not {0, 1} <= set(steps):
        out.append(f"config key 'hopfield.steps' = {steps} must contain 0 (the noisy query) and 1 (one attention step)")
    fracs = hop.get("gamma_fracs")
    if isinstance(fracs, list) and 1.0 not in fracs:
        out.append(f"config key 'hopfield.gamma_fracs' = {fracs} must contain 1.0 (gamma = alpha: the attention layer)")
    ranges = (config.get("landscape") or {}).get("ranges")
    if isinstance(ranges, dict):
        for case in cases:
            if case not in ranges:
                out.append(f"config key 'landscape.ranges.{case}' is missing: every case in 'cases' needs a grid range")
        for case, rng in ranges.items():
            for axis in ("alpha", "beta"):
                lo_hi = (rng or {}).get(axis)
                if isinstance(lo_hi, list) and len(lo_hi) == 2 and not lo_hi[0] < lo_hi[1]:
                    out.append(f"config key 'landscape.ranges.{case}.{axis}' = {lo_hi} must be [low, high] with low < high")
    fig5 = config.get("fig5") or {}
    if isinstance(fig5.get("extent"), (int, float)) and isinstance(fig5.get("R"), (int, float)) \
            and fig5["R"] >= fig5["extent"]:
        out.append(f"config key 'fig5.extent' = {fig5['extent']} must exceed fig5.R = {fig5['R']} (the circle must be inside)")
    return out


def check_config(config: dict, schema_path: str | Path) -> None:
    """Raise ConfigError listing every schema and relation problem of ``config``."""
    import yaml

    schema = yaml.safe_load(Path(schema_path).read_text())
    problems = schema_errors(config, schema)
    if not problems:
        problems = relation_errors(config)
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))


def gpu_visible() -> bool:
    """Whether this machine shows an NVIDIA GPU, decided without importing torch (for job planning)."""
    import os
    import shutil

    cvd = os.environ.get("CUDA_VISIBLE_DEVICES")
    if cvd is not None and cvd.strip() in ("", "-1"):
        return False
    return shutil.which("nvidia-smi") is not None or Path("/dev/nvidia0").exists()
