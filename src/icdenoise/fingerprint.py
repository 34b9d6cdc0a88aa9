"""The code fingerprint of a rule script: a hash of every package source file the script can execute.

Snakemake reruns a job when its rule script, params, inputs or software env change, but not when a module
of ``src/icdenoise/`` it imports changes. The workflow passes this fingerprint as the rule param ``code``
(workflow/rules/common.smk, ``code_fingerprint``), so an edit to a module reruns the jobs whose scripts
import it, directly or through other modules, and nothing else.

What counts, found with :mod:`ast` (nothing is imported): every ``import pkg.a.b``, ``from pkg.a import b``
(``b`` itself when it is a module), relative import and ``importlib.import_module("literal", ...)`` call
of the package, at module level or inside functions (the package imports lazily), followed transitively,
plus the ``__init__.py`` of every package on the way (importing ``pkg.a.b`` executes them). A package
``__init__.py`` that exposes names lazily through a module-level ``_EXPORTS = {name: submodule}`` dict
(``icdenoise/__init__.py``) counts its submodule only for ``from pkg import name``: ``import pkg.a``
executes ``__init__.py`` but none of its lazy targets. Hashed: the sorted (path relative to ``src``,
SHA-256 of the contents) pairs; never mtimes or ``__pycache__``, so one checkout always gives one value,
wherever it lies (a cluster node's copy included). Pure: no Snakemake.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

__all__ = ["code_fingerprint", "source_files"]


def _module_file(src: Path, module: str) -> Path | None:
    """``src/a/b.py`` or ``src/a/b/__init__.py`` of the dotted module name ``a.b``; None if neither exists."""
    base = src.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _resolve(module: str | None, level: int, package: str | None) -> str | None:
    """The absolute name of ``from <level dots><module> import ...`` inside ``package`` (None: not resolvable)."""
    if level == 0:
        return module
    if not package:
        return None
    parts = package.split(".")
    if level - 1 >= len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


@cache
def _lazy_exports(source: str) -> dict[str, str]:
    """A package's module-level ``_EXPORTS = {"name": "submodule"}`` (relative to the package), else {}."""
    for node in ast.parse(source).body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id == "_EXPORTS" and isinstance(node.value, ast.Dict):
            pairs = zip(map(_literal, node.value.keys), map(_literal, node.value.values), strict=True)
            return {k: v for k, v in pairs if k and v}
    return {}


@cache
def _imports(source: str, module: str | None, package: str | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(absolute module, names imported from it) of every import in the source, nested ones included."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node.module, node.level, package)
            if target:
                found.append((target, tuple(alias.name for alias in node.names if alias.name != "*")))
        elif isinstance(node, ast.Call) and node.args and _literal(node.args[0]):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name != "import_module":
                continue
            wanted = _literal(node.args[0])
            anchor = package
            if len(node.args) > 1:
                arg = node.args[1]
                anchor = _literal(arg) or (module if isinstance(arg, ast.Name) and arg.id == "__name__" else package)
            level = len(wanted) - len(wanted.lstrip("."))
            target = _resolve(wanted[level:] or None, level, anchor)
            if target:
                found.append((target, ()))
    return tuple(found)


def source_files(script: str | Path, src: str | Path, package: str = "icdenoise") -> list[str]:
    """The files of ``package`` under ``src`` that ``script`` can execute, as sorted paths relative to ``src``."""
    src = Path(src)
    seen: dict[str, Path] = {}  # module name -> its file
    queue = [(None, None, Path(script))]  # (module name, its package, file); the script is in no package

    def want(module: str) -> None:
        parts = module.split(".")
        if parts[0] != package:
            return
        for i in range(1, len(parts) + 1):  # every package on the way, then the module itself
            name = ".".join(parts[:i])
            if name in seen:
                continue
            path = _module_file(src, name)
            if path is None:
                return
            seen[name] = path
            queue.append((name, name if path.name == "__init__.py" else ".".join(parts[: i - 1]), path))

    while queue:
        module, pkg, path = queue.pop()
        for target, names in _imports(path.read_text(encoding="utf-8"), module, pkg):
            want(target)
            target_file = seen.get(target)
            if target_file is None or target_file.name != "__init__.py":
                continue
            exports = _lazy_exports(target_file.read_text(encoding="utf-8"))
            for name in names:
                if _module_file(src, f"{target}.{name}") is not None:
                    want(f"{target}.{name}")  # from pkg.a import b, b a module
                elif name in exports:
                    want(_resolve(exports[name].lstrip(".") or None, 1, target) or target)
    return sorted(path.relative_to(src).as_posix() for path in seen.values())


def code_fingerprint(script: str | Path, src: str | Path, package: str = "icdenoise") -> str:
    """SHA-256 over (relative path, SHA-256 of the contents) of every file in :func:`source_files`."""
    src = Path(src)
    digest = hashlib.sha256()
    for rel in source_files(script, src, package):
        digest.update(f"{rel}\0{hashlib.sha256((src / rel).read_bytes()).hexdigest()}\n".encode())
    return digest.hexdigest()
