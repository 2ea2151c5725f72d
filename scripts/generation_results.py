"""Measures the generation results the docs report, each beside a baseline, on a fixed CPU budget.

    python scripts/generation_results.py --out runs/generation_results   # about 2 h, 2 idle cores
    python scripts/generation_results.py --out /tmp/smoke --quick        # real data, smoke budgets
    python scripts/generation_results.py --out /tmp/tiny --tiny          # built-in fixtures: seconds
    python scripts/generation_results.py --stages poems,continuation    # some stages only
    python scripts/generation_results.py --stages warm_start            # warm vs cold encoder
    python scripts/generation_results.py --baselines_only --out runs/gr_baselines  # no training

Writes to `--out`: `generation_results.json`, a list of rows
`{"task", "variant", "metric", "model", "baseline", "baseline_name",
"train_minutes"}` (one per score and baseline; the run behind the docs is
committed as docs/generation_results.json), `results.json` (the rows and
every other number: budgets, samples, time per stage) and `results.md`
(the rows as a table). `train_minutes` is the model's training time
(`fit`), a warm-started translator's including the bilingual pre-training.

1. **Translation, en→zh and zh→en** (variants `en-zh`, `zh-en`): the
   recipe of `generation.TRANSLATION_RECIPE` (a vocabulary per side, a random
   encoder, length-bucketed batches, a linear schedule ending at the last
   step), trained on every training-catalog pair. Test pairs are UI messages
   of unseen programs (the iso-codes name catalogs are kept apart by
   `parallel.gettext_pairs`). The vocabularies are uncased, so BLEU / chrF are
   case-insensitive; Chinese targets use sacrebleu's `zh` tokenization.
   Decoding is greedy. Baselines, scored the same way: a translation memory
   (the target of the training source nearest by character 1–3-gram TF-IDF
   cosine, over the pairs the model trains on) and copying the source; for
   perplexity, a Kneser-Ney 3-gram LM of the training targets' tokens (it
   does not read the source: a translator whose perplexity is not below it
   ignores the source).
2. **Poems** (fortunes-zh, first line → the rest, every 20th poem held out)
   and **continuation** (People's Daily, sentence → next sentence, every 20th
   paragraph held out): perplexity per target token — a character, for
   Chinese — beside an interpolated Kneser-Ney 3-gram LM trained on exactly
   the model's training pairs (source then target, as tokenized and truncated
   for the model) and scored on exactly the tokens the model's perplexity
   counts, its source read as context.
3. **Captioning**: exact match and per-digit accuracy on two-digit images
   composed from held-out `load_digits` scans, English and Chinese captions
   (`examples/captioning.py`), beside a logistic regression on each digit
   slot's pixels trained on the same images.

4. **Warm start** (stage `warm_start`, run only when asked; variants `en-zh
   cold`, `en-zh warm`, ...): one small bilingual ELECTRA is pre-trained on
   both sides of the *training* catalogs only (the test catalogs are never
   seen, not even as unlabelled text), and both directions are trained twice
   with its tokenizer and shape: with its pre-trained discriminator as the
   encoder (warm), and with the same encoder randomly initialised (cold).
   Same seed, data, steps, learning rate and initial decoder weights, so the
   encoder's weights are the only difference.

`--stages` runs some stages; their results replace the same stages' in
`--out` and the others' are kept (from a run with the same size, seed and
`--baselines_only`), so the full run can be made in pieces.

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

from electra_tf import ElectraConfig, precision, tokenization
from electra_tf.data import parallel
from electra_tf.models.seq2seq.preprocessor import ElectraSeq2SeqLMPreprocessor
from electra_tf.training import baselines, generation
from electra_tf.training.pretrain import prepare_vocabulary, run_pretraining

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Per mode. "full": a budget chosen for two CPU cores shared with other jobs
# (about an hour there at a load of 10 before the continuation stage was
# added; not timed since); "quick": the same real data at
# smoke sizes; "tiny": the built-in fixtures below and tiny models, seconds
# per stage (the tests' path). None: every pair the split has.
BUDGETS = {
    "full": {
        "train_pairs": None, "test_pairs": 300,
        "translation_epochs": generation.TRANSLATION_RECIPE["epochs"],
        "translation_width": generation.TRANSLATION_RECIPE["hidden_size"],
        "translation_layers": generation.TRANSLATION_RECIPE["num_layers"],
        "warm_start_pairs": 4000, "pretrain_steps": 600, "pretrain_width": 128,
        "pretrain_layers": 2, "warm_start_epochs": 2, "warm_start_length": 32,
        "poem_train": None, "poem_test": None, "poem_epochs": 30, "poem_length": 96,
        "poem_width": 128, "poem_layers": 2,
        "continuation_train": None, "continuation_test": 300, "continuation_epochs": 4,
        "continuation_length": 64, "continuation_width": 256, "continuation_layers": 3,
        "caption_train_images": 20000, "caption_test_images": 1000, "caption_epochs": 15,
    },
    "quick": {
        "train_pairs": 64, "test_pairs": 16, "translation_epochs": 1,
        "translation_width": 256, "translation_layers": 3,
        "warm_start_pairs": 64, "pretrain_steps": 4, "pretrain_width": 128,
        "pretrain_layers": 2, "warm_start_epochs": 1, "warm_start_length": 32,
        "poem_train": 32, "poem_test": 4, "poem_epochs": 1, "poem_length": 96,
        "poem_width": 128, "poem_layers": 2,
        "continuation_train": 64, "continuation_test": 16, "continuation_epochs": 1,
        "continuation_length": 64, "continuation_width": 256, "continuation_layers": 3,
        "caption_train_images": 64, "caption_test_images": 64, "caption_epochs": 1,
    },
    "tiny": {
        "train_pairs": None, "test_pairs": None, "translation_epochs": 1,
        "translation_width": 32, "translation_layers": 1,
        "warm_start_pairs": None, "pretrain_steps": 2, "pretrain_width": 32,
        "pretrain_layers": 1, "warm_start_epochs": 1, "warm_start_length": 16,
        "poem_train": None, "poem_test": None, "poem_epochs": 1, "poem_length": 24,
        "poem_width": 16, "poem_layers": 1,
        "continuation_train": None, "continuation_test": None, "continuation_epochs": 1,
        "continuation_length": 24, "continuation_width": 16, "continuation_layers": 1,
        "caption_train_images": 256, "caption_test_images": 16, "caption_epochs": 1,
    },
}
# The translators' recipe is `generation.TRANSLATION_RECIPE` (found by the sweep in
# docs/sweeps/0.2.0/translation), sized by the budget; bfloat16 where the CPU has it, as in
# `make run`.
# Poems and continuation (one vocabulary; lengths from the budget): perplexity is their
# score, so no label smoothing, which flattens what the model predicts.
LANGUAGE_MODEL_RECIPE = {"vocab_size": 6000, "dropout": 0.1, "batch_size": 32,
                         "learning_rate": 1e-3, "schedule": "linear", "warmup_fraction": 0.1,
                         "label_smoothing": 0.0}
STAGES = ("translation", "poems", "continuation", "captioning", "warm_start")
# What a run measures unless told (`--stages`): warm-starting translation from a small
# bilingual ELECTRA is a separate experiment.
DEFAULT_STAGES = STAGES[:4]
# The warm-start experiment's training, as it was first measured (250 steps).
WARM_START_RECIPE = {"batch_size": 32, "learning_rate": 5e-4, "schedule": "constant",
                     "warmup_fraction": 0.0, "label_smoothing": 0.1}
NGRAM_ORDER = 3
ROW_KEYS = ("task", "variant", "metric", "model", "baseline", "baseline_name", "train_minutes")
MEMORY = "translation memory (target of the nearest training source, char 1-3-gram TF-IDF)"
COPY = "copy the source"
TARGET_NGRAM = f"Kneser-Ney {NGRAM_ORDER}-gram LM of the training targets (source not read)"
NGRAM = f"Kneser-Ney {NGRAM_ORDER}-gram LM of the training pairs (source read as context)"
PIXELS = "logistic regression on each digit slot's pixels"

# --tiny's data: a few pairs of each kind, so the whole path runs in seconds
# on any machine (no catalogs, poems or corpora needed).
TINY_TRANSLATION = {
    "train": [
        ("Open File", "打开文件"), ("Save File", "保存文件"), ("Close Window", "关闭窗口"),
        ("Open Window", "打开窗口"), ("Save the document", "保存文档"),
        ("Close the document", "关闭文档"), ("Print the page", "打印页面"),
        ("Quit the program", "退出程序"), ("Delete the file", "删除文件"),
        ("Copy the file", "复制文件"), ("Rename the file", "重命名文件"),
        ("Show hidden files", "显示隐藏文件"), ("File not found", "找不到文件"),
        ("Permission denied", "权限不够"), ("Invalid option", "无效的选项"),
        ("Print this message and exit", "打印此消息并退出"),
    ],
    "test": [
        ("Open the document", "打开文档"), ("Delete the window", "删除窗口"),
        ("Copy the page", "复制页面"), ("Document not found", "找不到文档"),
        ("Show the file", "显示文件"), ("Print the file and exit", "打印文件并退出"),
    ],
}
TINY_POEMS = {
    "train": [
        ("床前明月光，疑是地上霜。", "举头望明月，低头思故乡。"),
        ("白日依山尽，黄河入海流。", "欲穷千里目，更上一层楼。"),
        ("春眠不觉晓，处处闻啼鸟。", "夜来风雨声，花落知多少。"),
        ("千山鸟飞绝，万径人踪灭。", "孤舟蓑笠翁，独钓寒江雪。"),
        ("红豆生南国，春来发几枝。", "愿君多采撷，此物最相思。"),
        ("空山不见人，但闻人语响。", "返景入深林，复照青苔上。"),
    ],
    "test": [
        ("移舟泊烟渚，日暮客愁新。", "野旷天低树，江清月近人。"),
        ("松下问童子，言师采药去。", "只在此山中，云深不知处。"),
    ],
}
TINY_CONTINUATION = {
    "train": [
        ("今天天气很好。", "我们去公园散步。"), ("新年快到了。", "大家都很高兴。"),
        ("会议在北京举行。", "代表们讨论了经济问题。"), ("工厂今年扩大生产。", "工人的收入提高了。"),
        ("学校开始放假。", "学生们回到家乡。"), ("农民获得丰收。", "粮食产量创造新记录。"),
    ],
    "test": [
        ("会议在上海举行。", "代表们讨论了教育问题。"), ("今天下雪了。", "孩子们很高兴。"),
    ],
}


def pretraining_config(steps, hidden_size=128, num_layers=2):
    """A 2-layer, 128-wide ELECTRA: small enough to pre-train in minutes."""
    return ElectraConfig.from_preset("tiny").replace(
        name="bilingual_tiny", embedding_size=hidden_size, hidden_size=hidden_size,
        num_layers=num_layers, num_heads=2, intermediate_size=4 * hidden_size,
        generator_hidden_fraction=0.25, max_position_embeddings=64, sequence_length=32,
        batch_size=32, dropout=0.1, learning_rate=1e-3, warmup_steps=max(1, steps // 10),
        train_steps=steps,
    )


def write_bilingual_corpus(pairs, path):
    """Each training pair is one document: its English line, then its Chinese line."""
    with open(path, "w", encoding="utf-8") as handle:
        for source, target in pairs:
            handle.write(f"{source}\n{target}\n\n")


def row(task, variant, metric, model, baseline, baseline_name, train_minutes):
    """One score of the results: the model's and a baseline's on the same test set
    (`model` and `train_minutes` None: no model trained, `--baselines_only`)."""
    return {"task": task, "variant": variant, "metric": metric,
            "model": None if model is None else float(model), "baseline": float(baseline),
            "baseline_name": baseline_name,
            "train_minutes": None if train_minutes is None else round(train_minutes, 2)}


def sample(pairs, count, seed):
    """`count` pairs drawn with `seed` (all of them, in order, when count is None)."""
    if count is None or count >= len(pairs):
        return list(pairs)
    return random.Random(seed).sample(pairs, count)


def ngram_perplexity(preprocessor, train_pairs, test_pairs, read_source):
    """The n-gram baseline's perplexity on the tokens `generation.perplexity` scores for a
    model with `preprocessor`, trained on `train_pairs` as that model reads them
    (`read_source`: sources too, as context before each target)."""
    train = generation.token_sequences(preprocessor, train_pairs)
    test = generation.token_sequences(preprocessor, test_pairs)
    contexts = (lambda sequences: [s for s, _ in sequences]) if read_source else (lambda _: None)
    ngram = baselines.NGramLM(NGRAM_ORDER).fit([t for _, t in train], contexts(train))
    return ngram.perplexity([t for _, t in test], contexts(test))


def translation_data(args):
    if args.tiny:
        return dict(TINY_TRANSLATION, names=[], test_catalogs=[], name_catalogs=[])
    return parallel.gettext_pairs()


def translation_baselines(train_pairs, test_pairs, shown, language):
    """BLEU / chrF of the translation memory and of copying, scored as the model is
    (lowercased: its uncased vocabulary has no capitals), and the memory's samples."""
    sources, references = [s for s, _ in test_pairs], [t for _, t in test_pairs]
    memory = baselines.TranslationMemory(train_pairs)
    scores = {
        MEMORY: generation.corpus_scores(memory.translate(sources), references, language,
                                         lowercase=True),
        COPY: generation.corpus_scores(baselines.copy_sources(sources), references, language,
                                       lowercase=True),
    }
    samples = [[s, t, h] for (s, t), h in zip(shown, memory.translate([s for s, _ in shown]))]
    return scores, samples


