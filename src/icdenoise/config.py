"""Configuration checks that run before any job: JSON schema (types, ranges) and relations between keys.

Longer than 600 lines on purpose: the relation checks, the command-line value parsing and the dependent
settings must read the same merged config in one order; each is a short function here.

Every message names the offending key as a dotted path (``cases.subspace.d``) and, where it
applies, the allowed values, so a bad config fails at planning time with a readable error.
"""

from __future__ import annotations

from pathlib import Path

from .studies.registry import STUDIES


class ConfigError(ValueError):
    """The configuration is invalid; the message lists every problem found."""


def _key(path) -> str:
    """A config path as written in messages: ``cases.subspace.d``, ``seeds[1]``."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<top level>"


_TYPE_NAMES = {
    "integer": ("an integer", "integers"),
    "number": ("a number", "numbers"),
    "string": ("a string", "strings"),
    "boolean": ("true or false", "booleans"),
    "array": ("a list", "lists"),
    "object": ("a mapping", "mappings"),
}


def _resolve(schema: dict, root: dict) -> dict:
    """Follow a local ``$ref`` (``#/definitions/...``), keeping the referring schema's own keys."""
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if not ref or not ref.startswith("#/"):
        return schema
    target = root
    for part in ref[2:].split("/"):
        target = target[part]
    return {**_resolve(target, root), **{k: v for k, v in schema.items() if k != "$ref"}}


def describe(schema: dict, root: dict | None = None, plural: bool = False) -> str:
    """The values a schema allows, in words: 'an integer >= 1', 'one of: 'linear', 'softmax'', ..."""
    root = root if root is not None else schema
    s = _resolve(schema, root)
    if "enum" in s:
        return ("values from: " if plural else "one of: ") + ", ".join(map(repr, s["enum"]))
    for alt in ("anyOf", "oneOf"):
        if alt in s:
            return " or ".join(describe(x, root, plural) for x in s[alt])
    types = s.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    if "array" in types:
        items = describe(s["items"], root, plural=True) if isinstance(s.get("items"), dict) else "values"
        lo, hi = s.get("minItems"), s.get("maxItems")
        text = ("lists" if plural else ("a non-empty list" if lo == 1 else "a list")) + " of "
        text += ("unique " if s.get("uniqueItems") else "") + items
        if lo is not None and lo == hi:
            text += f", exactly {lo} of them"
        else:
            text += f", at least {lo}" if lo and lo > 1 else ""
            text += f", at most {hi}" if hi is not None else ""
        return text
    if "object" in types:
        props = sorted(s.get("properties", {}))
        text = "mappings" if plural else "a mapping"
        if props:
            text += " with keys from: " + ", ".join(props)
        if s.get("required"):
            text += " (required: " + ", ".join(s["required"]) + ")"
        return text
    text = " or ".join(_TYPE_NAMES.get(t, (t, t))[plural] for t in types) or ("values" if plural else "a value")
    bounds = [
        f">= {s['minimum']}" if "minimum" in s else "",
        f"> {s['exclusiveMinimum']}" if "exclusiveMinimum" in s else "",
        f"<= {s['maximum']}" if "maximum" in s else "",
        f"< {s['exclusiveMaximum']}" if "exclusiveMaximum" in s else "",
    ]
    bounds = [b for b in bounds if b]
    return text + (" " + " and ".join(bounds) if bounds else "")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _duplicates(values) -> list:
    seen, dup = [], []
    for v in values:
        (dup if v in seen and v not in dup else seen).append(v)
    return dup


def _schema_message(err, root: dict) -> list[str]:
    """One error of the JSON-schema validator as messages that name the key and what is allowed."""
    key, inst, kind = _key(err.absolute_path), err.instance, err.validator
    allowed = describe(err.schema, root)
    if kind == "additionalProperties":
        names = sorted(err.schema.get("properties", {}))
        extra = sorted(set(inst) - set(names)) if isinstance(inst, dict) else []
        where = (lambda name: f"{key}.{name}") if err.absolute_path else (lambda name: name)
        return [f"config key '{where(name)}' is unknown; allowed keys here: {', '.join(names)}" for name in extra]
    if kind == "required":
        name = err.message.split("'")[1] if err.message.count("'") >= 2 else "?"
        where = f"{key}.{name}" if err.absolute_path else name
        sub = _resolve(err.schema, root).get("properties", {}).get(name)
        what = f"; allowed: {describe(sub, root)}" if isinstance(sub, dict) else ""
        return [f"config key '{where}' is required but missing{what}"]
    if kind == "enum":
        return [
            f"config key '{key}' = {inst!r} is not allowed; allowed values: {', '.join(map(repr, err.validator_value))}"
        ]
    if kind == "type":
        hint = ""
        if isinstance(inst, str) and _is_number(inst):
            hint = " (Snakemake's --config reads values inside [...] or {...} as strings: use a --configfile)"
        return [f"config key '{key}' = {inst!r} has the wrong type ({type(inst).__name__}); allowed: {allowed}{hint}"]
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return [f"config key '{key}' = {inst!r} is out of range; allowed: {allowed}"]
    if kind == "minItems" and isinstance(inst, list) and not inst:
        return [f"config key '{key}' is an empty list; allowed: {allowed}"]
    if kind == "uniqueItems":
        return [f"config key '{key}' = {inst!r} repeats {_duplicates(inst)}; allowed: {allowed}"]
    if kind == "minProperties" and isinstance(inst, dict) and not inst:
        return [f"config key '{key}' is empty; allowed: {allowed}"]
    return [f"config key '{key}' = {inst!r}: {err.message}; allowed: {allowed}"]


def schema_errors(config: dict, schema: dict) -> list[str]:
    """Messages for every JSON-schema violation, each naming its key and the allowed values."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    out = []
    for err in sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path]):
        out += _schema_message(err, schema)
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
                f"config key 'cases.{case}.d' = {d} must be < n = {n} (the {case} spans {span} of the n dimensions); "
                f"allowed: an integer from 1 to {n - 1}"
            )
    train = config.get("train", {}) or {}
    bs, n_train = train.get("batch_size"), config.get("n_train")
    if isinstance(bs, int) and isinstance(n_train, int) and bs > n_train:
        out.append(
            f"config key 'train.batch_size' = {bs} is larger than the training set (n_train = {n_train}); "
            f"allowed: an integer from 1 to {n_train}"
        )
    seeds = config.get("seeds") or []
    hm = (config.get("training_dynamics") or {}).get("heatmap_seed")
    if hm is not None and seeds and hm not in seeds:
        out.append(
            f"config key 'training_dynamics.heatmap_seed' = {hm} is not one of the training seeds; "
            f"allowed values: {', '.join(map(str, seeds))}"
        )
    if config.get("dataset") == "shared" and seeds and config.get("shared_data_seed") is None:
        out.append("config key 'shared_data_seed' is needed when dataset is 'shared'")
    out += _study_relation_errors(config, cases)
    out += _fig4_relation_errors(config, cases)
    out += _gap_relation_errors(config, cases)
    out += _noisy_relation_errors(config)
    out += _depth_relation_errors(config, cases)
    return out


def _noisy_relation_errors(config: dict) -> list[str]:
    """Noisy-context settings (section noisy_context): the case's own sigma_z2 level and the beta interval."""
    nc = config.get("noisy_context")
    if not isinstance(nc, dict):
        return []
    out = []
    factors = nc.get("sigma_z2_factors")
    if isinstance(factors, list) and 1.0 not in factors:
        out.append(
            f"config key 'noisy_context.sigma_z2_factors' = {factors} must contain 1.0 (each case's own sigma_z2, "
            "where the best (h, eta) of the L sweep is chosen)"
        )
    bounds = nc.get("beta_factors")
    if isinstance(bounds, list) and len(bounds) == 2 and not 0 < bounds[0] < bounds[1]:
        out.append(f"config key 'noisy_context.beta_factors' = {bounds} must be [low, high] with 0 < low < high")
    layers = (nc.get("trained") or {}).get("layers") if isinstance(nc.get("trained"), dict) else None
    if isinstance(layers, list) and 1 not in layers:
        out.append(
            f"config key 'noisy_context.trained.layers' = {layers} must contain 1 (the one-layer network each deeper "
            "one is compared with)"
        )
    return out


def _depth_relation_errors(config: dict, cases: dict) -> list[str]:
    """Depth-study settings (section depth), checked when it is enabled: its cases need their task settings."""
    dp = config.get("depth")
    if not isinstance(dp, dict) or not study_enabled(config, "depth"):
        return []
    out = []
    for case in dp.get("cases") or []:
        if case not in cases:
            out.append(f"config key 'depth.cases' has {case!r}, which needs 'cases.{case}' (its task settings)")
    return out


def _gap_relation_errors(config: dict, cases: dict) -> list[str]:
    """Gap-study settings (section gap_study): its cases, N, batch size and beta intervals."""
    gs = config.get("gap_study")
    if not isinstance(gs, dict):
        return []
    out = []
    runs = gs.get("runs") or {}
    for case in runs:
        if case not in cases:
            out.append(f"config key 'gap_study.runs.{case}' needs 'cases.{case}' (its task settings and epochs)")
        bounds = (gs.get("scaled_identity_beta") or {}).get(case)
        if runs and bounds is None and "scaled_identity_beta" in gs:
            out.append(f"config key 'gap_study.scaled_identity_beta.{case}' is missing: every case in runs needs one")
        if isinstance(bounds, list) and len(bounds) == 2 and not 0 < bounds[0] < bounds[1]:
            out.append(
                f"config key 'gap_study.scaled_identity_beta.{case}' = {bounds} must be [low, high] with 0 < low < high"
            )
    for case in gs.get("online_L_cases") or []:
        if case not in runs:
            out.append(f"config key 'gap_study.online_L_cases' has {case!r}, which is not in gap_study.runs")
    N, n_train = gs.get("N"), config.get("n_train")
    if isinstance(N, list) and isinstance(n_train, int) and n_train not in N:
        out.append(
            f"config key 'gap_study.N' = {N} must contain n_train = {n_train} (where the gap is split into its parts)"
        )
    bs = (config.get("train") or {}).get("batch_size")
    if isinstance(bs, int):
        small = [v for v in (N or []) if isinstance(v, int) and v < bs]
        if small:
            out.append(f"config key 'gap_study.N' has {small}: each N must be >= train.batch_size = {bs}")
        op = gs.get("online_prompts")
        if isinstance(op, int) and op < bs:
            out.append(f"config key 'gap_study.online_prompts' = {op} must be >= train.batch_size = {bs}")
    return out


def _fig4_relation_errors(config: dict, cases: dict) -> list[str]:
    """Figure 4 settings (sections context_sweep, dim_shift): shifted values, needed cases, reused runs."""
    out = []
    n = config.get("n")
    if study_enabled(config, "context_sweep") and "subspace" not in cases:
        out.append("config key 'context_sweep' needs 'cases.subspace' (the sweep trains on case 1)")
    ds = (config.get("dim_shift") or {}) if study_enabled(config, "dim_shift") else {}
    if study_enabled(config, "dim_shift") and isinstance(ds, dict) and ds.get("cases") == {}:
        out.append("config key 'dim_shift.cases' is empty; name a case, or switch the study off (dim_shift.enabled)")
    for case, spec in (ds.get("cases") or {}).items():
        if case not in cases:
            out.append(f"config key 'dim_shift.cases.{case}' needs 'cases.{case}' (its task settings)")
        values = (spec or {}).get("eval_values") or []
        if case in ("subspace", "sphere") and isinstance(n, int):
            bad = [v for v in values if isinstance(v, int) and v >= n]
            if bad:
                out.append(f"config key 'dim_shift.cases.{case}.eval_values' has {bad}: each d must be < n = {n}")
    reused = [c for c in ("sphere", "gmm") if c in (ds.get("cases") or {})]  # these reuse the Figure 3 softmax runs
    if reused and "softmax" not in (config.get("models") or []):
        out.append(
            f"config key 'dim_shift.cases' has {reused}, which reuse the Figure 3 softmax runs: "
            "'models' must contain softmax"
        )
    missing = sorted(set(ds.get("seeds") or []) - set(config.get("seeds") or []))
    if reused and missing:
        out.append(
            f"config key 'dim_shift.seeds' has {missing}, not in 'seeds': dim_shift.cases {reused} "
            "reuse the Figure 3 runs of those seeds"
        )
    return out


def _study_relation_errors(config: dict, cases: dict) -> list[str]:
    """Figure 5/6 and Hopfield-iteration settings (sections dam_energy, hopfield_iterations, alpha_beta_landscape)."""
    out = []
    hop = config.get("hopfield_iterations") or {}
    steps = hop.get("steps")
    if isinstance(steps, list) and not {0, 1} <= set(steps):
        out.append(
            f"config key 'hopfield_iterations.steps' = {steps} must contain 0 (the noisy query) "
            "and 1 (one attention step)"
        )
    fracs = hop.get("gamma_fracs")
    if isinstance(fracs, list) and 1.0 not in fracs:
        out.append(
            f"config key 'hopfield_iterations.gamma_fracs' = {fracs} must contain 1.0 "
            "(gamma = alpha: the attention layer)"
        )
    ranges = (config.get("alpha_beta_landscape") or {}).get("ranges")
    if isinstance(ranges, dict):
        for case in cases:
            if case not in ranges:
                out.append(
                    f"config key 'alpha_beta_landscape.ranges.{case}' is missing: "
                    "every case in 'cases' needs a grid range"
                )
        for case, rng in ranges.items():
            for axis in ("alpha", "beta"):
                lo_hi = (rng or {}).get(axis)
                if isinstance(lo_hi, list) and len(lo_hi) == 2 and not lo_hi[0] < lo_hi[1]:
                    out.append(
                        f"config key 'alpha_beta_landscape.ranges.{case}.{axis}' = {lo_hi} "
                        "must be [low, high] with low < high"
                    )
    fig5 = config.get("dam_energy") or {}
    if (
        isinstance(fig5.get("extent"), (int, float))
        and isinstance(fig5.get("R"), (int, float))
        and fig5["R"] >= fig5["extent"]
    ):
        out.append(
            f"config key 'dam_energy.extent' = {fig5['extent']} must exceed dam_energy.R = {fig5['R']} "
            "(the circle must be inside)"
        )
    return out


def check_config(config: dict, schema_path: str | Path) -> None:
    """Raise ConfigError listing every schema and relation problem of ``config``."""
    import yaml

    schema = yaml.safe_load(Path(schema_path).read_text())
    problems = schema_errors(config, schema)
    try:  # relations too, so that every problem is named at once (they read defensively)
        problems += [p for p in relation_errors(config) if p not in problems]
    except (TypeError, ValueError, KeyError, AttributeError):  # a shape the schema already rejected
        if not problems:
            raise
    if not problems:  # every point of the phase-diagram grids, with the point's values applied
        from .config_grid import grid_errors

        problems += grid_errors(config, schema)
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))


