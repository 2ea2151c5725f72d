"""Training, evaluation and line-by-line inference for `ElectraSeq2SeqLM`.

`scripts/translate.py` and `scripts/generate.py` are flag parsers around
these functions.

Example:
```python
from electra_tf.training import generation

pairs = [("Open File", "打开文件"), ("Save File", "保存文件")] * 16
lm = generation.build_lm(pairs, separate_vocabularies=True, hidden_size=32, num_layers=1,
                         sequence_length=16)
generation.train(lm, pairs, epochs=1, batch_size=8)
generation.score(lm, pairs[:2], target_language="zh")  # -> {'bleu': ..., 'chrf': ...}
```
"""

import logging
import math
import pathlib
import re
import sys

import keras
import keras_hub
import tensorflow as tf

from electra_tf import tokenization
from electra_tf.config import default_num_heads, feedforward_size
from electra_tf.data import parallel
from electra_tf.models.model_dir import encoder_preset, folder_error, reading
from electra_tf.models.samplers import LengthPenaltyBeamSampler
from electra_tf.models.seq2seq.backbone import ElectraSeq2SeqBackbone, make_encoder
from electra_tf.models.seq2seq.preprocessor import ElectraSeq2SeqLMPreprocessor
from electra_tf.models.seq2seq.seq2seq_lm import ElectraSeq2SeqLM
from electra_tf.optimizers import WarmupLinearDecay
from electra_tf.precision import compute_dtype_line

log = logging.getLogger(__name__)
_CJK = re.compile(f"[{tokenization.cjk_ranges()}]")


def builtin_dataset(name, fortunes_dir=None):
    """`{"train": pairs, "test": pairs}` for a built-in dataset name.

    `gettext_en_zh`, `gettext_zh_en` (catalog split, UI messages only: the
    name catalogs are `parallel.gettext_pairs()["names"]`), `poems` (first
    line → the rest; fortunes-zh; every 20th poem held out), `peoples_daily`
    (sentence → next sentence; the pairs of every 20th paragraph held out,
    so no held-out sentence is a training source or target).
    """
    if name in ("gettext_en_zh", "gettext_zh_en"):
        splits = parallel.gettext_pairs()
        if name == "gettext_zh_en":
            splits = {k: [(t, s) for s, t in splits[k]] for k in ("train", "test")}
        return {"train": splits["train"], "test": splits["test"]}
    if name == "poems":
        pairs = parallel.poem_pairs(fortunes_dir)
        return {"train": [p for i, p in enumerate(pairs) if i % 20], "test": pairs[::20]}
    if name == "peoples_daily":
        paragraphs = parallel.peoples_daily_paragraphs()
        return {"train": [p for i, pairs in enumerate(paragraphs) if i % 20 for p in pairs],
                "test": [p for pairs in paragraphs[::20] for p in pairs]}
    raise ValueError(
        f"unknown dataset {name!r}: use gettext_en_zh, gettext_zh_en, poems or peoples_daily, "
        "or give --train_file."
    )


