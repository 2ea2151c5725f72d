"""Recipe levers at one of the budget study's budgets (FLOPs of zh_hour or zh_hour_mlm).

Each variant changes fields of its base preset (`zh_hour`: ELECTRA; `mlm_*`
variants: `zh_hour_mlm`), pre-trains it for exactly the FLOPs of the study's
`<objective>-<budget>` run, then probes (first seed only) and
fine-tunes it (every seed, `zh_1k_fair`) on both tasks exactly as the study's
cells do, on the study's corpus and vocabulary. Resumable: a finished
(variant, seed) is skipped, an unfinished pre-training run resumes from its
checkpoint.

    # 1e14 FLOPs, seed 0 (levers.json)
    python docs/sweeps/0.2.0/levers.py /work/study_runs docs/sweeps/0.2.0/levers.json
    # 2e14 FLOPs, temperature 2, seeds 0-2 (levers_2e14.json)
    python docs/sweeps/0.2.0/levers.py /work/study_runs docs/sweeps/0.2.0/levers_2e14.json \
        --budget 2e14 --variants temperature_2 --seeds 0,1,2
    # the masked LM with 30% of tokens masked, 1e14 FLOPs, seeds 0-2 (mlm_levers.json)
    python docs/sweeps/0.2.0/levers.py /work/study_runs docs/sweeps/0.2.0/mlm_levers.json \
        --variants mlm_mask_30 --seeds 0,1,2
"""

import argparse
import json
import pathlib

from electra_tf import ElectraConfig
from electra_tf.config import FinetuneConfig
from electra_tf.training import budget_study, finetune, probe
from electra_tf.training.pretrain import run_pretraining

VARIANTS = {
    "generator_quarter": {"generator_hidden_fraction": 0.25},
    "temperature_2": {"sampling_temperature": 2.0},
    "quarter_temperature_2": {"generator_hidden_fraction": 0.25, "sampling_temperature": 2.0},
    # Wettig et al. 2022 ("Should you mask 15% in MLM?"): 40% beats 15% for small budgets.
    "mlm_mask_30": {"mask_probability": 0.3},
    "mlm_mask_40": {"mask_probability": 0.4},
}
DATASETS = ("chinese_sentiment", "peoples_daily_ner")


def run_dir_name(name, budget):
    # The 1e14 runs predate the budget suffix.
    return name if budget == 1e14 else f"{name}-{budget:.3g}"


def main(study_dir, output, budget, variants, seeds):
    study_dir, output = pathlib.Path(study_dir), pathlib.Path(output)
    corpus = study_dir / "corpus"
    train = sorted(str(p) for p in corpus.glob("train-*.txt"))
    heldout = [str(corpus / "heldout.txt")]
    vocab = str(study_dir / "vocab.txt")
    results = json.loads(output.read_text()) if output.is_file() else {}
    recipe = FinetuneConfig.from_preset("zh_1k_fair")
    for name in variants:
        change = VARIANTS[name]
        base = "zh_hour_mlm" if name.startswith("mlm_") else "zh_hour"
        config = ElectraConfig.from_preset(base).replace(**change)
        run_dir = study_dir / "levers" / run_dir_name(name, budget)
        run = run_pretraining(config, train, run_dir, heldout_files=heldout, vocab_file=vocab,
                              checkpoint_steps=500, budget_flops=budget, verbose=2)
        summary = json.loads((run_dir / "pretraining_summary.json").read_text())
        row = results.setdefault(name, {})
        row.update({"base": base, "change": change, "budget_flops": budget,
                    "steps": summary["steps_done"], "flops": summary["total_flops"],
                    "heldout": run.eval_metrics})
        for seed in seeds:
            for dataset in DATASETS:
                task = finetune.BUILTIN_DATASETS[dataset]
                metric = budget_study.METRICS[task]
                # Seed 0 keeps the 1e14 file's key names.
                suffix = "" if seed == 0 else f"_seed{seed}"
                spec = finetune.FinetuneSpec(
                    task=task, dataset=dataset, init_from=str(run_dir), vocab_file=vocab,
                    seed=seed, recipe=recipe, model_dir=str(
                        study_dir / "levers" / f"{run_dir_name(name, budget)}_{dataset}{suffix}"))
                if seed == seeds[0] and f"{dataset}_probe{suffix}" not in row:
                    row[f"{dataset}_probe{suffix}"] = probe.run_probe(spec)["test"][metric]
                    output.write_text(json.dumps(results, indent=2) + "\n")
                if f"{dataset}_finetune{suffix}" not in row:
                    row[f"{dataset}_finetune{suffix}"] = (
                        finetune.run_finetuning(spec)["test"][metric])
                    output.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps({name: row}), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study_dir")
    parser.add_argument("output")
    parser.add_argument("--budget", type=float, default=1e14)
    parser.add_argument("--variants", default="generator_quarter,temperature_2")
    parser.add_argument("--seeds", default="0")
    args = parser.parse_args()
    main(args.study_dir, args.output, args.budget, args.variants.split(","),
         [int(s) for s in args.seeds.split(",")])
