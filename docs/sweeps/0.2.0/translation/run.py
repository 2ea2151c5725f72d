"""One translator of a recipe, trained on every training-catalog pair, scored beside its baselines.

Builds and trains the translator of `scripts/generation_results.py`'s
translation stage (`generation.TRANSLATION_RECIPE`, any field changed by a flag)
on all gettext training pairs of one direction, decodes that script's test
sample (300 UI messages of unseen programs, same seed) greedily every
`--every` epochs and scores it as the script does (sacrebleu, lowercased,
`zh` tokenization for Chinese), beside the translation memory over the
same training pairs and copying the source. `train_minutes` counts `fit`
only (the curve's decoding is left out). Each run is a record of
`--output` (JSON, keyed by `--name`: a name already there is not run
again); the PNG beside it draws every run's curve.

    python docs/sweeps/0.2.0/translation/run.py --name en-zh_base --direction en-zh \
        --output docs/sweeps/0.2.0/translation/runs.json
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
    recipe = {key: getattr(args, key) for key in generation.TRANSLATION_RECIPE}
    splits = parallel.gettext_pairs()
    test = results_script.sample(splits["test"], TEST_PAIRS, args.seed)
    train = splits["train"][:args.max_train_pairs]
    showcase = parallel.showcase_pairs(test, count=5)
    direction, train, test, showcase = next(
        d for d in results_script.directions(train, test, showcase) if d[0] == args.direction)
    language = direction[-2:]
    scores, _ = results_script.translation_baselines(train, test, showcase, language)
    lm = results_script.build_model(train, recipe, args.hidden_size, args.num_layers,
                                    args.sequence_length, args.seed, separate_vocabularies=True)
    curve = []
    scorer = HeldOutScores(test, language, recipe["sequence_length"], args.every, args.epochs,
                           curve)
    minutes = results_script.train_by_recipe(lm, train, recipe, args.epochs, args.seed,
                                             callbacks=[scorer])
    outputs = generation.generate(lm, [s for s, _ in showcase], recipe["sequence_length"])
    return {
        "name": args.name, "direction": direction,
        "recipe": {**recipe, "seed": args.seed},
        "dtype_policy": lm.backbone.dtype_policy.name, "train_pairs": len(train),
        "test_pairs": len(test), "steps": int(lm.optimizer.iterations),
        "train_minutes": round(minutes, 2), "model": curve[-1], "curve": curve,
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
            axis.text(0.01, value["chrf"], f"{name} chrF", fontsize=7, va="bottom",
                      transform=axis.get_yaxis_transform())
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
    parser.add_argument("--every", type=int, default=1, help="decode the test sample every N "
                        "epochs (and after the last)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max_train_pairs", type=int, help="a smoke run: the first N pairs")
    # The recipe: `generation.TRANSLATION_RECIPE` unless a flag changes a field.
    for key, value in generation.TRANSLATION_RECIPE.items():
        parser.add_argument(f"--{key}", type=type(value), default=value)
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
