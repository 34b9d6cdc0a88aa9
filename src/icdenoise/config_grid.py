"""The phase-diagram grids checked like the config itself, point by point, before any job (``config.check_config``).

Apart from the study module (``studies/phase_diagram.py``) so that its jobs, which never validate, do not depend on
the config checks or on the list of studies.
"""

from __future__ import annotations

from .studies.phase_diagram import AXIS_KEYS, apply_point, grid_points, point_folder, section


def _touched_schema(schema: dict, tops: set) -> dict:
    """The schema restricted to the top-level keys ``tops`` (a point is checked on what it changes)."""
    props = schema.get("properties", {})
    return {
        "type": "object",
        "properties": {k: props[k] for k in tops if k in props},
        "definitions": schema.get("definitions", {}),
    }


def grid_errors(config: dict, schema: dict) -> list[str]:
    """Every problem of the phase_diagram grids, each naming its grid, axis and point: unknown keys, keys that are
    no axis of the case, values the schema refuses, relations broken at a point (d >= n, batch > n_train)."""
    from .config import relation_errors, schema_errors

    pd_ = section(config)
    grids = pd_.get("grids")
    if not isinstance(grids, dict):
        return []
    props = schema.get("properties", {})
    out = []
    for case, spec in grids.items():
        where = f"phase_diagram.grids.{case}"
        if case not in (config.get("cases") or {}):
            out.append(f"config key '{where}' needs 'cases.{case}' (its task settings and epochs)")
            continue
        case_keys = set((props.get("cases", {}).get("properties", {}).get(case) or {}).get("properties", {}))
        allowed = [*AXIS_KEYS, *(f"cases.{case}.{k}" for k in sorted(case_keys))]
        keys = list((spec or {}).get("axes") or {})
        for p in (spec or {}).get("points") or []:
            keys += [k for k in p if k not in keys]
        bad = []
        for k in keys:
            top = k.split(".")[0]
            if k in allowed:
                continue
            bad.append(k)
            if top not in props or (top in ("cases", "train") and not _schema_has(props, k)):
                out.append(f"config key '{where}' has axis '{k}', which is unknown; allowed axes: {', '.join(allowed)}")
            else:
                out.append(
                    f"config key '{where}' has axis '{k}', which is no axis of {case}; allowed: {', '.join(allowed)}"
                )
        if bad:
            continue
        base = _studies_off(config)
        base_problems = set(relation_errors(base))
        names, at_points = {}, {}  # problem -> the points where it occurs
        points = grid_points(config, case)
        for point in points:
            folder = point_folder(case, point)
            if folder in names:
                out.append(f"config key '{where}': points {names[folder]} and {point} share the folder {folder}")
            names[folder] = point
            at = _studies_off(apply_point(config, point))
            sub = _touched_schema(schema, {k.split(".")[0] for k, _ in point})
            problems = schema_errors({k: at[k] for k in sub["properties"]}, sub)
            try:
                problems += [m for m in relation_errors(at) if m not in base_problems and m not in problems]
            except (TypeError, ValueError, KeyError, AttributeError):  # a shape the schema already rejected
                pass
            for m in problems:
                at_points.setdefault(m, []).append(point)
        for m, pts in at_points.items():
            label = ", ".join(f"{k}={v}" for k, v in pts[0])
            more = f" and {len(pts) - 1} other point(s) of {len(points)}" if len(pts) > 1 else ""
            out.append(f"{where} at the point ({label}){more}: {m}")
    return out


def _schema_has(props: dict, key: str) -> bool:
    node = {"properties": props}
    for part in key.split("."):
        node = (node or {}).get("properties", {}).get(part)
        if node is None:
            return False
    return True


def _studies_off(config: dict) -> dict:
    """``config`` with every study's ``enabled: false`` (a point's relations are those of its training)."""
    from .studies.registry import STUDY_NAMES

    out = dict(config)
    for s in STUDY_NAMES:
        if isinstance(out.get(s), dict):
            out[s] = {**out[s], "enabled": False}
    return out