def device_error(config: dict, local_exec: bool) -> str | None:
    """Why ``device: cuda`` cannot work here, or None; checked when jobs are about to start.

    Only for local execution: a cluster's login node often has no GPU while its jobs run on GPU
    nodes (there a job without CUDA fails at once in ``train.resolve_device``).
    """
    if config.get("device") != "cuda" or not local_exec or gpu_visible():
        return None
    return (
        "config key 'device' = 'cuda' demands CUDA, but this machine shows no NVIDIA GPU (no nvidia-smi, "
        "no /dev/nvidia0, or CUDA_VISIBLE_DEVICES hides it) and the jobs run locally; "
        "allowed here: 'auto' (CUDA when present, else CPU) or 'cpu'"
    )


def gpu_visible() -> bool:
    """Whether this machine shows an NVIDIA GPU, decided without importing torch (for job planning)."""
    import os
    import shutil

    cvd = os.environ.get("CUDA_VISIBLE_DEVICES")
    if cvd is not None and cvd.strip() in ("", "-1"):
        return False
    return shutil.which("nvidia-smi") is not None or Path("/dev/nvidia0").exists()


# ----------------------------------------------------------------------------- command-line and user files

#: Separator of a nested key on the command line: ``--config cases__subspace__sigma_z2=0.5``.
#: (Snakemake 9 accepts only keys matching ``[a-zA-Z_][\w-]*\w``: no dots, and no one-letter keys.)
NESTED_SEP = "__"

