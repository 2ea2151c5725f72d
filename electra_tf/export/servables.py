"""Servables for each model kind: what is exported, and its readable outputs.

`load_servable(kind, model_dir)` builds one from a model directory;
`electra_tf.export.serving.export_for_serving` writes it.

Example:
```python
import tensorflow as tf
from electra_tf import ElectraConfig, tokenization
from electra_tf.export import ClassifierServable, export_for_serving
from electra_tf.models.classification.classifier import ElectraClassifier

vocab = tokenization.build_vocabulary(["今天天气很好", "很差"], 40)
ElectraClassifier.from_scratch(ElectraConfig.from_preset("tiny"), vocab, label_names=[
    "neg", "pos"], sequence_length=16).save_to_preset("sentiment")  # or a fine-tuned one
servable = ClassifierServable(ElectraClassifier.from_preset("sentiment"))
export_dir = export_for_serving(servable, "exports", "sentiment")
export_dir  # -> PosixPath('exports/sentiment/1')
sorted(path.name for path in export_dir.iterdir())  # a SavedModel, and warm-up requests
# -> ['assets', 'assets.extra', 'fingerprint.pb', 'saved_model.pb', 'variables']
served = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
answer = served(text=tf.constant(["今天天气很好", "很差"]))
sorted(answer)  # -> ['label', 'label_names', 'probabilities', 'score', 'truncated']
answer["label_names"]  # -> [[b'neg', b'pos'], [b'neg', b'pos']]
```
"""


import keras
import keras_hub
import numpy as np
import tensorflow as tf

from electra_tf import tokenization
from electra_tf.export import decoding
from electra_tf.export.multitask import MultiTaskServable
from electra_tf.export.serving import ID_INPUTS, Servable
from electra_tf.export.tagging import TaggerServable
from electra_tf.models import model_dir as model_dirs
from electra_tf.models import registry
from electra_tf.models.pretraining.base import Pretrainer


class DiscriminatorServable(Servable):
    """The pre-trained discriminator: per token, the probability it was replaced.

    Outputs: `tokens` (`string [batch, sequence_length]`, `""` at padding),
    `replaced_probability` (`float32`, 0 at padding), `num_tokens`
    (`int32 [batch]`, `[CLS]`/`[SEP]` included) and, for text, `truncated`.
    """

    def __init__(self, discriminator, rtd_head, tokenizer, sequence_length, max_chars=None):
        super().__init__(tokenizer, sequence_length, max_chars)
        self.discriminator = discriminator
        self.rtd_head = rtd_head

    @classmethod
    def from_pretrainer(cls, pretrainer, tokenizer=None, **kwargs):
        """`tokenizer` defaults to the one `ElectraPretrainer.from_preset` attached."""
        kwargs.setdefault("sequence_length", pretrainer.electra_config.sequence_length)
        return cls(pretrainer.discriminator, pretrainer.rtd_head,
                   tokenizer or pretrainer.tokenizer, **kwargs)

    def trackables(self):
        return [self.discriminator, self.rtd_head, self.tokenizer]

    def predict_ids(self, token_ids, segment_ids, padding_mask):
        inputs = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
        sequence = self.discriminator(inputs)["sequence_output"]
        probability = tf.sigmoid(tf.cast(self.rtd_head(sequence), tf.float32))
        return {
            "tokens": self.token_strings(token_ids, padding_mask),
            "replaced_probability": probability * tf.cast(padding_mask, tf.float32),
            "num_tokens": tf.reduce_sum(padding_mask, axis=1),
        }


