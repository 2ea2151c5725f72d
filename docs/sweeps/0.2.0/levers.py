"""ELECTRA recipe levers at the budget study's smallest budget (1e14 FLOPs of zh_hour).

Each variant changes one field of `zh_hour`, pre-trains ELECTRA for exactly the
FLOPs of the study's `electra-1e+14` run, then probes and fine-tunes it (seed 0,
`zh_1k_fair`) on both tasks exactly as the study's cells do, on the study's
corpus and vocabulary. Resumable: a finished variant is skipped, an unfinished
pre-training run resumes from its checkpoint.

    python docs/sweeps/0.2.0/levers.py /work/study_runs docs/sweeps/0.2.0/levers.json
"""

import json
import pathlib
import sys

from electra_tf import ElectraConfig
from electra_tf.config import FinetuneConfig
from electra_tf.training import budget_study, finetune, probe
from electra_tf.training.pretrain import run_pretraining

BUDGET = 1e14
VARIANTS = {
    "generator_quarter": {"generator_hidden_fraction": 0.25},
    "temperature_2": {"sampling_temperature": 2.0},
}
DATASETS = ("chinese_sentiment", "peoples_daily_ner")


def main(study_dir, output):
    study_dir, output = pathlib.Path(study_dir), pathlib.Path(output)
    corpus = study_dir / "corpus"
    train = sorted(str(p) for p in corpus.glob("train-*.txt"))
    heldout = [str(corpus / "heldout.txt")]
    vocab = str(study_dir / "vocab.txt")
    results = json.loads(output.read_text()) if output.is_file() else {}
    recipe = FinetuneConfig.from_preset("zh_1k_fair")
    for name, change in VARIANTS.items():
        if name in results:
            continue
        config = ElectraConfig.from_preset("zh_hour").replace(**change)
        run_dir = study_dir / "levers" / name
        run = run_pretraining(config, train, run_dir, heldout_files=heldout, vocab_file=vocab,
                              checkpoint_steps=500, budget_flops=BUDGET, verbose=2)
        summary = json.loads((run_dir / "pretraining_summary.json").read_text())
        row = {"change": change, "steps": summary["steps_done"],
               "flops": summary["total_flops"], "heldout": run.eval_metrics}
        for dataset in DATASETS:
            task = finetune.BUILTIN_DATASETS[dataset]
            metric = budget_study.METRICS[task]
            spec = finetune.FinetuneSpec(
                task=task, dataset=dataset, init_from=str(run_dir), vocab_file=vocab, seed=0,
                model_dir=str(study_dir / "levers" / f"{name}_{dataset}"), recipe=recipe)
            row[f"{dataset}_probe"] = probe.run_probe(spec)["test"][metric]
            row[f"{dataset}_finetune"] = finetune.run_finetuning(spec)["test"][metric]
        results[name] = row
        output.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps({name: row}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