#: A results folder name: letters, digits, '.', '_', '-', starting with a letter or digit.
RUN_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


def _props(schema: dict, root: dict) -> dict:
    s = _resolve(schema, root) if isinstance(schema, dict) else {}
    return s.get("properties", {}) if isinstance(s, dict) else {}


def expand_nested_keys(config: dict, schema: dict) -> None:
    """Turn command-line keys ``a__b__c`` (and ``__n`` for one-letter top-level keys) into nested keys.

    Raises ConfigError naming the key when a level does not exist in the schema.
    """
    problems = []
    for flat in [k for k in config if isinstance(k, str) and NESTED_SEP in k]:
        value = config.pop(flat)
        path = [p for p in flat.split(NESTED_SEP)]
        if path and path[0] == "":  # "__n=8": a one-letter top-level key
            path = path[1:]
        dotted = ".".join(path)
        if not path or any(not p for p in path):
            problems.append(f"command-line key '{flat}' is malformed; write levels as a{NESTED_SEP}b{NESTED_SEP}c")
            continue
        node, sub = config, schema
        for i, part in enumerate(path):
            props = _props(sub, schema)
            if part not in props:
                where = ".".join(path[:i]) or "<top level>"
                problems.append(
                    f"config key '{dotted}' (from --config {flat}=...) is unknown: no '{part}' under {where}; "
                    f"allowed keys there: {', '.join(sorted(props))}"
                )
                break
            sub = props[part]
            if i == len(path) - 1:
                node[part] = value
            else:
                if not isinstance(node.get(part), dict):
                    node[part] = {}
                node = node[part]
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))