class GeneratorServable(Servable):
    """The pre-trained generator (or masked-LM baseline): fills each `[MASK]` in the text.

    `[MASK]` is recognised only spelled exactly so. Special tokens are never
    predicted. Outputs: `predicted_tokens` (`string [batch, masks]`, one per
    `[MASK]` in order, `""` past the last), `probabilities` (`float32`),
    `num_masks` (`int32 [batch]`, masks inside the sequence) and, for text,
    `filled_text` (the repaired text with every `[MASK]` that fit replaced;
    `##` continuation marks dropped) and `truncated`.
    """

    def __init__(self, generator, tokenizer, sequence_length, max_chars=None):
        # Reads "[MASK]" in the text as the mask token; lower-casing leaves it alone.
        tokenizer = keras_hub.models.ElectraTokenizer(
            vocabulary=tokenizer.get_vocabulary(),
            lowercase=tokenizer.lowercase,
            strip_accents=tokenizer.strip_accents,
            special_tokens_in_strings=True,
        )
        super().__init__(tokenizer, sequence_length, max_chars)
        self.generator = generator
        self.mask_id = tokenizer.token_to_id(tokenization.MASK)
        special = tokenization.special_token_ids(tokenizer).values()
        self.logit_mask = tf.constant(
            [-1e9 if i in special else 0.0 for i in range(tokenizer.vocabulary_size())]
        )

    @classmethod
    def from_pretrainer(cls, pretrainer, tokenizer=None, **kwargs):
        """The `masked_lm` of either pre-trainer (ELECTRA's generator, or the masked-LM
        baseline's encoder and head); `tokenizer` defaults to the one `from_preset`
        attached."""
        kwargs.setdefault("sequence_length", pretrainer.electra_config.sequence_length)
        return cls(pretrainer.masked_lm, tokenizer or pretrainer.tokenizer, **kwargs)

    def trackables(self):
        return [self.generator, self.tokenizer]

    def predict_ids(self, token_ids, segment_ids, padding_mask):
        is_mask = (token_ids == self.mask_id) & (padding_mask > 0)
        where = tf.cast(tf.where(is_mask), tf.int32)
        positions = tf.RaggedTensor.from_value_rowids(
            where[:, 1], where[:, 0], nrows=tf.shape(token_ids)[0]
        )
        num_masks = tf.cast(positions.row_lengths(), tf.int32)
        # One spare column keeps the gather shapes non-empty for mask-free batches.
        dense_positions = tf.pad(positions.to_tensor(), [[0, 0], [0, 1]])
        logits = self.generator(
            {
                "token_ids": token_ids,
                "segment_ids": segment_ids,
                "padding_mask": padding_mask,
                "mask_positions": dense_positions,
            }
        )
        probabilities = tf.nn.softmax(tf.cast(logits, tf.float32) + self.logit_mask)
        predicted = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        valid = tf.sequence_mask(num_masks, tf.shape(dense_positions)[1])
        return {
            "predicted_tokens": tf.where(valid, tf.gather(self.vocabulary, predicted), ""),
            "probabilities": tf.where(valid, tf.reduce_max(probabilities, axis=-1), 0.0),
            "num_masks": num_masks,
        }

    def predict_text(self, text):
        encoded = self.encoder(text)
        outputs = self.predict_ids(*(encoded[name] for name in ID_INPUTS))
        filled = fill_masks(encoded["texts"][0], outputs["predicted_tokens"], outputs["num_masks"])
        return {**outputs, "filled_text": filled, "truncated": encoded["truncated"]}


class ClassifierServable(Servable):
    """An `ElectraClassifier`: label names and class probabilities.

    With `pairs=True` the signature takes `text` and `text_pair`. Outputs:
    `label` (`string [batch]`, the most likely class), `score` (its
    probability), `probabilities` (`float32 [batch, classes]`), `label_names`
    (`string [batch, classes]`, the class of each column) and, for text,
    `truncated`. Without `label_names`, classes are named by their ids.
    """

    def __init__(self, classifier, pairs=False, sequence_length=None, max_chars=None):
        self.text_inputs = ("text", "text_pair") if pairs else ("text",)
        preprocessor = classifier.preprocessor
        super().__init__(
            preprocessor.tokenizer, sequence_length or preprocessor.sequence_length, max_chars
        )
        self.classifier = classifier
        names = classifier.label_names or [str(i) for i in range(classifier.num_classes)]
        self.label_names = tf.constant(names)
        # Logits unless the model was built to output probabilities already.
        self.outputs_probabilities = classifier.activation in (
            keras.activations.softmax, keras.activations.sigmoid
        )

    def trackables(self):
        return [self.classifier, self.tokenizer]

    def predict_ids(self, token_ids, segment_ids, padding_mask):
        inputs = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
        outputs = tf.cast(self.classifier(inputs), tf.float32)
        probabilities = outputs if self.outputs_probabilities else tf.nn.softmax(outputs)
        best = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        batch = tf.shape(token_ids)[0]
        return {
            "label": tf.gather(self.label_names, best),
            "score": tf.reduce_max(probabilities, axis=-1),
            "probabilities": probabilities,
            "label_names": tf.tile(self.label_names[None], [batch, 1]),
        }


