"""The ``icdenoise`` command line: one-off runs outside Snakemake (``python -m icdenoise`` does the same).

Longer than 600 lines on purpose: four subcommands, each an argparse parser whose every option says its
default, unit and config key, and its printer; split per subcommand they would share most of this module.

Subcommands: ``train`` (sample, train, summarise one case and model over seeds), ``bayes`` (every
oracle's MSE and, for the subspace case, γ*(L)), ``check-config`` (the workflow's config validation,
without Snakemake) and ``claims`` (the verdict table of a finished run). Defaults are read from the
checkout's ``config/config.yaml`` when the parser is built, so ``--help`` shows the values in force; an
option with no config key says so in its help, and its default is defined once (argparse, or the API).

Exit status: 0 success; 1 a training run diverged (the message names its seed and settings); 2 bad
input (one line naming the option, no traceback) or a missing input file.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from . import __version__
from .api import (
    CASE_KEYS,
    GLOBAL_KEYS,
    MC_SEED_INDEX,
    MODEL_NAMES,
    SettingsError,
    config_value,
    load_config,
    load_schema,
    merge_config,
    oracle_mses,
    paper_settings,
    reference_mse,
    schema_path,
    task_params,
    train_case,
)
from .config import run_name_from
from .tasks import CASE_PARAMS, CASES
from .verdict import CLAIM_TEXT_COLUMNS

PROG = "icdenoise"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: '<prog>: <what is wrong> (see <prog> --help)', exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {' '.join(message.split())} (see {self.prog} --help)\n")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=30, width=100)


def _fmt(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _per_case(cfg: dict, key: str) -> str:
    """'subspace 8, sphere 8' from the config's case blocks."""
    return ", ".join(
        f"{c} {_fmt(b[key])}" for c, b in (cfg.get("cases") or {}).items() if isinstance(b, dict) and key in b
    )


def _default(cfg: dict, key: str, schema: dict):
    """The default of a setting as the API resolves it (GLOBAL_KEYS: the config, else the schema); '?' if none."""
    try:
        return config_value(cfg, GLOBAL_KEYS.get(key, (key,)), schema)
    except SettingsError:
        return "?"


def _key(key: str) -> str:
    """'config train.lr': where the default of a setting lives."""
    return "config " + ".".join(GLOBAL_KEYS[key])


def _nonneg_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def _add_task_options(p, cfg: dict, schema: dict, L_help: str) -> None:
    g = p.add_argument_group("task settings (paper §2.2; defaults from config/config.yaml)")
    g.add_argument("--n", type=int, metavar="N", help=f"ambient dimension (default {_default(cfg, 'n', schema)})")
    g.add_argument("--L", type=int, metavar="L", help=f"{L_help} (default {_default(cfg, 'L', schema)})")
    g.add_argument(
        "--d",
        type=int,
        metavar="D",
        help=f"subspace dimension / sphere S^d dimension (spans d+1), d < n (default: {_per_case(cfg, 'd')})",
    )
    g.add_argument(
        "--R",
        type=float,
        metavar="R",
        help=f"radius of the sphere / of the centres (length; default: {_per_case(cfg, 'R')})",
    )
    g.add_argument("--p", type=int, metavar="P", help=f"number of mixture centres (default: {_per_case(cfg, 'p')})")
    g.add_argument(
        "--sigma0-2",
        type=float,
        metavar="VAR",
        dest="sigma0_2",
        help=f"signal variance σ0² per component (default: {_per_case(cfg, 'sigma0_2')})",
    )
    g.add_argument(
        "--sigma-z2",
        type=float,
        metavar="VAR",
        dest="sigma_z2",
        help=f"query noise variance σZ² per component (default: {_per_case(cfg, 'sigma_z2')})",
    )


def _add_seed_options(p, cfg: dict, schema: dict, prompts_help: str) -> None:
    g = p.add_argument_group("seeds and Monte Carlo")
    g.add_argument(
        "--base-seed",
        type=_nonneg_int,
        metavar="S",
        help=f"base of every derived seed (default {_default(cfg, 'base_seed', schema)})",
    )
    g.add_argument(
        "--prompts",
        type=int,
        metavar="N",
        help=f"{prompts_help} (prompts; default {_default(cfg, 'prompts', schema)}, {_key('prompts')})",
    )