def drop_nulls(config: dict) -> None:
    """``key: null`` in a mapping removes the key (``cases: {sphere: null}`` drops the sphere case)."""
    for key in [k for k, v in config.items() if v is None]:
        del config[key]
    for value in config.values():
        if isinstance(value, dict):
            drop_nulls(value)


def _types(schema: dict) -> list[str]:
    t = schema.get("type")
    return [t] if isinstance(t, str) else list(t or [])


def _parse_as(text: str, types: list[str]):
    """``text`` read as the first of the schema's ``types`` it parses as, else ``text`` itself."""
    import yaml

    for t in types:
        if t == "integer":
            try:
                return int(text)
            except ValueError:
                pass
        elif t == "number":
            try:
                return float(text) if not text.strip().lstrip("+-").isdigit() else int(text)
            except ValueError:
                pass
        elif t == "boolean" and text.strip().lower() in ("true", "false"):
            return text.strip().lower() == "true"
        elif t in ("array", "object"):
            try:
                value = yaml.safe_load(text)
            except yaml.YAMLError:
                continue
            if isinstance(value, list if t == "array" else dict):
                return value
    return text


def coerce_types(value, schema: dict, root: dict | None = None):
    """``value`` with strings that parse as the schema's type converted to it (recursively).

    Snakemake's ``--config`` hands over ``train={batch_size: 40}`` and ``seeds=[0]`` with strings
    inside ('40', '0'); a string that reads as what the schema asks for is that value.
    """
    root = root if root is not None else schema
    s = _resolve(schema, root) if isinstance(schema, dict) else {}
    types = _types(s)
    if isinstance(value, str) and types and "string" not in types:
        value = _parse_as(value, types)
    if isinstance(value, dict):
        props = s.get("properties", {})
        return {k: (coerce_types(v, props[k], root) if k in props else v) for k, v in value.items()}
    if isinstance(value, list) and isinstance(s.get("items"), dict):
        return [coerce_types(v, s["items"], root) for v in value]
    return value