def greedy_translations(lm, test_pairs, shown, language, length):
    """BLEU / chrF of `lm`'s translations of the test sources (lowercased, as its baselines'),
    and the `shown` pairs' samples `[source, reference, translation]` taken from them: each
    source is decoded once (a second `generate` for the samples would also trace the decoding
    loop again for their batch shape)."""
    sources = [s for s, _ in test_pairs]
    translations = generation.generate(lm, sources, length)
    scores = generation.corpus_scores(translations, [t for _, t in test_pairs], language,
                                      lowercase=True)
    translated = dict(zip(sources, translations))
    return scores, [[s, t, translated[s]] for s, t in shown]


def translation_rows(variant, run, scores, target_ngram, minutes):
    """The rows of one translator (`run`; None: baselines only)."""
    value = (lambda metric: run[metric]) if run else (lambda metric: None)
    rows = [row("translation", variant, metric, value(metric), scores[name][metric], name,
                minutes)
            for metric in ("bleu", "chrf") for name in (MEMORY, COPY)]
    rows.append(row("translation", variant, "perplexity", value("perplexity"), target_ngram,
                    TARGET_NGRAM, minutes))
    return rows


def bilingual_preprocessor(config, corpus, out, args, length):
    """The preprocessor a translator warm-started from the bilingual ELECTRA gets, without
    pre-training it: the vocabulary `run_pretraining` would learn from `corpus`."""
    vocabulary = prepare_vocabulary(out / "bilingual_vocabulary", [str(corpus)],
                                    vocab_size=args.vocab_size, lowercase=config.lowercase)
    tokenizer = tokenization.make_tokenizer(vocabulary, lowercase=config.lowercase)
    return ElectraSeq2SeqLMPreprocessor(tokenizer, encoder_sequence_length=length,
                                        decoder_sequence_length=length)