def build_parser(cfg: dict) -> argparse.ArgumentParser:
    """The argument parser; every default shown is read from ``cfg`` (config/config.yaml)."""
    parser = _Parser(
        prog=PROG,
        formatter_class=_Formatter,
        description="In-context denoising with one-layer transformers (Smart, Bietti, Sengupta; ICML 2025): "
        "one-off runs outside Snakemake. Defaults are the paper's settings in config/config.yaml. "
        "MSE is per component, ‖x̂ − x‖²/n, everywhere.",
        epilog="examples:\n"
        "  icdenoise bayes --case gmm\n"
        "  icdenoise train --case sphere --model softmax --seeds 0 1 2 --out run.parquet\n"
        "  icdenoise check-config my.yaml\n"
        "  icdenoise claims results/paper\n\n"
        "exit status: 0 ok, 1 a training run diverged, 2 bad input or missing file",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)
    schema = load_schema()
    cases = list(cfg.get("cases") or {})
    milestones = _default(cfg, "lr_milestones", schema)
    milestones = " ".join(map(_fmt, milestones)) if isinstance(milestones, list) else milestones
    seeds = _default(cfg, "seeds", schema)
    seeds = " ".join(map(str, seeds)) if isinstance(seeds, list) else seeds

    # ---------------------------------------------------------------- train
    t = sub.add_parser(
        "train",
        formatter_class=_Formatter,
        help="sample prompts, train one model on one case, summarise each seed",
        description="Sample n_train + n_test prompts per seed, train linear (Eq. 11) or softmax (Eq. 12) attention "
        "with Adam (§3) and print one line per seed: α = mean diag W_PV, β = mean diag W_KQ, αβ, the "
        "distance of each matrix from a scaled identity (‖W − mean-diag·I‖_F/‖W‖_F), the final train and "
        "test MSE, and test/Bayes against the case's expected Bayes MSE (closed form for subspace, Monte "
        "Carlo otherwise).\n\n"
        "Seeds are derived as the workflow derives them: prompts from derive_seed(base_seed, 'data', case, "
        "seed) (or shared_data_seed with --dataset shared), weights and batch order from "
        "derive_seed(base_seed, 'train', case, model, seed); with the config's settings a run equals the "
        "workflow's results/<run_name>/runs/fig3/<case>/<model>/seed<s>.npz.",
        epilog="--out run.parquet writes two files: run.parquet, one row per seed (the printed columns plus the "
        "seeds and settings), and run.curves.parquet, the per-epoch curves (case, model, seed, epoch, split "
        "'train'/'test', mse, lr, alpha, beta; epoch 0 = initial weights), the columns of the workflow's "
        "training_curves.parquet.",
    )
    t.add_argument("--case", required=True, choices=CASES, help="task: subspace (case 1), sphere (2), gmm (3)")
    t.add_argument(
        "--model",
        required=True,
        choices=MODEL_NAMES,
        help="linear (Eq. 11) or softmax (Eq. 12) attention, or another registered model (icdenoise.models)",
    )
    t.add_argument(
        "--layers",
        type=int,
        metavar="K",
        help="layers of a depth model (--model depth_linear or depth_softmax; default 1; no config key: the depth "
        "study's grid is depth.layers)",
    )
    t.add_argument(
        "--tied",
        action=argparse.BooleanOptionalAction,
        help="a depth model's layers share one (W_KQ, W_PV, λ) (--tied, the default) or have one each (--no-tied)",
    )
    t.add_argument(
        "--seeds",
        type=_nonneg_int,
        nargs="+",
        metavar="S",
        help=f"training seeds (default: {seeds}, config seeds)",
    )
    t.add_argument(
        "--out",
        metavar="PATH",
        help="write the rows to PATH and the curves to PATH with .curves.parquet (see below; default: write "
        "nothing; no config key)",
    )
    _add_task_options(t, cfg, schema, "clean context tokens per prompt, the query extra")
    g = t.add_argument_group("training (§3; defaults from config/config.yaml)")
    g.add_argument("--epochs", type=int, metavar="E", help=f"training epochs (default: {_per_case(cfg, 'epochs')})")
    g.add_argument(
        "--n-train",
        type=int,
        metavar="N",
        help=f"training prompts per seed (default {_default(cfg, 'n_train', schema)})",
    )
    g.add_argument(
        "--n-test", type=int, metavar="N", help=f"test prompts per seed (default {_default(cfg, 'n_test', schema)})"
    )
    g.add_argument(
        "--batch-size",
        type=int,
        metavar="B",
        help=f"prompts per Adam step (default {_default(cfg, 'batch_size', schema)}, {_key('batch_size')})",
    )
    g.add_argument(
        "--lr",
        type=float,
        metavar="LR",
        help=f"Adam learning rate, per step (default {_default(cfg, 'lr', schema)}, {_key('lr')})",
    )
    g.add_argument(
        "--lr-milestones",
        type=float,
        nargs="*",
        metavar="F",
        help="fractions of the epochs after which the lr is multiplied by --lr-gamma; none: constant lr "
        f"(default {milestones}, {_key('lr_milestones')})",
    )
    g.add_argument(
        "--lr-gamma",
        type=float,
        metavar="G",
        help=f"lr decay factor (default {_default(cfg, 'lr_gamma', schema)}, {_key('lr_gamma')})",
    )
    g.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        help="auto: CUDA when torch sees it, else CPU; cuda: fail if absent "
        f"(default {_default(cfg, 'device', schema)})",
    )
    g.add_argument(
        "--threads",
        type=int,
        metavar="T",
        help=f"torch CPU threads (default {_default(cfg, 'threads', schema)}, {_key('threads')})",
    )
    g.add_argument(
        "--dataset",
        choices=("per_seed", "shared"),
        help=f"per_seed: each seed samples its own prompts; shared: every seed trains on those of "
        f"--shared-data-seed, as the authors' code did (default {_default(cfg, 'dataset', schema)})",
    )
    g.add_argument(
        "--shared-data-seed",
        type=_nonneg_int,
        metavar="S",
        help=f"data seed with --dataset shared (default {_default(cfg, 'shared_data_seed', schema)})",
    )
    g.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar per run (default: only when stderr is a terminal; no config key)",
    )
    _add_seed_options(t, cfg, schema, "Monte Carlo prompts for the Bayes reference of sphere and gmm")
    t.set_defaults(func=cmd_train)

    # ---------------------------------------------------------------- bayes
    b = sub.add_parser(
        "bayes",
        formatter_class=_Formatter,
        help="every oracle's MSE; γ*(L) and its MSE for the subspace case",
        description="Expected MSE of every oracle denoiser (it knows each prompt's task): Bayes (Props. 2-4), the "
        "projections, the gmm σ0 → 0 form (Eq. 8) and the zero predictor; closed form where the paper "
        "has one, Monte Carlo on fresh prompts with its standard error for every oracle. For the "
        "subspace case also γ*(L) = L/((σ0²+σZ²)(L+d+1)), the best αβ of scaled-identity linear "
        "attention at finite L, and its MSE (Fig. 4a). Monte Carlo prompts come from "
        "derive_seed(base_seed, 'baselines_fresh', case, --seed): the workflow's fresh baseline "
        "prompts of that data seed.",
    )
    b.add_argument(
        "--case",
        choices=CASES,
        action="append",
        dest="cases",
        help=f"case (repeatable; default: every case in the config: {', '.join(cases)}); a task option "
        "then applies to every case that has it",
    )
    _add_task_options(b, cfg, schema, "context length for γ*(L) (subspace)")
    _add_seed_options(b, cfg, schema, "Monte Carlo prompts per case")
    b.add_argument(
        "--seed",
        type=_nonneg_int,
        default=MC_SEED_INDEX,
        metavar="S",
        help=f"data-seed index of the Monte Carlo prompts (default {MC_SEED_INDEX}; no config key)",
    )
    b.set_defaults(func=cmd_bayes)

    # ---------------------------------------------------------------- check-config
    c = sub.add_parser(
        "check-config",
        formatter_class=_Formatter,
        help="validate a config file as the workflow does",
        description="Merge FILE onto config/config.yaml as Snakemake's --configfile does (nested mappings merge "
        "key by key, lists and values replace), then run the workflow's checks: the JSON schema "
        "workflow/schemas/config.schema.yaml and the relations between keys (d < n, batch size <= "
        "n_train, ...). Prints 'ok' (exit 0), or every problem named by its key (exit 2).",
    )
    c.add_argument("file", metavar="FILE", help="a YAML config file (as for snakemake --configfile FILE)")
    c.set_defaults(func=cmd_check_config)

    # ---------------------------------------------------------------- claims
    k = sub.add_parser(
        "claims",
        formatter_class=_Formatter,
        help="the verdict of a finished run, claim by claim",
        description="Print RESULTS_DIR/tables/claims.parquet (written by the workflow's claims rule) as a table: "
        "id, paper value, reproduced value, spread and verdict per claim, then 'N of M claims "
        "reproduced (K not checkable at this scale)'.",
    )
    results = f"results/{run_name_from(cfg, {}, [])[0]}"
    k.add_argument(
        "results",
        nargs="?",
        default=results,
        metavar="RESULTS_DIR",
        help=f"the results folder of one config, results/<run_name> (default: {results}, config run_name)",
    )
    k.add_argument(
        "--wide",
        action="store_true",
        help="also print each claim's source, statement, tolerance and evidence (default off; no config key)",
    )
    strict = _default(cfg, "strict_claims", schema)
    k.add_argument(
        "--strict",
        action=argparse.BooleanOptionalAction,
        default=strict is True,
        help=f"exit 1 when any claim is not reproduced (default {'on' if strict is True else 'off'}, "
        "config strict_claims)",
    )
    k.set_defaults(func=cmd_claims)
    return parser