def run_name_from(config: dict, cli_config: dict, configfiles) -> tuple[str, str]:
    """The results folder name of this run and where it came from.

    ``--config run_name=...`` wins; else the last ``--configfile``: its ``run_name`` if it sets one,
    else its file name without suffix (``--configfile my.yaml`` -> ``my``); else config.yaml's own.
    """
    import yaml

    if "run_name" in (cli_config or {}):
        return str(cli_config["run_name"]), "--config run_name"
    files = [Path(f) for f in (configfiles or [])]
    if files:
        last = files[-1]
        try:
            own = yaml.safe_load(last.read_text()) or {}
        except (OSError, yaml.YAMLError):
            own = {}
        if isinstance(own, dict) and own.get("run_name") is not None:
            return str(own["run_name"]), f"run_name in {last}"
        return last.stem, f"the name of --configfile {last}"
    return str(config.get("run_name", "paper")), "run_name in config/config.yaml"


def run_name_errors(name: str, source: str) -> list[str]:
    import re

    if re.match(RUN_NAME_RE, name) and name not in (".", ".."):
        return []
    return [
        f"config key 'run_name' = {name!r} (from {source}) is not a safe folder name; allowed: 1-64 letters, "
        "digits, '.', '_' or '-', starting with a letter or digit (set run_name in your config file)"
    ]