def directions(train, test, shown):
    """`(direction, train, test, shown)` for en→zh and for zh→en (the pairs flipped)."""
    flip = lambda pairs: [(t, s) for s, t in pairs]  # noqa: E731
    yield "en-zh", train, test, shown
    yield "zh-en", flip(train), flip(test), flip(shown)


def build_model(pairs, recipe, width, layers, length, seed, separate_vocabularies):
    """An untrained model of `recipe` (its vocabulary size and dropout) with these sizes,
    its vocabularies learned from `pairs`, computing in bfloat16 where the CPU has it."""
    keras.utils.set_random_seed(seed)
    return generation.build_lm(
        pairs, separate_vocabularies=separate_vocabularies, vocab_size=recipe["vocab_size"],
        hidden_size=width, num_layers=layers, dropout=recipe["dropout"], sequence_length=length,
        dtype_policy=precision.resolve_dtype_policy(precision.AUTO))


def build_translator(train_pairs, budget, seed):
    recipe = generation.TRANSLATION_RECIPE
    return build_model(train_pairs, recipe, budget["translation_width"],
                       budget["translation_layers"], recipe["sequence_length"], seed,
                       separate_vocabularies=True)


def train_by_recipe(lm, pairs, recipe, epochs, seed, eagerly=False, callbacks=None):
    """Trains `lm` by `recipe`'s training fields (`generation.recipe_arguments`) for
    `epochs`; returns the minutes `fit`
    took, without what `callbacks` report in `decoding_seconds` (a curve's decoding).

    `eagerly` (`--tiny`): its models train one step each, and tracing that
    step costs more than running it eagerly (`fit` took about 7 s of CPU a
    model traced, 3 s eager).
    """
    _, training = generation.recipe_arguments(recipe)
    began = time.perf_counter()
    generation.train(lm, pairs, seed=seed, callbacks=callbacks, run_eagerly=eagerly,
                     **{**training, "epochs": epochs})
    decoding = sum(getattr(callback, "decoding_seconds", 0.0) for callback in callbacks or ())
    return (time.perf_counter() - began - decoding) / 60