# ----------------------------------------------------------------------------------- helpers


def _overrides(args, keys) -> dict:
    return {k: getattr(args, k, None) for k in keys if getattr(args, k, None) is not None}


def _settings_text(s: dict, with_L: bool = True) -> str:
    keys = ("n", "L") if with_L else ("n",)
    return " ".join(f"{k}={_fmt(s[k])}" for k in (*keys, *CASE_PARAMS[s["case"]]))


def _pm(mse: float, se: float, digits: int = 6) -> str:
    return f"{mse:.{digits}f} ± {se:.{digits}f}"


# ----------------------------------------------------------------------------------- train

_TRAIN_COLUMNS = [
    ("seed", 4, "{:d}"),
    ("alpha", 10, "{:.5f}"),
    ("beta", 10, "{:.5f}"),
    ("alpha*beta", 10, "{:.5f}"),
    ("dist_KQ", 8, "{:.4f}"),
    ("dist_PV", 8, "{:.4f}"),
    ("train_mse", 11, "{:.7f}"),
    ("test_mse", 11, "{:.7f}"),
    ("test/Bayes", 10, "{:.4f}"),
]
_ROW_KEYS = {"alpha*beta": "alpha_beta", "test/Bayes": "test_over_bayes"}


def cmd_train(args, cfg) -> int:
    keys = (
        "n",
        "L",
        *CASE_KEYS,
        "n_train",
        "n_test",
        "batch_size",
        "lr",
        "lr_milestones",
        "lr_gamma",
        "threads",
        "device",
        "base_seed",
        "dataset",
        "shared_data_seed",
        "prompts",
    )
    seeds = args.seeds if args.seeds is not None else list(config_value(cfg, ("seeds",)))
    out = Path(args.out) if args.out else None
    if out is not None and out.is_dir():
        raise SettingsError(f"--out {args.out} is a directory; give a file name such as run.parquet", "--out")

    def on_start(s, oracles):
        ms = ", ".join(f"{f:.0%}" for f in s["lr_milestones"])
        decay = f" (x{_fmt(s['lr_gamma'])} after {ms} of the epochs)" if s["lr_milestones"] else " (constant)"
        data = (
            "one dataset per seed" if s["dataset"] == "per_seed" else f"shared dataset of seed {s['shared_data_seed']}"
        )
        print(
            f"{args.case} / {args.model} attention: {_settings_text(s)} | {s['n_train']} train + {s['n_test']} test "
            f"prompts per seed ({data}) | {s['epochs']} epochs, batch {s['batch_size']}, "
            f"Adam lr {_fmt(s['lr'])}{decay} "
            f"| device {s['device_used']}"
        )
        bayes, se, src = reference_mse(oracles, "bayes")
        zero, _, zsrc = reference_mse(oracles, "zero")
        bayes_text = (
            f"{bayes:.6f} (closed form)"
            if src == "closed form"
            else f"{_pm(bayes, se)} (Monte Carlo, {int(s['prompts'])} prompts)"
        )
        print(f"Bayes MSE {bayes_text}; zero predictor {zero:.6f} ({zsrc}); MSE per component ‖x̂ − x‖²/n")
        print(" ".join(f"{name:>{w}}" for name, w, _ in _TRAIN_COLUMNS), flush=True)

    options = {}
    if args.layers is not None or args.tied is not None:
        if not args.model.startswith("depth_"):
            raise SettingsError(f"--layers and --tied need --model depth_linear or depth_softmax, not {args.model}",
                                "--layers")  # fmt: skip
        if args.layers is not None and args.layers < 1:
            raise SettingsError(f"--layers = {args.layers} must be >= 1", "--layers")
        options = {k: v for k, v in (("layers", args.layers), ("tied", args.tied)) if v is not None}

    def on_seed(row):
        cells = [fmt.format(row[_ROW_KEYS.get(name, name)]) for name, _, fmt in _TRAIN_COLUMNS]
        print(" ".join(f"{c:>{w}}" for c, (_, w, _) in zip(cells, _TRAIN_COLUMNS, strict=True)), flush=True)
        t = 0
        while f"lam_{t}" in row:  # a depth model: each weight set's λ, α, β
            print(f"    layer {t}{' (all layers, tied)' if row.get('tied') and row.get('layers', 1) > 1 else ''}: "
                  f"lambda {row[f'lam_{t}']:.5f}  alpha {row[f'alpha_{t}']:.5f}  beta {row[f'beta_{t}']:.5f}",
                  flush=True)  # fmt: skip
            t += 1

    try:
        res = train_case(
            args.case,
            args.model,
            seeds,
            progress=args.progress,
            on_start=on_start,
            on_seed=on_seed,
            style="option",
            model_options=options or None,
            **_overrides(args, keys),
        )
    except RuntimeError as exc:
        train = sys.modules.get("icdenoise.train")  # imported only once the settings are valid
        if train is None or not isinstance(exc, train.TrainingDiverged):
            raise
        print(f"{PROG} train: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    rows = res.rows
    if len(rows) > 1:
        t = rows["test_mse"]
        print(
            f"mean over {len(rows)} seeds: |alpha| {rows['abs_alpha'].mean():.5f}, "
            f"|beta| {rows['abs_beta'].mean():.5f}, alpha*beta {rows['alpha_beta'].mean():.5f}, "
            f"test MSE {t.mean():.7f} (min {t.min():.7f}, max {t.max():.7f}), "
            f"test/Bayes {rows['test_over_bayes'].mean():.4f}"
        )
    if out is not None:
        from .io import write_table

        curves_path = curves_file(out)
        write_table(rows, out)
        write_table(res.curves, curves_path)
        print(
            f"wrote {out} ({len(rows)} row{'s' if len(rows) > 1 else ''}, one per seed) and {curves_path} "
            f"({len(res.curves)} rows of curves)"
        )
    return 0


def curves_file(out: Path) -> Path:
    """run.parquet -> run.curves.parquet (the curves written next to the rows)."""
    out = Path(out)
    return out.with_name((out.name.removesuffix(".parquet")) + ".curves.parquet")


# ----------------------------------------------------------------------------------- bayes


def cmd_bayes(args, cfg) -> int:
    from .bayes import linear_attention_finite_L_mse, linear_attention_gamma_star

    explicit = args.cases is not None
    cases = list(dict.fromkeys(args.cases)) if explicit else [c for c in (cfg.get("cases") or {}) if c in CASES]
    common = _overrides(args, ("n", "L", "base_seed", "prompts"))
    task = _overrides(args, ("d", "R", "p", "sigma0_2", "sigma_z2"))
    if not explicit:
        unused = [k for k in task if not any(k in CASE_PARAMS[c] for c in cases)]
        if unused:
            raise SettingsError(f"--{unused[0].replace('_', '-')} applies to none of the cases {cases}", unused[0])
    # Validate every case before the (seconds-long) Monte Carlo of the first one.
    plans = []
    for case in cases:
        own = task if explicit else {k: v for k, v in task.items() if k in CASE_PARAMS[case]}
        plans.append((case, own, paper_settings(case, cfg, style="option", **common, **own)))
    for i, (case, own, s) in enumerate(plans):
        table = oracle_mses(case, seed=args.seed, config=cfg, style="option", **common, **own)
        if i:
            print()
        print(
            f"{case}: {_settings_text(s, with_L=case == 'subspace')} | MSE per component ‖x̂ − x‖²/n | "
            f"Monte Carlo: {int(s['prompts'])} fresh "
            f"prompts (seed index {args.seed})"
        )
        print(f"  {'estimator':<18} {'closed form':>12}   {'Monte Carlo ± SE':<22}  what")
        for est in dict.fromkeys(table["estimator"]):
            rows = table[table["estimator"] == est]
            closed = rows[rows["source"] == "closed form"]
            mc = rows[rows["source"] == "monte carlo"]
            c_text = f"{closed['mse'].iloc[0]:.6f}" if len(closed) else "-"
            m_text = _pm(mc["mse"].iloc[0], mc["mse_se"].iloc[0]) if len(mc) else "-"
            print(f"  {est:<18} {c_text:>12}   {m_text:<22}  {rows['description'].iloc[0]}")
        if case == "subspace":
            p = task_params(s)
            L, d, s0, sz = s["L"], p["d"], p["sigma0_2"], p["sigma_z2"]
            g = linear_attention_gamma_star(L, d, s0, sz)
            mse = linear_attention_finite_L_mse(L, s["n"], d, s0, sz)
            print(
                f"  linear attention with W_PV = αI, W_KQ = βI (Fig. 4a): γ*(L={L}) = αβ = {g:.6f}, MSE {mse:.6f}; "
                f"L → ∞: γ* = 1/(σ0²+σZ²) = {1 / (s0 + sz):.6f}, MSE → Bayes"
            )
    return 0


# ----------------------------------------------------------------------------------- check-config


def cmd_check_config(args, cfg) -> int:
    from .config import ConfigError, device_error, prepare_config

    path = Path(args.file)
    if not path.is_file():
        raise SettingsError(f"{args.file}: no such file", "FILE")
    override = load_config(path)
    merged = merge_config(cfg, override)
    try:  # what the workflow does: `key: null` removes a key, dependent settings follow, run_name
        followed = prepare_config(merged, schema_path(), cli_config={}, configfiles=[path])
    except ConfigError as exc:
        lines = str(exc).splitlines()
        print(f"{PROG} check-config: {args.file} (merged onto config/config.yaml): {lines[0]}", file=sys.stderr)
        for line in lines[1:]:
            print(line, file=sys.stderr)
        return 2
    if followed:
        print(followed, file=sys.stderr)
    warning = device_error(merged, local_exec=True)
    if warning:
        print(f"warning (only for jobs run on this machine): {warning}", file=sys.stderr)
    print("ok")
    return 0


# ----------------------------------------------------------------------------------- claims

CLAIM_COLUMNS = list(CLAIM_TEXT_COLUMNS)  # the ten text columns of claims.parquet
_COMPACT = ["id", "paper_value", "reproduced", "spread", "verdict"]
_WIDTH = {"id": 28, "paper_value": 18, "reproduced": 18, "spread": 24, "verdict": 28}


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return " ".join(str(value).split())


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_claims(args, cfg) -> int:
    import pandas as pd

    path = Path(args.results) / "tables" / "claims.parquet"
    if not path.is_file():
        raise SettingsError(
            f"{path} not found: the workflow's claims rule writes it (in the checkout: `snakemake --cores 8 "
            "results/paper/tables/claims.parquet`, or the whole run: `make reproduce`)",
            "RESULTS_DIR",
        )
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several kinds
        raise SettingsError(f"{path}: not a readable parquet table ({type(exc).__name__})", "RESULTS_DIR") from None
    missing = [c for c in _COMPACT if c not in df.columns]
    if missing:
        raise SettingsError(f"{path} lacks the column(s) {missing}; expected {', '.join(CLAIM_COLUMNS)}", "RESULTS_DIR")
    cells = [
        [_clip(_cell(v), _WIDTH[c]) for c, v in zip(_COMPACT, row, strict=True)]
        for row in df[_COMPACT].itertuples(index=False)
    ]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(_COMPACT)]
    print("  ".join(c.ljust(w) for c, w in zip(_COMPACT, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    if args.wide:
        for _, row in df.iterrows():
            print(f"\n{_cell(row['id'])}")
            for col in CLAIM_COLUMNS:
                if col in df.columns and col != "id":
                    print(f"  {col + ':':<18}{_cell(row[col])}")
    verdicts = df["verdict"].map(lambda v: _cell(v).lower())
    n_ok = int((verdicts == "reproduced").sum())
    n_unchecked = int(verdicts.str.startswith("not checkable").sum())
    print(f"\n{n_ok} of {len(df)} claims reproduced ({n_unchecked} not checkable at this scale)")
    failed = len(df) - n_ok - n_unchecked
    return 1 if args.strict and failed else 0


# ----------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``icdenoise`` console script and of ``python -m icdenoise``."""
    try:
        cfg = load_config()
    except SettingsError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    args = build_parser(cfg).parse_args(argv)
    try:
        return args.func(args, cfg)
    except SettingsError as exc:
        print(f"{PROG} {args.command}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `icdenoise claims | head`
        sys.stderr.close()
        return 0