def follow_settings(config: dict) -> list[str]:
    """Make settings that depend on others follow them; return what was changed, in words.

    - ``dim_shift.cases`` keeps only cases in ``cases``; its sphere and gmm entries reuse the Figure 3
      softmax runs, so they are left out without ``softmax`` in ``models``; no case left: study off.
    - ``dim_shift.seeds`` keeps only trained ``seeds`` while sphere/gmm reuse the Figure 3 runs;
      ``training_dynamics.heatmap_seed`` becomes the first seed when it is not trained.
    - ``context_sweep.models`` keeps only models in ``models``; none left, or no subspace case: off.
    - ``hopfield_iterations`` and ``alpha_beta_landscape`` mark trained points only with softmax runs.
    - ``gap_study.runs`` (opt-in) keeps only cases in ``cases`` and models in ``models``.
    - ``noisy_context.cases`` and ``noisy_context.trained.cases`` (opt-in) keep only cases in ``cases``.
    - ``phase_diagram.grids`` (opt-in) keeps only cases in ``cases``.
    """
    notes = []
    cases = config.get("cases") if isinstance(config.get("cases"), dict) else {}
    models = config.get("models") if isinstance(config.get("models"), list) else []
    softmax = "softmax" in models

    def on(study):
        sec = config.get(study)
        return isinstance(sec, dict) and sec.get("enabled", True) is not False

    ds = config.get("dim_shift") if isinstance(config.get("dim_shift"), dict) else {}
    ds_on = on("dim_shift")
    seeds = config.get("seeds") if isinstance(config.get("seeds"), list) else []
    if isinstance(ds.get("cases"), dict):
        # also for a switched-off study, so that its leftover settings raise no relation error
        dropped = [c for c in list(ds["cases"]) if c not in cases or (c in ("sphere", "gmm") and not softmax)]
        for c in dropped:
            del ds["cases"][c]
        reused = [c for c in ("sphere", "gmm") if c in ds["cases"]]
        kept = [s for s in ds.get("seeds") or [] if s in seeds] if isinstance(ds.get("seeds"), list) else None
        if reused and seeds and kept is not None and kept != ds["seeds"]:
            if kept:
                ds["seeds"] = kept
                if ds_on:
                    notes.append(
                        f"dim_shift uses seeds {', '.join(map(str, kept))} (sphere and gmm reuse Figure 3 runs)"
                    )
            else:
                for c in reused:
                    del ds["cases"][c]
                dropped += reused
        if ds_on and not ds["cases"]:
            ds["enabled"] = False
            notes.append("dim_shift is left out (no case left to shift)")
        elif ds_on and dropped:
            notes.append(f"dim_shift runs {', '.join(ds['cases'])} only")
    td = config.get("training_dynamics")
    if isinstance(td, dict) and seeds and td.get("heatmap_seed", 0) not in seeds:
        td["heatmap_seed"] = seeds[0]
        notes.append(f"training_dynamics shows the weights of seed {seeds[0]}")
    cs = config.get("context_sweep")
    if on("context_sweep"):
        if "subspace" not in cases:
            cs["enabled"] = False
            notes.append("context_sweep is left out (it trains on the subspace case)")
        elif isinstance(cs.get("models"), list) and models:
            kept = [m for m in cs["models"] if m in models]
            if not kept:
                cs["enabled"] = False
                notes.append("context_sweep is left out (none of its models is in 'models')")
            elif kept != cs["models"]:
                cs["models"] = kept
                notes.append(f"context_sweep trains {', '.join(kept)} only")
    nc = config.get("noisy_context")
    if isinstance(nc, dict) and isinstance(nc.get("cases"), list):  # opt-in: silently, like the gap study
        nc["cases"] = [c for c in nc["cases"] if c in cases]
    if isinstance(nc, dict) and isinstance(nc.get("trained"), dict) and isinstance(nc["trained"].get("cases"), list):
        nc["trained"]["cases"] = [c for c in nc["trained"]["cases"] if c in cases]
    gs = config.get("gap_study")
    if isinstance(gs, dict) and isinstance(gs.get("runs"), dict):
        # the opt-in gap study trains only cases and models this config has (silently: it is not built
        # by default, and `snakemake gap_study` builds what is left)
        for case in list(gs["runs"]):
            kept = [m for m in gs["runs"][case] or [] if m in models] if models else gs["runs"][case]
            if case not in cases or not kept:
                del gs["runs"][case]
            else:
                gs["runs"][case] = kept
        if isinstance(gs.get("online_L_cases"), list):
            gs["online_L_cases"] = [c for c in gs["online_L_cases"] if c in gs["runs"]]
    pdg = config.get("phase_diagram")
    if isinstance(pdg, dict) and isinstance(pdg.get("grids"), dict):
        # the opt-in phase diagram keeps the grids of the cases this config has (silently, as gap_study.runs)
        for case in [c for c in pdg["grids"] if c not in cases]:
            del pdg["grids"][case]
    if not softmax:
        marked = [s for s in ("hopfield_iterations", "alpha_beta_landscape") if on(s)]
        if marked:
            notes.append(f"{' and '.join(marked)} start from heuristic weights only")
    if notes and not softmax:
        notes[0:0] = ["no softmax in 'models' (sphere and gmm of dim_shift and the trained points reuse softmax runs):"]
    return notes