def build_lm(pairs, separate_vocabularies=False, encoder=None, vocab_size=8000,
             hidden_size=256, num_layers=4, dropout=0.1, sequence_length=64,
             warm_start=True, dtype_policy=None):
    """A fresh `ElectraSeq2SeqLM` with vocabularies learned from `pairs`.

    `encoder` (an electra_tf model directory or an `ElectraBackbone` preset)
    warm-starts the encoder; its own tokenizer then reads the sources (and
    the targets, unless `separate_vocabularies`), and the decoder copies its
    width and depth. `warm_start=False` keeps that tokenizer and shape but
    initialises the encoder randomly: the baseline a warm start is measured
    against, differing from it in the encoder's weights alone (after the same
    `keras.utils.set_random_seed`, both decoders start from the same weights).
    `dtype_policy` (e.g. `"mixed_bfloat16"`) is the Keras dtype policy the model
    computes under; `None`: the global policy (float32 unless changed).
    """
    sources, targets = [s for s, _ in pairs], [t for _, t in pairs]
    if encoder is not None:
        preset = encoder_preset(encoder)
        with reading(preset):  # a damaged folder: an error naming the file
            source_tokenizer = keras_hub.models.ElectraTokenizer.from_preset(preset)
            # Warm and cold build the encoder the same way (only loading differs), so
            # both draw the same random numbers and their decoders start equal.
            electra = make_encoder(preset, load_weights=warm_start, dtype=dtype_policy)
    else:
        texts = sources if separate_vocabularies else sources + targets
        source_tokenizer = tokenization.make_tokenizer(
            tokenization.build_vocabulary(texts, vocab_size)
        )
        electra = make_encoder(
            vocabulary_size=source_tokenizer.vocabulary_size(), hidden_dim=hidden_size,
            num_layers=num_layers, num_heads=default_num_heads(hidden_size),
            intermediate_dim=feedforward_size(hidden_size), dropout=dropout,
            max_sequence_length=max(512, sequence_length), dtype=dtype_policy,
        )
    target_tokenizer = None
    if separate_vocabularies:
        vocabulary = tokenization.build_vocabulary(targets, vocab_size)
        # Lowercasing as the vocabulary was learned: keras-hub's tokenizer keeps case by
        # default, and every capitalised target word would then be `[UNK]`.
        target_tokenizer = keras_hub.models.ElectraTokenizer(
            vocabulary=vocabulary, lowercase=True, config_file="target_tokenizer.json"
        )
    backbone = ElectraSeq2SeqBackbone(
        electra,
        target_vocabulary_size=(target_tokenizer or source_tokenizer).vocabulary_size(),
        dropout=dropout,
        max_target_length=max(512, sequence_length),
    )
    preprocessor = ElectraSeq2SeqLMPreprocessor(
        source_tokenizer, target_tokenizer=target_tokenizer,
        encoder_sequence_length=sequence_length, decoder_sequence_length=sequence_length,
    )
    return ElectraSeq2SeqLM(backbone, preprocessor)


# The translation recipe measured on two CPU cores (docs/sweeps/0.2.0/translation): what
# `electra-translate` trains by default and scripts/generation_results.py measures. Keys are
# `build_lm` and `train` arguments, and the command line's flags.
TRANSLATION_RECIPE = {
    "vocab_size": 6000, "hidden_size": 256, "num_layers": 3, "dropout": 0.1,
    "sequence_length": 64, "epochs": 7, "batch_size": 64, "learning_rate": 1e-3,
    "schedule": "linear", "warmup_fraction": 0.1, "label_smoothing": 0.1,
}

def recipe_arguments(recipe):
    """`(build_lm arguments, train arguments)` of a recipe such as `TRANSLATION_RECIPE`.

    ```python
    model, training = recipe_arguments(TRANSLATION_RECIPE)
    sorted(model), training["epochs"]
    # -> (['dropout', 'hidden_size', 'num_layers', 'sequence_length', 'vocab_size'], 7)
    ```
    """
    model_keys = ("vocab_size", "hidden_size", "num_layers", "dropout", "sequence_length")
    return ({k: v for k, v in recipe.items() if k in model_keys},
            {k: v for k, v in recipe.items() if k not in model_keys})


# Length buckets (characters of source + target) for training batches: a batch then holds
# pairs of about one length, and `ElectraSeq2SeqLM` cuts it to its longest pair, so it costs
# its tokens rather than the padding a random mix of short and long messages would bring.
LENGTH_BUCKETS = (8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384)


def pairs_dataset(pairs, batch_size, shuffle_seed=None, length_buckets=False):
    """Batches of `{"encoder_text", "decoder_text"}` strings; shuffled (again every pass) with
    a seed, grouped by length (`LENGTH_BUCKETS`) when `length_buckets`."""
    data = tf.data.Dataset.from_tensor_slices({
        "encoder_text": [s for s, _ in pairs], "decoder_text": [t for _, t in pairs],
    })
    if shuffle_seed is not None:
        data = data.shuffle(len(pairs), seed=shuffle_seed, reshuffle_each_iteration=True)
    if not length_buckets:
        return data.batch(batch_size)

    def length(pair):
        return tf.strings.length(pair["encoder_text"], unit="UTF8_CHAR") + tf.strings.length(
            pair["decoder_text"], unit="UTF8_CHAR")

    return data.bucket_by_sequence_length(
        length, list(LENGTH_BUCKETS), [batch_size] * (len(LENGTH_BUCKETS) + 1), no_padding=True)