class Seq2SeqServable(Servable):
    """An `ElectraSeq2SeqLM`: generated text.

    `serving_default` and the ids signature decode with the sampler the
    model was compiled with (greedy by default) up to the preprocessor's
    `decoder_sequence_length`; the ids signature takes the encoder's packed
    source (`segment_ids` is ignored). `generate_greedy`, `generate_top_k`,
    `generate_top_p` take decoding options as per-row inputs and
    `generate_beam` searches `num_beams` wide with `length_penalty` (see
    `electra_tf.export.decoding`). Outputs: `generated_text` (`string
    [batch]`; WordPiece pieces joined, no spaces between CJK characters),
    `generated_tokens` (`string [batch, decoder length]`, `""` outside the
    generated span), `num_generated` (`int32 [batch]`), for text
    `truncated`, and with options `options_clamped`.
    """

    def __init__(self, seq2seq_lm, sequence_length=None, max_chars=None, num_beams=4,
                 length_penalty=0.0):
        preprocessor = seq2seq_lm.preprocessor
        if not preprocessor.built:
            preprocessor.build(None)
        super().__init__(
            preprocessor.tokenizer, sequence_length or preprocessor.encoder_sequence_length,
            max_chars,
        )
        self.seq2seq_lm = seq2seq_lm
        target = preprocessor.decoder_tokenizer
        if not target.built:
            target.build(None)
        self.target_tokenizer = target
        self.target_vocabulary = tf.constant(target.get_vocabulary())
        self.decoder_length = preprocessor.decoder_sequence_length
        self.start_id, self.end_id = target.start_token_id, target.end_token_id
        self.special_ids = tf.constant(sorted(target.special_token_ids))
        from electra_tf.models.samplers import LengthPenaltyBeamSampler

        self.beam_sampler = LengthPenaltyBeamSampler(num_beams, length_penalty)

    def trackables(self):
        return [self.seq2seq_lm, self.tokenizer, self.target_tokenizer]

    def predict_ids(self, token_ids, segment_ids, padding_mask):
        del segment_ids  # the encoder reads one segment
        return self.decode(token_ids, padding_mask)

    def decode(self, token_ids, padding_mask, sampler=None, max_length=None):
        """Generates with `sampler` (default: the compiled one); `max_length`
        (`int32 [batch]`, already in range) cuts each row."""
        batch = tf.shape(token_ids)[0]
        # Decode to the longest row's length (at least 1: an empty batch has no maximum).
        length = self.decoder_length if max_length is None else tf.maximum(
            tf.reduce_max(max_length), 1)
        decoder_ids = tf.pad(tf.fill([batch, 1], self.start_id), [[0, 0], [0, length - 1]])
        inputs = {
            "encoder_token_ids": token_ids,
            "encoder_padding_mask": padding_mask > 0,
            "decoder_token_ids": decoder_ids,
            "decoder_padding_mask": tf.sequence_mask(tf.ones([batch], tf.int32), length),
        }
        compiled = self.seq2seq_lm.sampler
        # Traced once per signature: the model decodes with this sampler only
        # inside this graph, and keeps its own afterwards.
        self.seq2seq_lm.sampler = sampler or compiled
        try:
            generated = self.seq2seq_lm.generate_step(inputs, stop_token_ids=[self.end_id])
        finally:
            self.seq2seq_lm.sampler = compiled
        ids = tf.cast(generated["decoder_token_ids"], tf.int32)
        keep = tf.cast(generated["decoder_padding_mask"], tf.bool) & tf.reduce_all(
            ids[..., None] != self.special_ids, axis=-1
        )
        if max_length is not None:
            # Causal decoding: a row's first max_length tokens do not depend on later ones.
            keep &= tf.range(length)[None, :] < max_length[:, None]
        tokens = tf.where(keep, tf.gather(self.target_vocabulary, ids), "")
        return {
            "generated_text": detokenize_word_pieces(tokens),
            "generated_tokens": tokens,
            "num_generated": tf.reduce_sum(tf.cast(keep, tf.int32), axis=1),
        }

    def extra_signatures(self):
        signatures = {
            name: (self._decoding_function(strategy, options),
                   [tf.TensorSpec([None], tf.string, name="text")]
                   + [tf.TensorSpec([None], decoding.OPTION_SPECS[o], name=o) for o in options])
            for name, (strategy, options) in decoding.DECODING_SIGNATURES.items()
        }
        signatures[decoding.BEAM_SIGNATURE] = (
            self._beam, [tf.TensorSpec([None], tf.string, name="text")])
        return signatures

    def _decoding_function(self, strategy, option_names):
        def generate(text, *values):
            encoded = self.encoder(text)
            options, clamped = decoding.clamp_options(
                dict(zip(option_names, values)), self.decoder_length,
                self.target_tokenizer.vocabulary_size())
            sampler = decoding.RequestSampler(
                strategy, k=options.get("k"), p=options.get("p"),
                temperature=options.get("temperature"), seed=options.get("seed"))
            outputs = self.decode(encoded["token_ids"], encoded["padding_mask"], sampler,
                                  options["max_length"])
            return {**outputs, "truncated": encoded["truncated"], "options_clamped": clamped}

        return generate

    def _beam(self, text):
        encoded = self.encoder(text)
        outputs = self.decode(encoded["token_ids"], encoded["padding_mask"], self.beam_sampler)
        return {**outputs, "truncated": encoded["truncated"]}

    def warmup_requests(self):
        requests = super().warmup_requests()
        texts = self.warmup_inputs()["text"]
        for name, (_, options) in decoding.DECODING_SIGNATURES.items():
            requests[name] = {"text": texts, **{
                o: np.full(len(texts), decoding.WARMUP_OPTIONS[o],
                           decoding.OPTION_SPECS[o].as_numpy_dtype) for o in options}}
        requests[decoding.BEAM_SIGNATURE] = {"text": texts}
        return requests