def translation_results(args, out, budget, log):
    """Both directions by the recipe, on every training-catalog pair (the budget's
    `train_pairs`), beside the translation memory and copying."""
    splits = translation_data(args)
    train = sample(splits["train"], budget["train_pairs"], args.seed)
    test = sample(splits["test"], budget["test_pairs"], args.seed)
    results = {"train_pairs": len(train), "test_pairs": len(test),
               "test_catalogs": len(splits["test_catalogs"]),
               "name_pairs_kept_apart": len(splits["names"]),
               "recipe": {**generation.TRANSLATION_RECIPE, **{k: budget[k] for k in (
                   "translation_epochs", "translation_width", "translation_layers")}},
               "baselines": {}, "runs": [], "rows": []}
    showcase = parallel.showcase_pairs(test, count=5)
    length = generation.TRANSLATION_RECIPE["sequence_length"]
    for direction, train_pairs, test_pairs, shown in directions(train, test, showcase):
        language = direction[-2:]
        scores, memory_samples = translation_baselines(train_pairs, test_pairs, shown, language)
        results["baselines"][direction] = {"translation_memory": scores[MEMORY],
                                           "copy": scores[COPY],
                                           "translation_memory_samples": memory_samples}
        lm = build_translator(train_pairs, budget, args.seed)
        target_ngram = ngram_perplexity(lm.preprocessor, train_pairs, test_pairs, False)
        run, minutes = None, None
        if not args.baselines_only:
            minutes = train_by_recipe(lm, train_pairs, generation.TRANSLATION_RECIPE,
                                      budget["translation_epochs"], args.seed, eagerly=args.tiny)
            run = {"direction": direction, "dtype_policy": lm.backbone.dtype_policy.name,
                   "perplexity": generation.perplexity(lm, test_pairs), "train_minutes": minutes}
            lm.compile(sampler="greedy")
            model_scores, samples = greedy_translations(lm, test_pairs, shown, language, length)
            run.update(model_scores, samples=samples)
            results["runs"].append(run)
        log(direction, (minutes or 0) * 60, run or results["baselines"][direction])
        results["rows"] += translation_rows(direction, run, scores, target_ngram, minutes)
    return results


