"""One translator of a recipe, trained on every training-catalog pair, scored beside its baselines.

Trains `generation.build_lm` + `generation.train` (the library's translator,
what `scripts/translate.py` runs) on all gettext training pairs of one
direction, decodes the test sample of `scripts/generation_results.py` (300
UI messages of unseen programs, same seed) greedily every `--every` epochs
and scores it as that script does (sacrebleu, lowercased, `zh` tokenization
for Chinese), beside the translation memory over the same training pairs
and copying the source. `train_minutes` counts `fit` only (decoding for the
curve is left out). Each run is a record of `--output` (JSON, keyed by
`--name`: a name already there is not run again); `--plot` draws every
run's curve.

    python docs/sweeps/0.2.0/translation/run.py --name en-zh_e16 --direction en-zh \
        --epochs 16 --output docs/sweeps/0.2.0/translation/runs.json
"""

import argparse
import importlib.util
import json
import pathlib
import time
import warnings

import keras

from electra_tf import precision
from electra_tf.data import parallel
from electra_tf.training import generation

ROOT = pathlib.Path(__file__).resolve().parents[4]
spec = importlib.util.spec_from_file_location("generation_results",
                                              ROOT / "scripts" / "generation_results.py")
results_script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(results_script)
TEST_PAIRS = results_script.BUDGETS["full"]["test_pairs"]


class HeldOutScores(keras.callbacks.Callback):
    """Translates the test sources every `every` epochs (and after the last) into `curve`;
    `fit_minutes` leaves the decoding out."""

    def __init__(self, test_pairs, language, length, every, epochs, curve):
        super().__init__()
        self.test_pairs, self.language, self.length = test_pairs, language, length
        self.every, self.epochs, self.curve = every, epochs, curve
        self.decoding_seconds = 0.0

    def on_train_begin(self, logs=None):
        self.began = time.perf_counter()

    def fit_minutes(self):
        return (time.perf_counter() - self.began - self.decoding_seconds) / 60

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every and epoch + 1 != self.epochs:
            return
        minutes, began = self.fit_minutes(), time.perf_counter()
        translations = generation.generate(self.model, [s for s, _ in self.test_pairs],
                                           self.length)
        scores = generation.corpus_scores(translations, [t for _, t in self.test_pairs],
                                          self.language, lowercase=True)
        self.decoding_seconds += time.perf_counter() - began
        self.curve.append({"epoch": epoch + 1, "train_minutes": round(minutes, 2),
                           "loss": float(logs["loss"]), **scores})
        print(json.dumps(self.curve[-1]), flush=True)


def train_and_score(args):
    # A few test sources are longer than the encoder reads; said once, not at every decoding.
    warnings.filterwarnings("ignore", message=".*source\\(s\\) longer than")
    splits = parallel.gettext_pairs()
    test = results_script.sample(splits["test"], TEST_PAIRS, args.seed)
    train = splits["train"][:args.max_train_pairs]
    showcase = parallel.showcase_pairs(test, count=5)
    if args.direction == "zh-en":
        train, test, showcase = ([(t, s) for s, t in pairs] for pairs in (train, test, showcase))
    language = args.direction[-2:]
    scores, _ = results_script.translation_baselines(train, test, showcase, language)
    keras.utils.set_random_seed(args.seed)
    lm = generation.build_lm(
        train, separate_vocabularies=True, vocab_size=args.vocab_size,
        hidden_size=args.hidden_size, num_layers=args.num_layers, dropout=args.dropout,
        sequence_length=args.sequence_length,
        dtype_policy=precision.resolve_dtype_policy(args.dtype_policy))
    curve = []
    scorer = HeldOutScores(test, language, args.sequence_length, args.every, args.epochs, curve)
    generation.train(lm, train, epochs=args.epochs, batch_size=args.batch_size,
                     learning_rate=args.learning_rate, label_smoothing=args.label_smoothing,
                     seed=args.seed, callbacks=[scorer], schedule=args.schedule,
                     warmup_fraction=args.warmup_fraction)
    outputs = generation.generate(lm, [s for s, _ in showcase], args.sequence_length)
    return {
        "name": args.name, "direction": args.direction, "recipe": {
            key: getattr(args, key) for key in (
                "epochs", "batch_size", "learning_rate", "schedule", "warmup_fraction",
                "label_smoothing", "hidden_size", "num_layers", "dropout", "vocab_size",
                "sequence_length", "seed")},
        "dtype_policy": lm.backbone.dtype_policy.name, "train_pairs": len(train),
        "test_pairs": len(test), "steps": args.epochs * -(-len(train) // args.batch_size),
        "train_minutes": curve[-1]["train_minutes"], "model": curve[-1], "curve": curve,
        "perplexity": generation.perplexity(lm, test),
        "baselines": {name.split(" (")[0]: value for name, value in scores.items()},
        "samples": [[s, t, o] for (s, t), o in zip(showcase, outputs)],
    }


def plot(runs, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directions = sorted({run["direction"] for run in runs})
    figure, axes = plt.subplots(1, len(directions), figsize=(6 * len(directions), 4),
                                squeeze=False)
    for axis, direction in zip(axes.flat, directions):
        chosen = [run for run in runs if run["direction"] == direction]
        for run in chosen:
            axis.plot([p["train_minutes"] for p in run["curve"]],
                      [p["chrf"] for p in run["curve"]], marker="o", label=f"{run['name']} chrF")
            axis.plot([p["train_minutes"] for p in run["curve"]],
                      [p["bleu"] for p in run["curve"]], marker="x", linestyle=":",
                      label=f"{run['name']} BLEU")
        for name, value in chosen[-1]["baselines"].items():
            axis.axhline(value["chrf"], color="gray", linestyle="--", linewidth=1)
            axis.annotate(f"{name} chrF", (0, value["chrf"]), fontsize=7)
        axis.set_xlabel("training minutes (fit)")
        axis.set_ylabel(f"score on {chosen[-1]['test_pairs']} unseen UI messages")
        axis.set_title(f"gettext {direction}", fontsize=10)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--direction", choices=["en-zh", "zh-en"], default="en-zh")
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--every", type=int, default=2)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--schedule", default="linear")
    parser.add_argument("--warmup_fraction", type=float, default=0.05)
    parser.add_argument("--label_smoothing", type=float, default=0.1)
    parser.add_argument("--hidden_size", type=int, default=256)
    parser.add_argument("--num_layers", type=int, default=4)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--vocab_size", type=int, default=8000)
    parser.add_argument("--sequence_length", type=int, default=64)
    parser.add_argument("--dtype_policy", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max_train_pairs", type=int, help="a smoke run: the first N pairs")
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    output = pathlib.Path(args.output)
    runs = json.loads(output.read_text()) if output.exists() else []
    if any(run["name"] == args.name for run in runs):
        print(f"{args.name}: in {output} already")
    else:
        run = train_and_score(args)
        runs = json.loads(output.read_text()) if output.exists() else []
        runs.append({**run, "command": "python docs/sweeps/0.2.0/translation/run.py " + " ".join(
            f"--{k} {v}" for k, v in vars(args).items())})
        output.write_text(json.dumps(runs, indent=1, ensure_ascii=False) + "\n")
    plot(runs, output.with_suffix(".png"))


if __name__ == "__main__":
    main()
