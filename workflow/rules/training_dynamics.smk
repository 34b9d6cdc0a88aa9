rule train:
    """Train one attention model (Figure 3): one job per (case, model, seed)."""
    input:
        data=data_file,
    output:
        run=f"{RESULTS}/runs/fig3/{{case}}/{{model}}/seed{{seed}}.npz",
    log:
        f"{RESULTS}/logs/train/{{case}}_{{model}}_seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{case}}_{{model}}_seed{{seed}}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=gpu_tokens(),
    params:
        epochs=lambda w: config["cases"][w.case]["epochs"],
        n_train=config["n_train"],
        train_settings=config["train"],
        device=config["device"],
        train_seed=lambda w: seed_for("train", w.case, w.model, w.seed),
    script:
        "../scripts/train.py"