def warm_start_results(args, out, budget, log):
    """Warm vs cold encoder: one small bilingual ELECTRA pre-trained on both sides of the
    training catalogs, then translators of its shape and vocabulary in both directions,
    with its weights (warm) or random ones (cold)."""
    splits = translation_data(args)
    train = sample(splits["train"], budget["warm_start_pairs"], args.seed)
    test = sample(splits["test"], budget["test_pairs"], args.seed)
    showcase = parallel.showcase_pairs(test, count=3)
    length = budget["warm_start_length"]
    corpus = out / "bilingual_train_catalogs.txt"
    # All training catalogs (not only the sampled pairs): unlabelled text is
    # cheap, and none of it comes from a test catalog.
    write_bilingual_corpus(splits["train"], corpus)
    config = pretraining_config(budget["pretrain_steps"], budget["pretrain_width"],
                                budget["pretrain_layers"])
    results = {"train_pairs": len(train), "test_pairs": len(test), "runs": [], "rows": []}
    pretrained = out / "bilingual_electra"
    if args.baselines_only:
        preprocessor = bilingual_preprocessor(config, corpus, out, args, length)
    else:
        began = time.perf_counter()
        pretraining = run_pretraining(config, [str(corpus)], pretrained,
                                      vocab_size=args.vocab_size, seed=args.seed, verbose=2)
        pretrain_minutes = (time.perf_counter() - began) / 60
        log("pretraining", pretrain_minutes * 60)
        results.update(
            pretrain_steps=budget["pretrain_steps"], pretrain_minutes=pretrain_minutes,
            pretraining_history={k: float(v[-1]) for k, v in pretraining.history.items()})
    for direction, train_pairs, test_pairs, shown in directions(train, test, showcase):
        language = direction[-2:]
        scores, _ = translation_baselines(train_pairs, test_pairs, shown, language)
        if args.baselines_only:
            target_ngram = ngram_perplexity(preprocessor, train_pairs, test_pairs, False)
            results["rows"] += translation_rows(direction, None, scores, target_ngram, None)
            continue
        for warm in (False, True):
            keras.utils.set_random_seed(args.seed)
            lm = generation.build_lm(train_pairs, encoder=pretrained, warm_start=warm,
                                     dropout=0.1, sequence_length=length)
            minutes = train_by_recipe(lm, train_pairs, WARM_START_RECIPE,
                                      budget["warm_start_epochs"], args.seed, eagerly=args.tiny)
            if warm:
                minutes += pretrain_minutes  # a warm start costs its pre-training too
            else:  # warm and cold share the tokenizer, so the n-gram baseline once
                target_ngram = ngram_perplexity(lm.preprocessor, train_pairs, test_pairs, False)
            variant = f"{direction} {'warm' if warm else 'cold'}"
            run = {"direction": direction, "encoder": "warm" if warm else "cold",
                   "perplexity": generation.perplexity(lm, test_pairs),
                   "train_minutes": minutes}
            lm.compile(sampler="greedy")
            model_scores, samples = greedy_translations(lm, test_pairs, shown, language, length)
            run.update(model_scores, samples=samples)
            log(variant, minutes * 60, run)
            results["runs"].append(run)
            results["rows"] += translation_rows(variant, run, scores, target_ngram, minutes)
    return results