def detokenize_word_pieces(tokens):
    """WordPiece strings `[batch, length]` (`""` = none) to text, with core ops.

    TF Text's detokenizer op is newer than the TF Serving builds these
    exports target (see `serving_ops`).
    """
    from electra_tf.tokenization import join_cjk

    text = tf.strings.reduce_join(tf.where(tokens == "", "", tokens + " "), axis=1)
    text = tf.strings.regex_replace(tf.strings.strip(text), " ##", "")
    return join_cjk(text)


def fill_masks(texts, tokens, num_tokens, mask=tokenization.MASK):
    """Replaces the first `num_tokens[i]` occurrences of `mask` in `texts[i]`.

    Occurrences past `num_tokens` (cut by truncation) stay as they are.
    """
    pieces = tf.strings.split(texts, sep=mask)
    row = tf.cast(pieces.value_rowids(), tf.int32)
    gap = tf.cast(tf.ragged.range(pieces.row_lengths()).flat_values, tf.int32)
    gaps_in_row = tf.cast(tf.gather(pieces.row_lengths(), row), tf.int32) - 1
    column = tf.minimum(gap, tf.shape(tokens)[1] - 1)
    fill = tf.strings.regex_replace(tf.gather_nd(tokens, tf.stack([row, column], 1)), "^##", "")
    fill = tf.where(gap < tf.gather(num_tokens, row), fill, mask)
    fill = tf.where(gap < gaps_in_row, fill, "")
    joined = tf.reshape(tf.stack([pieces.flat_values, fill], axis=1), [-1])
    rows = tf.RaggedTensor.from_row_splits(joined, pieces.row_splits * 2)
    return tf.strings.reduce_join(rows, axis=1)