#: Studies that are not part of the default target unless ``<study>.enabled: true``.
OPT_IN_STUDIES = tuple(s.name for s in STUDIES if s.opt_in)


def study_enabled(config: dict, study: str) -> bool:
    """Whether a study is in the default target: ``<study>.enabled`` (default true; opt-in studies false)."""
    sec = config.get(study)
    return isinstance(sec, dict) and sec.get("enabled", study not in OPT_IN_STUDIES) is True


def prepare_config(config: dict, schema_path: str | Path, cli_config=None, configfiles=None) -> str | None:
    """Everything done to the merged config before any job: in place, in this order.

    1. command-line nested keys (``a__b__c``) expanded; 2. ``key: null`` removes the key;
    3. strings that parse as the schema's type converted; 4. ``run_name`` set (see run_name_from);
    5. dependent settings follow (follow_settings); 6. check_config.
    Returns the one line that says what followed, or None.
    """
    import yaml

    schema = yaml.safe_load(Path(schema_path).read_text())
    expand_nested_keys(config, schema)
    drop_nulls(config)
    coerced = coerce_types(config, schema)
    config.clear()
    config.update(coerced)
    name, source = run_name_from(config, cli_config or {}, configfiles)
    problems = run_name_errors(name, source)
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
    config["run_name"] = name
    notes = follow_settings(config)
    check_config(config, schema_path)
    if not notes:
        return None
    head = notes[0] if notes[0].endswith(":") else ""
    rest = notes[1:] if head else notes
    return "icdenoise: " + (head + " " if head else "") + "; ".join(rest)