def language_model_results(task, train, test, args, budget, log):
    """Poems or continuation: a seq2seq model's perplexity beside the n-gram LM's."""
    prefix = "poem" if task == "poems" else "continuation"
    length = budget[f"{prefix}_length"]
    recipe = {**LANGUAGE_MODEL_RECIPE, "vocab_size": args.vocab_size}
    lm = build_model(train, recipe, budget[f"{prefix}_width"], budget[f"{prefix}_layers"],
                     length, args.seed, separate_vocabularies=False)
    results = {"train_pairs": len(train), "test_pairs": len(test),
               "recipe": {**recipe, **{k: budget[f"{prefix}_{k}"] for k in (
                   "epochs", "width", "layers", "length")}},
               "ngram_perplexity": ngram_perplexity(lm.preprocessor, train, test,
                                                    read_source=True)}
    minutes = None
    if not args.baselines_only:
        minutes = train_by_recipe(lm, train, recipe, budget[f"{prefix}_epochs"], args.seed,
                                  eagerly=args.tiny)
        results.update(dtype_policy=lm.backbone.dtype_policy.name, train_minutes=minutes,
                       perplexity=generation.perplexity(lm, test))
        lm.compile(sampler="greedy")
        results["sample"] = [test[0][0], generation.generate(lm, [test[0][0]], length)[0],
                             test[0][1]]
    results["rows"] = [row(task, "zh", "perplexity", results.get("perplexity"),
                           results["ngram_perplexity"], NGRAM, minutes)]
    log(task, (minutes or 0) * 60, {k: v for k, v in results.items() if k != "rows"})
    return results