def _discriminator(model, **kwargs):
    """An ELECTRA pre-trainer's discriminator, or an `ElectraReplacedTokenDetector`."""
    if isinstance(model, Pretrainer):
        return DiscriminatorServable.from_pretrainer(model, **kwargs)
    kwargs.setdefault("sequence_length", model.preprocessor.sequence_length)
    return DiscriminatorServable(model.backbone, model.rtd_head, model.preprocessor.tokenizer,
                                 **kwargs)


def _generator(model, **kwargs):
    """Either pre-trainer's masked LM, or an `ElectraMaskedLM`."""
    if isinstance(model, Pretrainer):
        return GeneratorServable.from_pretrainer(model, **kwargs)
    kwargs.setdefault("sequence_length", model.preprocessor.sequence_length)
    return GeneratorServable(model, model.preprocessor.tokenizer, **kwargs)


def _multitask(model, sequence_length=None, **kwargs):
    return MultiTaskServable(model, model.tokenizer, sequence_length or model.sequence_length,
                             **kwargs)


# Kind name -> builder of its servable from a loaded model. Which models export as
# which kinds is the task registry's (`electra_tf.models.registry`).
SERVABLES = {
    "classifier": ClassifierServable,
    "discriminator": _discriminator,
    "generator": _generator,
    "multitask": _multitask,
    "seq2seq": Seq2SeqServable,
    "tagger": TaggerServable,
}


def detect_kind(model_dir):
    """The default export of a model directory, from the class its `task.json`
    records: an ELECTRA pre-training run exports its discriminator, a masked-LM
    baseline run its masked LM, every other model itself."""
    name = model_dirs.saved_class(model_dir)
    task = registry.TASKS.get(name)
    if task is not None and task.exports:
        return task.exports[0]
    exportable = sorted(known.name for known in registry.TASKS.values() if known.exports)
    raise model_dirs.folder_error(
        model_dir, f"holds {registry.describe(name)}, which has no default export (known: "
        f"{', '.join(exportable)})", f"pass --kind, one of {sorted(SERVABLES)}")


def load_model(kind, model_dir, dtype_policy=None):
    """The model saved in `model_dir`, checked to export as `kind` (see `SERVABLES`).

    `dtype_policy` (a Keras dtype policy name, e.g. `"mixed_bfloat16"`) loads it
    to compute under that policy, whatever the kind: every model class's
    `from_preset` takes `dtype=`. `None` keeps the policy it was saved under.
    The servables cast what they output, so an export's signatures are the same
    under any policy. A folder in electra_tf 0.1's layout loads only as saved
    (`model_dir.RunFolderError` naming the fix).
    """
    if kind not in SERVABLES:
        raise ValueError(f"unknown kind {kind!r}; choose one of {sorted(SERVABLES)}.")
    name = model_dirs.saved_class(model_dir)
    task = registry.TASKS.get(name)
    if task is None or kind not in task.exports:
        hint = f": export it with --kind {' or '.join(task.exports)}" if (
            task and task.exports) else ""
        raise ValueError(
            f"{model_dir} holds {registry.describe(name)}, which has no {kind} export{hint}.")
    return task.cls.from_preset(
        str(model_dir), **({} if dtype_policy is None else {"dtype": dtype_policy}))


def encoder_policy(model):
    """The dtype policy `model`'s encoder computes under (a task's `backbone`, a
    pre-trainer's `encoder`): the model's compute path, where heads may keep float32."""
    encoder = model.backbone if hasattr(model, "backbone") else model.encoder
    return encoder.dtype_policy


def load_servable(kind, model_dir, sequence_length=None, dtype_policy=None, **kwargs):
    """Builds the `kind` servable (see `SERVABLES`) from the model saved in `model_dir`,
    loaded by `load_model` (under `dtype_policy` when given)."""
    if sequence_length is not None:
        kwargs["sequence_length"] = sequence_length
    return SERVABLES[kind](load_model(kind, model_dir, dtype_policy), **kwargs)
