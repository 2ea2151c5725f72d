"""The document's API: `generator_decoder` and `ELECTRA_model`, made to run.

The document this project grew from shows

```text
model = ELECTRA_model(input_ids, input_mask, hidden_size, num_layers, dropout_rate)
model.compile(optimizer=Adam(1e-4), loss=SparseCategoricalCrossentropy(from_logits=True))
model.fit(x_train, y_train, epochs=10, batch_size=32)
```

and a translation variant taking `source_input_ids`, `target_input_ids`,
`source_vocab_size` and `target_vocab_size`. As printed it does not run
(undefined names, `num_layers` ignored). The reading implemented here:

* `input_ids` / `input_mask` are the *source* (a prompt, a first line of a
  poem): Keras `Input`s, or `None` to have them made with
  `shape=(sequence_length,)`. They feed an ELECTRA encoder
  (`keras_hub.models.ElectraBackbone`, random or warm-started with
  `encoder=` a model directory or preset).
* `generator_decoder(input_ids, input_mask, ...)` is the Transformer decoder
  that *generates*: its `input_ids` / `input_mask` are the decoder's own
  (teacher-forced) tokens, `[CLS] target`; it cross-attends to
  `encoder_outputs` when given, and returns next-token logits through an
  output projection tied to its token embedding.
* `ELECTRA_model` wires the two and returns a plain `keras.Model` whose last
  input is `target_input_ids` (the decoder input) and whose output is logits
  `[batch, target_length, target_vocab_size]`. `y_train` is the target
  shifted left (`target [SEP]`), so the printed compile and fit lines train
  it. `make_training_arrays` builds `x_train`, `y_train` from strings, and
  `greedy_generate` decodes with the trained model.
* The generation form's inputs are `[input_ids, input_mask,
  target_input_ids]`; the translation form's are `[source_input_ids,
  target_input_ids]` (the source mask is `source_input_ids != 0`).
* `hidden_size`, `num_layers` (encoder *and* decoder), `dropout_rate` are
  all honoured; heads = max(1, hidden_size // 64), FFN = 4 x hidden_size.
  Vocabulary sizes are keyword arguments; their defaults are the released
  ELECTRA vocabularies: English 30522 (`vocab_size`, `source_vocab_size`)
  and Chinese 21128 (`target_vocab_size`). Pass your tokenizer's
  `vocabulary_size()` for your own vocabulary.

`generator_decoder` is the `ElectraDecoder` layer
(`electra_tf/layers/decoder.py`) that `ElectraSeq2SeqLM` decodes with, and
`ELECTRA_model` is `ElectraSeq2SeqLM`'s architecture, so the document's model
packs and decodes as that keras-hub task does: `make_training_arrays` packs
with its preprocessor (`document_preprocessor`), and `seq2seq_lm(model,
tokenizer)` is an `ElectraSeq2SeqLM` with the model's weights, whose
`generate` decodes (cached; greedy, beam search or sampling);
`greedy_generate` is its greedy `generate`.

Example:
```python
import keras
import numpy as np
from electra_tf.models.seq2seq.document import ELECTRA_model

model = ELECTRA_model(hidden_size=32, num_layers=1, dropout_rate=0.1, vocab_size=50,
                      sequence_length=8)
model.compile(optimizer=keras.optimizers.Adam(1e-4),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
x_train = [np.ones((4, 8), "int32"), np.ones((4, 8), "int32"), np.ones((4, 8), "int32")]
y_train = np.ones((4, 8), "int32")
model.fit(x_train, y_train, epochs=1, batch_size=32)
model.output_shape  # [batch, target_length, vocab_size] logits  # -> (None, 8, 50)
```
"""

import warnings

import keras
import keras_hub
import numpy as np
from keras import ops

from electra_tf.config import default_num_heads, feedforward_size
from electra_tf.layers.decoder import ElectraDecoder
from electra_tf.models.seq2seq.backbone import ElectraSeq2SeqBackbone, encode_text, make_encoder
from electra_tf.models.seq2seq.preprocessor import ElectraSeq2SeqLMPreprocessor
from electra_tf.models.seq2seq.seq2seq_lm import ElectraSeq2SeqLM

ENGLISH_VOCAB_SIZE = 30522  # google/electra-*-discriminator
CHINESE_VOCAB_SIZE = 21128  # hfl/chinese-electra-*


def _num_heads(hidden_size):
    heads = default_num_heads(hidden_size)
    if hidden_size % heads:
        raise ValueError(f"hidden_size {hidden_size} is not divisible by {heads} heads.")
    return heads


