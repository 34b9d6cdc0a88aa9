# Claims (claims): the reproduction verdict. Every claim of the paper against this run's tables,
# the deviations from the authors' code with their measured effect, and the report's verdict pages.

CLAIMS = config["claims"]
# Deviation (c): the Figure 3 subspace/linear runs retrained on the other dataset choice.
OTHER_DATASET = "shared" if config["dataset"] == "per_seed" else "per_seed"
DATASET_CHOICE = (
    "subspace" in CASES and "linear" in MODELS and CLAIMS["dataset_choice"]
)


def other_data_seed(seed):
    """The sampling seed of a training seed's dataset under the other dataset choice."""
    s = int(config["shared_data_seed"]) if OTHER_DATASET == "shared" else int(seed)
    return seed_for("data", "subspace", s)


if DATASET_CHOICE:

    rule train_dataset_choice:
        """Deviation (c): the subspace/linear Figure 3 runs retrained, every seed, on the other dataset choice."""
        output:
            f"{RESULTS}/tables/dataset_choice.parquet",
        log:
            f"{RESULTS}/logs/train_dataset_choice.log",
        benchmark:
            f"{RESULTS}/benchmarks/train_dataset_choice.tsv"
        conda:
            "../../envs/train.yaml"
        threads: config["train"]["threads"]
        resources:
            gpu=gpu_tokens(),
        params:
            dataset=OTHER_DATASET,
            case="subspace",
            model="linear",
            seeds=SEEDS,
            data_seeds={s: other_data_seed(s) for s in SEEDS},
            train_seeds={s: seed_for("train", "subspace", "linear", s) for s in SEEDS},
            n=config["n"],
            L=config["L"],
            n_train=config["n_train"],
            n_test=config["n_test"],
            case_params=case_params("subspace"),
            epochs=config["cases"]["subspace"]["epochs"],
            train_settings=TRAIN_SETTINGS,
            device=config["device"],
        script:
            "../scripts/train_dataset_choice.py"
