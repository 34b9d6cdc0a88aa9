rule sample_prompts:
    """Sample n_train + n_test prompts of one case from one data seed (numpy, no torch)."""
    output:
        f"{RESULTS}/data/{{case}}/seed{{seed}}.npz",
    log:
        f"{RESULTS}/logs/sample_prompts/{{case}}_seed{{seed}}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        case_params=lambda w: {
            k: v for k, v in config["cases"][w.case].items() if k != "epochs"
        },
        n=config["n"],
        L=config["L"],
        num_prompts=config["n_train"] + config["n_test"],
        rng_seed=lambda w: seed_for("data", w.case, w.seed),
    script:
        "../scripts/sample_prompts.py"