def generator_decoder(input_ids, input_mask, hidden_size=256, num_layers=2, dropout_rate=0.1, *,
                      vocab_size=CHINESE_VOCAB_SIZE, encoder_outputs=None, encoder_mask=None,
                      max_length=512, name="generator_decoder"):
    """A `num_layers`-deep Transformer decoder; returns next-token logits.

    `input_ids` / `input_mask` are the decoder's inputs (Keras tensors,
    `[batch, length]`); `encoder_outputs` / `encoder_mask` (optional) are
    what it cross-attends to. Without them it is a decoder-only causal LM.

    Example:
    ```python
    import keras
    ids = keras.Input((8,), dtype="int32")
    logits = generator_decoder(ids, ids, hidden_size=32, num_layers=2, dropout_rate=0.1,
                               vocab_size=100)
    keras.Model(ids, logits).output.shape  # -> (None, 8, 100)
    ```
    """
    decoder = ElectraDecoder(vocab_size, hidden_size, num_layers, _num_heads(hidden_size),
                             feedforward_size(hidden_size), dropout_rate,
                             max_sequence_length=max_length, name=name)
    x = decoder(input_ids, padding_mask=input_mask, encoder_sequence=encoder_outputs,
                encoder_padding_mask=encoder_mask)
    # Tied output projection: the transposed token embedding.
    return decoder.logits(x)


def ELECTRA_model(input_ids=None, input_mask=None, hidden_size=256, num_layers=2,
                  dropout_rate=0.1, *, vocab_size=ENGLISH_VOCAB_SIZE, source_input_ids=None,
                  target_input_ids=None, source_vocab_size=None, target_vocab_size=None,
                  sequence_length=64, target_length=None, encoder=None):
    """ELECTRA encoder + `generator_decoder`, as a `keras.Model` (see the module docstring).

    Generation form: `ELECTRA_model(input_ids, input_mask, hidden_size,
    num_layers, dropout_rate, vocab_size=...)`, one vocabulary, inputs
    `[input_ids, input_mask, target_input_ids]`.

    Translation form: `ELECTRA_model(source_input_ids=..., target_input_ids=...,
    source_vocab_size=..., target_vocab_size=...)` (the id arguments may be
    `True` to have Inputs made), inputs `[source_input_ids, target_input_ids]`.
    Giving `source_vocab_size` or `target_vocab_size` alone also selects it;
    unspecified sizes default to English 30522 (source) and Chinese 21128
    (target).

    `encoder` warm-starts the encoder: an electra_tf model directory, a
    keras-hub `ElectraBackbone` preset, or an `ElectraBackbone`; its
    `hidden_size` and `num_layers` must then match.
    """
    translation = any(v is not None for v in (source_input_ids, source_vocab_size,
                                                 target_vocab_size))
    target_length = target_length or sequence_length

    def as_input(value, name, length):
        if value is None or value is True:
            return keras.Input((length,), dtype="int32", name=name)
        return value

    if translation:
        if input_ids is not None or input_mask is not None:
            raise ValueError("give either input_ids/input_mask (generation) or "
                             "source_input_ids/target_input_ids (translation), not both.")
        source_vocab_size = source_vocab_size or ENGLISH_VOCAB_SIZE
        target_vocab_size = target_vocab_size or CHINESE_VOCAB_SIZE
        source = as_input(source_input_ids, "source_input_ids", sequence_length)
        source_mask = ops.cast(ops.not_equal(source, 0), "int32")
        inputs = [source]
    else:
        source_vocab_size = target_vocab_size = vocab_size
        source = as_input(input_ids, "input_ids", sequence_length)
        source_mask = as_input(input_mask, "input_mask", sequence_length)
        inputs = [source, source_mask]
    target = as_input(target_input_ids, "target_input_ids", target_length)
    inputs.append(target)

    electra = make_encoder(
        encoder, vocabulary_size=source_vocab_size, hidden_dim=hidden_size,
        num_layers=num_layers, num_heads=_num_heads(hidden_size),
        intermediate_dim=feedforward_size(hidden_size), dropout=dropout_rate,
        max_sequence_length=max(512, sequence_length),
    )
    if (electra.hidden_dim, electra.num_layers) != (hidden_size, num_layers):
        raise ValueError(
            f"the warm-start encoder has hidden size {electra.hidden_dim} and "
            f"{electra.num_layers} layers, but hidden_size={hidden_size}, "
            f"num_layers={num_layers} were asked for; pass the encoder's sizes."
        )
    electra.pooled_dense.trainable = False  # unused here
    encoder_outputs = encode_text(electra, source, source_mask)
    logits = generator_decoder(
        target, ops.cast(ops.not_equal(target, 0), "int32"), hidden_size, num_layers,
        dropout_rate, vocab_size=target_vocab_size, encoder_outputs=encoder_outputs,
        encoder_mask=source_mask, max_length=max(512, target_length),
    )
    return keras.Model(inputs, logits, name="ELECTRA_model")


