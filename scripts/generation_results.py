"""Measures the generation results the README reports, on a fixed CPU budget.

    python scripts/generation_results.py --out runs/generation_results   # ~60 min on 2 busy CPU cores
    python scripts/generation_results.py --out /tmp/smoke --quick        # a smoke run
    python scripts/generation_results.py --stages poems,captioning      # some stages only

Writes `results.json` and `results.md` (the README's table) to `--out`:

1. **Translation, en→zh and zh→en, cold vs warm encoder.** One small
   bilingual ELECTRA is pre-trained on both sides of the *training* catalogs
   only (the test catalogs are never seen, not even as unlabelled text), and
   both directions are then trained twice with its tokenizer and shape: once
   with its pre-trained discriminator as the encoder (warm), once with the
   same encoder randomly initialised (cold). Same seed, data, steps,
   learning rate and initial decoder weights, so the encoder's weights are the
   only difference. One bilingual pre-training serves both directions because
   warm-starting en→zh needs an encoder that has read English, and zh→en one
   that has read Chinese. The vocabulary is the pre-trained model's (uncased),
   so BLEU / chrF are case-insensitive; Chinese targets use sacrebleu's `zh`
   tokenization. Decoding is greedy.
2. **Poetry perplexity**: first line → the rest of the poem on fortunes-zh,
   every 20th poem held out.
3. **Captioning exact match** on two-digit images composed from held-out
   `load_digits` scans, English and Chinese captions (`examples/captioning.py`).

Decoding speed is not measured here: time `benchmarks/decoding.py` on an idle
machine (figures in benchmarks/README.md).
"""

import argparse
import importlib.util
import json
import pathlib
import random
import time

import keras

from electra_tf import ElectraConfig
from electra_tf.data import parallel
from electra_tf.training import generation
from electra_tf.training.pretrain import run_pretraining

ROOT = pathlib.Path(__file__).resolve().parent.parent

# (full run, --quick): a smoke-sized budget, chosen for two CPU cores shared
# with other jobs (about an hour there at a load of 10).
BUDGETS = {
    "train_pairs": (4000, 64),
    "test_pairs": (300, 16),
    "pretrain_steps": (600, 4),
    "translation_epochs": (2, 1),
    "poem_epochs": (10, 1),
    "caption_train_images": (2000, 64),
    "caption_epochs": (4, 1),
}
STAGES = ("translation", "poems", "captioning")
SEQUENCE_LENGTH = 32
LEARNING_RATE = 5e-4
BATCH_SIZE = 32