def poem_results(args, budget, log):
    splits = TINY_POEMS if args.tiny else generation.builtin_dataset("poems", args.fortunes_dir)
    train = splits["train"][:budget["poem_train"]]
    test = splits["test"][:budget["poem_test"]]
    return language_model_results("poems", train, test, args, budget, log)


def continuation_results(args, budget, log):
    splits = TINY_CONTINUATION if args.tiny else generation.builtin_dataset("peoples_daily")
    train = sample(splits["train"], budget["continuation_train"], args.seed)
    test = sample(splits["test"], budget["continuation_test"], args.seed)
    return language_model_results("continuation", train, test, args, budget, log)


def load_example(name):
    spec = importlib.util.spec_from_file_location(f"{name}_example",
                                                  ROOT / "examples" / f"{name}.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example


def caption_results(args, budget, log):
    example = load_example("captioning")
    results = {"train_images": budget["caption_train_images"],
               "test_images": budget["caption_test_images"],
               "epochs": budget["caption_epochs"], "rows": []}
    for language in ("en", "zh"):
        options = example.parse_args([
            "--language", language, "--epochs", str(budget["caption_epochs"]),
            "--train_images", str(budget["caption_train_images"]),
            "--test_images", str(budget["caption_test_images"]), "--seed", str(args.seed),
            *(["--tiny"] if args.tiny else []),
        ])
        # The same scans and captions the captioner trains on, unshifted: a linear model of
        # pixel positions only loses from shifted digits (0.61 exact match against 0.86 with
        # 20,000 images).
        images, train_captions, test_images, captions = example.make_data(
            argparse.Namespace(**{**vars(options), "shift": 0}))
        reader = baselines.DigitSlotClassifier(options.digits, language)
        guesses = reader.fit(images, train_captions).predict(test_images)
        baseline = baselines.caption_scores(guesses, captions, language)
        results[language] = {"baseline": baseline}
        model, minutes = {}, None
        if not args.baselines_only:
            outputs, captions, seconds = example.run(options)
            model, minutes = baselines.caption_scores(outputs, captions, language), seconds / 60
            results[language].update(model=model, train_minutes=minutes, samples=[
                list(s) for s in zip(captions[:3], outputs[:3])])
        for metric in ("exact_match", "digit_accuracy"):
            results["rows"].append(row("captioning", language, metric, model.get(metric),
                                       baseline[metric], PIXELS, minutes))
        log(f"captioning {language}", (minutes or 0) * 60, results[language])
    return results


def rows_json(rows):
    """A JSON list with one row per line: readable, and a new run's diff shows what changed."""
    return "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n]\n"


def markdown(rows, seconds):
    """The rows as the docs' table: model beside baseline, one line per row."""
    lines = ["| task | variant | metric | model | baseline | baseline is | train min |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        digits = 3 if r["metric"] in ("exact_match", "digit_accuracy") else (
            1 if r["metric"] == "perplexity" else 2)
        model = "—" if r["model"] is None else f"{r['model']:.{digits}f}"
        minutes = "—" if r["train_minutes"] is None else f"{r['train_minutes']:.1f}"
        lines.append(f"| {r['task']} | {r['variant']} | {r['metric']} | {model} "
                     f"| {r['baseline']:.{digits}f} | {r['baseline_name']} | {minutes} |")
    lines.append("")
    lines.append(f"Total time: {seconds / 60:.0f} min.")
    return "\n".join(lines) + "\n"


def earlier_results(path, mode, args):
    """What an earlier run with the same mode, seed and `--baselines_only` left in `path`
    (its stages are kept unless run again), or a fresh start."""
    if path.exists():
        earlier = json.loads(path.read_text(encoding="utf-8"))
        if (earlier.get("mode"), earlier.get("seed"), earlier.get("baselines_only")) == (
                mode, args.seed, args.baselines_only):
            earlier.setdefault("stage_seconds", {})
            return earlier
        print(f"{path}: an earlier run with other settings; its stages are replaced", flush=True)
    return {"stage_seconds": {}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/generation_results", help="output directory")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="real data, smoke-sized budgets")
    size.add_argument("--tiny", action="store_true",
                      help="built-in fixtures and tiny models: every row kind in seconds")
    parser.add_argument("--baselines_only", action="store_true",
                        help="score the baselines only, training nothing (rows' model: null)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vocab_size", type=int, default=6000)
    parser.add_argument("--fortunes_dir", default=None, help="fortunes-zh poems directory")
    parser.add_argument("--stages", default=",".join(DEFAULT_STAGES),
                        help="comma-separated subset of " + ",".join(STAGES) + "; a run of some "
                        "stages replaces theirs in --out's results and keeps the others'")
    args = parser.parse_args(argv)
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    budget = BUDGETS[mode]
    if args.tiny:
        args.vocab_size = min(args.vocab_size, 200)
    stages = args.stages.split(",")
    unknown = set(stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stage(s) {sorted(unknown)}: choose from {', '.join(STAGES)}")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def log(stage, seconds, values=None):
        print(f"== {stage}: {seconds / 60:.1f} min {json.dumps(values or {}, ensure_ascii=False)}",
              flush=True)

    results = earlier_results(out / "results.json", mode, args)
    results.update({"mode": mode, "budget": budget, "seed": args.seed,
                    "baselines_only": args.baselines_only, "ngram_order": NGRAM_ORDER})
    run_stage = {"translation": lambda: translation_results(args, out, budget, log),
                 "poems": lambda: poem_results(args, budget, log),
                 "continuation": lambda: continuation_results(args, budget, log),
                 "captioning": lambda: caption_results(args, budget, log),
                 "warm_start": lambda: warm_start_results(args, out, budget, log)}
    for stage in STAGES:
        if stage in stages:
            stage_began = time.time()
            results[stage] = run_stage[stage]()
            results["stage_seconds"][stage] = round(time.time() - stage_began)
    rows = [row for stage in STAGES if stage in results for row in results[stage]["rows"]]
    results["rows"] = rows
    results["seconds"] = sum(results["stage_seconds"].values())
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (out / "generation_results.json").write_text(rows_json(rows))
    (out / "results.md").write_text(markdown(rows, results["seconds"]))
    print(markdown(rows, results["seconds"]))
    return results


if __name__ == "__main__":
    main()