def document_preprocessor(model, source_tokenizer, target_tokenizer=None):
    """The `ElectraSeq2SeqLMPreprocessor` that packs text for `model` (from `ELECTRA_model`):
    sources to its source length, targets to its target length."""
    return ElectraSeq2SeqLMPreprocessor(
        source_tokenizer, target_tokenizer=target_tokenizer,
        encoder_sequence_length=model.inputs[0].shape[1],
        decoder_sequence_length=model.inputs[-1].shape[1])


def make_training_arrays(model, sources, targets, source_tokenizer, target_tokenizer=None):
    """`(x_train, y_train)` for `model.fit` from source and target strings.

    Packed as `ElectraSeq2SeqLM` packs (`document_preprocessor`): the source
    becomes `[CLS] source [SEP]`, the decoder input `[CLS] target` and the
    labels `target [SEP]`, all right-padded with 0 to the model's input
    lengths. Longer texts are truncated, with a warning.
    """
    preprocessor = document_preprocessor(model, source_tokenizer, target_tokenizer)
    sources, targets = list(sources), list(targets)
    _warn_if_truncated(preprocessor.count_truncated(sources),
                       preprocessor.encoder_sequence_length - 2, "sequence_length")
    _warn_if_truncated(preprocessor.count_truncated_targets(targets),
                       preprocessor.decoder_sequence_length - 1, "target_length")
    x, y, _ = preprocessor({"encoder_text": sources, "decoder_text": targets})
    inputs = [x["encoder_token_ids"], x["decoder_token_ids"]]
    if len(model.inputs) == 3:  # the generation form takes the source's mask too
        inputs.insert(1, x["encoder_padding_mask"])
    return [np.asarray(value, "int32") for value in inputs], np.asarray(y, "int32")


def _warn_if_truncated(truncated, limit, length_name):
    if truncated:
        warnings.warn(f"{truncated} text(s) longer than {limit} tokens were truncated; build the "
                      f"model with a larger {length_name} to keep them.", stacklevel=3)


def seq2seq_lm(model, source_tokenizer, target_tokenizer=None):
    """`model` (from `ELECTRA_model`) as an `ElectraSeq2SeqLM`, to decode with its weights.

    The encoder is `model`'s own; the decoder a copy of its `generator_decoder`
    with the weights it has now. `generate` then decodes as `ElectraSeq2SeqLM`
    does: cached, with any sampler given to `compile` (greedy by default; beam
    search, top-k, top-p).

    Example:
    ```python
    from electra_tf import tokenization
    from electra_tf.models.samplers import LengthPenaltyBeamSampler

    tokenizer = tokenization.make_tokenizer(tokenization.build_vocabulary(["a b c"], 10))
    model = ELECTRA_model(hidden_size=32, num_layers=1, dropout_rate=0.1,
                          vocab_size=tokenizer.vocabulary_size(), sequence_length=8)
    lm = seq2seq_lm(model, tokenizer)
    lm.compile(sampler=LengthPenaltyBeamSampler(num_beams=2))
    generated = lm.generate(["a b"], max_length=4)
    len(generated), len(generated[0].split()) <= 3  # one string, up to 3 tokens  # -> (1, True)
    ```
    """
    encoder = next(layer for layer in model.layers
                   if isinstance(layer, keras_hub.models.ElectraBackbone))
    decoder = next(layer for layer in model.layers if isinstance(layer, ElectraDecoder))
    backbone = ElectraSeq2SeqBackbone(
        encoder, target_vocabulary_size=decoder.vocabulary_size,
        num_decoder_layers=decoder.num_layers, decoder_num_heads=decoder.num_heads,
        decoder_intermediate_dim=decoder.intermediate_dim, dropout=decoder.dropout,
        max_target_length=decoder.max_sequence_length)
    backbone.decoder.set_weights(decoder.get_weights())
    return ElectraSeq2SeqLM(backbone, document_preprocessor(model, source_tokenizer,
                                                            target_tokenizer))


def greedy_generate(model, sources, source_tokenizer, target_tokenizer=None, max_length=None):
    """Greedy decoding with a model from `ELECTRA_model`; returns strings.

    `ElectraSeq2SeqLM.generate` on `model`'s weights (`seq2seq_lm`), up to
    `max_length` decoder positions (at most, and by default, the model's
    target length), stopping at `[SEP]`.
    """
    target_length = model.inputs[-1].shape[1]
    lm = seq2seq_lm(model, source_tokenizer, target_tokenizer)
    return lm.generate(list(sources), max_length=min(max_length or target_length, target_length))