def pretraining_config(steps):
    """A 2-layer, 128-wide ELECTRA: small enough to pre-train in minutes."""
    return ElectraConfig.from_preset("tiny").replace(
        name="bilingual_tiny", embedding_size=128, hidden_size=128, num_layers=2, num_heads=2,
        intermediate_size=512, generator_hidden_fraction=0.25, max_position_embeddings=64,
        sequence_length=32, batch_size=32, dropout=0.1, learning_rate=1e-3,
        warmup_steps=max(1, steps // 10), train_steps=steps,
    )


def write_bilingual_corpus(pairs, path):
    """Each training pair is one document: its English line, then its Chinese line."""
    with open(path, "w", encoding="utf-8") as handle:
        for source, target in pairs:
            handle.write(f"{source}\n{target}\n\n")


def translation_results(args, out, budget, log):
    splits = parallel.gettext_pairs()
    rng = random.Random(args.seed)
    train = rng.sample(splits["train"], min(budget["train_pairs"], len(splits["train"])))
    test = rng.sample(splits["test"], min(budget["test_pairs"], len(splits["test"])))
    corpus = out / "bilingual_train_catalogs.txt"
    # All training catalogs (not only the sampled pairs): unlabelled text is
    # cheap, and none of it comes from a test catalog.
    write_bilingual_corpus(splits["train"], corpus)
    start = time.time()
    pretrained = out / "bilingual_electra"
    pretraining = run_pretraining(
        pretraining_config(budget["pretrain_steps"]), [str(corpus)], pretrained,
        vocab_size=args.vocab_size, seed=args.seed, verbose=2,
    )
    log("pretraining", time.time() - start)
    results = {
        "train_catalog_pairs": len(splits["train"]), "train_pairs": len(train),
        "test_pairs": len(test), "test_catalogs": len(splits["test_catalogs"]),
        "pretrain_steps": budget["pretrain_steps"],
        "pretraining_history": {k: float(v[-1]) for k, v in pretraining.history.items()},
        "runs": [],
    }
    for direction in ("en_zh", "zh_en"):
        flip = direction == "zh_en"
        train_pairs = [(t, s) for s, t in train] if flip else train
        test_pairs = [(t, s) for s, t in test] if flip else test
        for warm in (False, True):
            start = time.time()
            keras.utils.set_random_seed(args.seed)
            lm = generation.build_lm(train_pairs, encoder=pretrained, warm_start=warm,
                                     dropout=0.1, sequence_length=SEQUENCE_LENGTH)
            generation.train(lm, train_pairs, epochs=budget["translation_epochs"],
                             batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE, seed=args.seed)
            run = {"direction": direction, "encoder": "warm" if warm else "cold",
                   "perplexity": generation.perplexity(lm, test_pairs)}
            lm.compile(sampler="greedy")
            run.update(generation.score(lm, test_pairs, target_language=direction[-2:],
                                        max_length=SEQUENCE_LENGTH, lowercase=True))
            run["samples"] = [
                [s, t, h] for (s, t), h in zip(test_pairs[:3], generation.generate(
                    lm, [s for s, _ in test_pairs[:3]], SEQUENCE_LENGTH))
            ]
            log(f"{direction} {run['encoder']}", time.time() - start, run)
            results["runs"].append(run)
    return results


def poem_results(args, budget, log):
    start = time.time()
    splits = generation.builtin_dataset("poems", args.fortunes_dir)
    train, test = splits["train"], splits["test"]
    if args.quick:
        train, test = train[:32], test[:4]
    keras.utils.set_random_seed(args.seed)
    lm = generation.build_lm(train, vocab_size=args.vocab_size, hidden_size=128, num_layers=2,
                             sequence_length=96)
    generation.train(lm, train, epochs=budget["poem_epochs"], batch_size=BATCH_SIZE,
                     learning_rate=LEARNING_RATE, seed=args.seed)
    results = {"train_poems": len(train), "test_poems": len(test),
               "epochs": budget["poem_epochs"], "perplexity": generation.perplexity(lm, test)}
    lm.compile(sampler="greedy")
    results["sample"] = [test[0][0], generation.generate(lm, [test[0][0]], 64)[0]]
    log("poems", time.time() - start, results)
    return results


def caption_results(args, budget, log):
    spec = importlib.util.spec_from_file_location("captioning_example",
                                                  ROOT / "examples" / "captioning.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    results = {"train_images": budget["caption_train_images"],
               "epochs": budget["caption_epochs"]}
    for language in ("en", "zh"):
        start = time.time()
        results[f"exact_match_{language}"] = example.main([
            "--language", language, "--epochs", str(budget["caption_epochs"]),
            "--train_images", str(budget["caption_train_images"]),
            "--test_images", "1000", "--seed", str(args.seed),
        ])
        log(f"captioning {language}", time.time() - start)
    return results


def markdown(results):
    """The README's tables, for whichever stages `results` holds."""
    lines = []
    if "translation" in results:
        lines += ["| task | encoder | BLEU | chrF | perplexity |",
                  "| --- | --- | --- | --- | --- |"]
        for run in results["translation"]["runs"]:
            arrow = "en→zh" if run["direction"] == "en_zh" else "zh→en"
            lines.append(f"| {arrow} | {run['encoder']} | {run['bleu']:.2f} | {run['chrf']:.2f} "
                         f"| {run['perplexity']:.1f} |")
        lines.append("")
    rows = []
    if "poems" in results:
        poems = results["poems"]
        rows.append(f"| poems (first line → rest), {poems['test_poems']} held-out poems "
                    f"| perplexity | {poems['perplexity']:.1f} |")
    if "captioning" in results:
        for language, name in (("en", "English"), ("zh", "Chinese")):
            rows.append(f"| captioning, 2 digits, 1000 held-out images, {name} | exact match "
                        f"| {results['captioning'][f'exact_match_{language}']:.3f} |")
    if rows:
        lines += ["| task | metric | value |", "| --- | --- | --- |", *rows, ""]
    lines.append(f"Total time: {results['seconds'] / 60:.0f} min.")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/generation_results", help="output directory")
    parser.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vocab_size", type=int, default=6000)
    parser.add_argument("--fortunes_dir", default=None, help="fortunes-zh poems directory")
    parser.add_argument("--stages", default=",".join(STAGES),
                        help="comma-separated subset of " + ",".join(STAGES))
    args = parser.parse_args(argv)
    budget = {key: values[1 if args.quick else 0] for key, values in BUDGETS.items()}
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    began = time.time()
    timings = {}

    def log(stage, seconds, values=None):
        timings[stage] = round(seconds)
        print(f"== {stage}: {seconds / 60:.1f} min {json.dumps(values or {}, ensure_ascii=False)}",
              flush=True)

    results = {"budget": budget, "seed": args.seed, "sequence_length": SEQUENCE_LENGTH,
               "learning_rate": LEARNING_RATE, "batch_size": BATCH_SIZE}
    stages = args.stages.split(",")
    unknown = set(stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stage(s) {sorted(unknown)}: choose from {', '.join(STAGES)}")
    if "translation" in stages:
        results["translation"] = translation_results(args, out, budget, log)
    if "poems" in stages:
        results["poems"] = poem_results(args, budget, log)
    if "captioning" in stages:
        results["captioning"] = caption_results(args, budget, log)
    results["seconds"] = round(time.time() - began)
    results["stage_seconds"] = timings
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (out / "results.md").write_text(markdown(results))
    print(markdown(results))
    return results


if __name__ == "__main__":
    main()
