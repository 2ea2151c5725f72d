"""Held-out exact match of `examples/captioning.py`'s captioner against training epochs, per seed.

Trains the example's captioner (its defaults but `--epochs`) once per seed,
decoding the 1,000 held-out images every `--every` epochs; writes every
score to `--output` (JSON) and the curve, mean ± std over seeds, beside it
(PNG).

    python docs/sweeps/0.2.0/captioning/curve.py --language en --seeds 0,1,2 --epochs 30 \
        --output docs/sweeps/0.2.0/captioning/curve_en.json
"""

import argparse
import importlib.util
import json
import pathlib
import time

import keras
import numpy as np

from electra_tf.training import baselines

ROOT = pathlib.Path(__file__).resolve().parents[4]
spec = importlib.util.spec_from_file_location("captioning_example",
                                              ROOT / "examples" / "captioning.py")
example = importlib.util.module_from_spec(spec)
spec.loader.exec_module(example)


class HeldOutScores(keras.callbacks.Callback):
    """Decodes the held-out images every `every` epochs into `rows`."""

    def __init__(self, images, captions, language, length, every, rows, base):
        super().__init__()
        self.images, self.captions, self.language = images, captions, language
        self.length = length
        self.every, self.rows, self.base = every, rows, base
        self.began = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        outputs = self.model.generate(self.images, max_length=self.length)
        scores = baselines.caption_scores(list(outputs), self.captions, self.language)
        self.rows.append({**self.base, "epoch": epoch + 1,
                          "train_minutes": (time.perf_counter() - self.began) / 60, **scores})
        print(json.dumps(self.rows[-1]), flush=True)


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = sorted({r["epoch"] for r in rows})
    figure, axis = plt.subplots(figsize=(6, 4))
    for metric in ("exact_match", "digit_accuracy"):
        scores = [[r[metric] for r in rows if r["epoch"] == e] for e in epochs]
        mean, std = np.array([np.mean(s) for s in scores]), np.array([np.std(s) for s in scores])
        axis.plot(epochs, mean, marker="o", label=metric.replace("_", " "))
        axis.fill_between(epochs, mean - std, mean + std, alpha=0.2)
    axis.axhline(0.9, color="gray", linestyle="--", label="issue target (exact match)")
    axis.set_xlabel("epochs of 20,000 images (625 steps each)")
    axis.set_ylabel("held-out score (1,000 images)")
    axis.set_title(f"digit captioning, {rows[0]['language']}: mean ± std over "
                   f"{len({r['seed'] for r in rows})} seeds")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--language", default="en")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    output = pathlib.Path(args.output)
    rows = json.loads(output.read_text())["rows"] if output.is_file() else []
    for seed in [int(s) for s in args.seeds.split(",")]:
        if any(r["seed"] == seed for r in rows):
            continue
        options = example.parse_args(["--language", args.language, "--epochs",
                                      str(args.epochs), "--seed", str(seed)])
        _, _, test_images, test_captions = example.make_data(options)
        seed_rows = []
        callback = HeldOutScores(test_images, test_captions, args.language,
                                 options.digits + 2, args.every,
                                 seed_rows, {"language": args.language, "seed": seed})
        example.run(options, callbacks=[callback])
        rows += seed_rows
        output.write_text(json.dumps({"command": "python docs/sweeps/0.2.0/captioning/curve.py "
                                      f"--language {args.language} --seeds {args.seeds} "
                                      f"--epochs {args.epochs} --every {args.every}",
                                      "rows": rows}, indent=1) + "\n")
    plot(rows, output.with_suffix(".png"))


if __name__ == "__main__":
    main()