def train(lm, pairs, epochs=10, batch_size=32, learning_rate=1e-4, label_smoothing=0.1,
          seed=0, callbacks=None, run_eagerly=False, schedule="constant", warmup_fraction=0.0):
    """Teacher-forced training with Adam and (by default) label smoothing 0.1; logs the
    compute dtype first (`precision.compute_dtype_line`).

    Batches group pairs of about one length (`pairs_dataset(length_buckets=True)`); an
    epoch is `ceil(len(pairs) / batch_size)` of them. `schedule="linear"` warms the rate
    up over `warmup_fraction` of the steps and brings it linearly to zero at the last
    one (`optimizers.WarmupLinearDecay`); `"constant"` keeps `learning_rate`.
    `run_eagerly=True` runs the train step without tracing it (`compile`'s
    switch): for a model that trains a step or two (a smoke test), tracing
    the step, its gradients and Adam's updates takes seconds longer than
    running them; for anything longer the traced step is the fast one.
    """
    steps_per_epoch = -(-len(pairs) // batch_size)
    if schedule == "linear":
        total = epochs * steps_per_epoch
        learning_rate = WarmupLinearDecay(learning_rate, int(warmup_fraction * total), total)
    elif schedule != "constant":
        raise ValueError(f"unknown schedule {schedule!r}: use constant or linear.")
    log.info(compute_dtype_line(lm.backbone.dtype_policy))
    lm.compile(optimizer=keras.optimizers.Adam(learning_rate), label_smoothing=label_smoothing,
               run_eagerly=run_eagerly)
    data = pairs_dataset(pairs, batch_size, shuffle_seed=seed, length_buckets=True)
    # Buckets leave part-filled batches behind, so a pass is not a fixed number of them:
    # the stream repeats and an epoch is counted in steps, which the schedule ends with.
    return lm.fit(data.repeat(), epochs=epochs, steps_per_epoch=steps_per_epoch,
                  shuffle=False, callbacks=callbacks, verbose=2)  # The dataset shuffles.


def perplexity(lm, pairs, batch_size=64):
    """exp(mean negative log-likelihood per target token, `[SEP]` included).

    Summed over real tokens and divided by their count: Keras' loss
    reductions divide by every position, padding included, which would
    understate the perplexity of short targets.
    """
    total, count = 0.0, 0.0
    for batch in pairs_dataset(pairs, batch_size):
        x, y, weights = lm.preprocessor(batch)
        logits = lm(x, training=False)
        nll = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        weights = tf.cast(weights, nll.dtype)
        total += float(tf.reduce_sum(nll * weights))
        count += float(tf.reduce_sum(weights))
    return math.exp(total / count)


def make_sampler(name="greedy", num_beams=4, length_penalty=0.6, k=10, p=0.9,
                 temperature=1.0, seed=None):
    if name == "greedy":
        return keras_hub.samplers.GreedySampler()
    if name == "beam":
        return LengthPenaltyBeamSampler(num_beams=num_beams, length_penalty=length_penalty)
    if name == "top_k":
        return keras_hub.samplers.TopKSampler(k=k, seed=seed, temperature=temperature)
    if name == "top_p":
        return keras_hub.samplers.TopPSampler(p=p, seed=seed, temperature=temperature)
    raise ValueError(f"unknown sampler {name!r}: use greedy, beam, top_k or top_p.")


def generate(lm, sources, max_length=None, batch_size=32):
    """Generations for a list of source strings, batch by batch."""
    outputs = []
    for start in range(0, len(sources), batch_size):
        batch = sources[start:start + batch_size]
        result = lm.generate(batch, max_length=max_length)
        outputs += [result] if isinstance(result, str) else list(result)
    return outputs


def corpus_scores(hypotheses, references, target_language=None, lowercase=False):
    """Corpus BLEU and chrF (sacrebleu) of `hypotheses` against one reference each.

    Chinese references (detected when `target_language` is None) use
    sacrebleu's `zh` tokenization for BLEU. The one scoring of translations:
    `score` uses it for a model, `scripts/generation_results.py` for its
    models and the baselines beside them.

    ```python
    corpus_scores(["打开文件"], ["打开文件"], target_language="zh")  # -> {'bleu': 100.0, 'chrf': 100.0}
    ```
    """
    from sacrebleu.metrics import BLEU, CHRF  # optional: pip install electra_tf[generation]

    references = list(references)
    if target_language is None:
        chinese = sum(bool(_CJK.search(t)) for t in references) > len(references) / 2
        target_language = "zh" if chinese else "en"
    bleu = BLEU(tokenize="zh" if target_language == "zh" else "13a", lowercase=lowercase)
    return {
        "bleu": bleu.corpus_score(list(hypotheses), [references]).score,
        "chrf": CHRF(lowercase=lowercase).corpus_score(list(hypotheses), [references]).score,
    }


def score(lm, pairs, target_language=None, max_length=None, batch_size=32, lowercase=None):
    """Corpus BLEU and chrF (`corpus_scores`) of `lm`'s generations against the targets.

    `lowercase` (default: whether `lm`'s target tokenizer lowercases) scores
    case-insensitively: the fair score for an uncased target vocabulary, which
    cannot write capitals.
    """
    if lowercase is None:
        lowercase = bool(getattr(lm.preprocessor.decoder_tokenizer, "lowercase", False))
    hypotheses = generate(lm, [s for s, _ in pairs], max_length, batch_size)
    return corpus_scores(hypotheses, [t for _, t in pairs], target_language, lowercase)


def token_sequences(preprocessor, pairs, batch_size=64):
    """`(source ids, target ids)` per pair: what a model with `preprocessor` reads and what
    `perplexity` scores.

    Sources without `[CLS]` / `[SEP]`; targets are the label tokens of real
    positions without the closing `[SEP]` (a language model's end symbol
    stands for it), both truncated as in training. An n-gram baseline fed
    these (`training.baselines.NGramLM`) is scored on exactly the model's
    held-out tokens, which for Chinese text are its characters.

    ```python
    pairs = [("床前明月光", "疑是地上霜")]
    lm = build_lm(pairs, hidden_size=16, num_layers=1, sequence_length=8, vocab_size=50)
    token_sequences(lm.preprocessor, pairs)  # one id per character
    # -> [([9, 7, 10, 12, 6], [13, 11, 8, 5, 14])]
    ```
    """
    source_specials = {preprocessor.tokenizer.cls_token_id, preprocessor.tokenizer.sep_token_id}
    end = preprocessor.decoder_tokenizer.end_token_id
    sequences = []
    for batch in pairs_dataset(pairs, batch_size):
        x, y, weights = preprocessor(batch)
        sources = zip(x["encoder_token_ids"].numpy(), x["encoder_padding_mask"].numpy())
        for (ids, mask), labels, weight in zip(sources, y.numpy(), weights.numpy()):
            source = [int(i) for i, m in zip(ids, mask) if m and i not in source_specials]
            target = [int(i) for i, w in zip(labels, weight) if w]
            if target and target[-1] == end:
                target = target[:-1]
            sequences.append((source, target))
    return sequences


def save(lm, model_dir):
    lm.save_to_preset(str(model_dir))


def load(model_dir, dtype_policy=None):
    """The `ElectraSeq2SeqLM` saved in `model_dir`; a `model_dir.RunFolderError` naming the
    file when the folder holds none or is damaged. `dtype_policy` (e.g.
    `"mixed_bfloat16"`) loads it to compute under that Keras dtype policy; `None`
    keeps the one it was saved under."""
    if not (pathlib.Path(model_dir) / "task.json").is_file():
        raise folder_error(
            model_dir, "holds no trained generation model (task.json is missing)",
            "train one with --train_file or --dataset first")
    return ElectraSeq2SeqLM.from_preset(str(model_dir), dtype=dtype_policy)


def serve_lines(lm, lines=sys.stdin, output=sys.stdout, max_length=None):
    """One line in, one line out, flushed per line (usable through a pipe)."""
    for line in lines:
        result = lm.generate([line.rstrip("\n")], max_length=max_length)
        output.write(result[0].replace("\n", " ") + "\n")
        output.flush()
