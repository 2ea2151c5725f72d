"""ELECTRA encoder + Transformer decoder for generation and translation.

Three keras-hub citizens, shaped like `keras_hub.models.BartSeq2SeqLM`:

* `ElectraSeq2SeqBackbone` — an ELECTRA discriminator (`ElectraBackbone`:
  random, a keras-hub preset, or an electra_tf model directory's
  `discriminator/`) as the encoder, and a stack of
  `keras_hub.layers.TransformerDecoder` layers with cross-attention over it.
  The decoder has its own token + position embeddings; its output projection
  is the token embedding transposed (`ReversibleEmbedding(reverse=True)`).
  The target vocabulary may differ from the source's (translation).
* `ElectraSeq2SeqLMPreprocessor` — strings in, `[CLS] source [SEP]` for the
  encoder and `[CLS] target [SEP]` (teacher forcing, labels shifted by one)
  for the decoder, with an optional second tokenizer for the target side.
* `ElectraSeq2SeqLM` — the `Seq2SeqLM` task: `fit` on strings, `generate`
  with any `keras_hub.samplers` sampler (greedy, top-k, top-p, and
  `LengthPenaltyBeamSampler` here), cached self- and cross-attention so each
  new token costs one decoder step, and an uncached reference path.

Example:
```python
from electra_tf import tokenization
from electra_tf.models.seq2seq import (
    ElectraSeq2SeqBackbone, ElectraSeq2SeqLM, ElectraSeq2SeqLMPreprocessor,
    LengthPenaltyBeamSampler, make_encoder)

vocab = tokenization.build_vocabulary(["床前明月光", "疑是地上霜"], 40)
tokenizer = tokenization.make_tokenizer(vocab)
encoder = make_encoder(vocabulary_size=len(vocab), hidden_dim=32, num_layers=1,
                       num_heads=2, intermediate_dim=64, max_sequence_length=32)
backbone = ElectraSeq2SeqBackbone(encoder, num_decoder_layers=1, max_target_length=32)
preprocessor = ElectraSeq2SeqLMPreprocessor(tokenizer, encoder_sequence_length=16,
                                            decoder_sequence_length=16)
lm = ElectraSeq2SeqLM(backbone, preprocessor)
lm.fit({"encoder_text": ["床前明月光"], "decoder_text": ["疑是地上霜"]}, epochs=1)
lm.compile(sampler=LengthPenaltyBeamSampler(num_beams=4, length_penalty=0.6))
lm.generate("床前明月光", max_length=8)
```
"""

import pathlib
import re
import warnings

import keras
import keras_hub
import tensorflow as tf
from keras import ops
from keras_hub.src.utils.tensor_utils import any_equal, preprocessing_function, strip_to_ragged

from electra_tf import tokenization
from electra_tf.layers.initializers import electra_kernel_initializer
from electra_tf.layers.transformer import electra_transformer_layers
from electra_tf.models.model_dir import encoder_preset
from electra_tf.models.tracing import BuildOptimizerBeforeTraining

# Between two CJK characters or punctuation marks WordPiece detokenization
# puts a space that Chinese text does not have.
_CJK = tokenization.cjk_ranges(re2=True)
_CJK_CLASS = f"[{tokenization.cjk_ranges(re2=True, punctuation=True)}]"
# Lower-casing applies NFKC, which maps Chinese full-width marks to ASCII
# ("，" to ","); after a Han character such a mark was full-width.
_FULL_WIDTH_MARKS = {",": "，", "!": "！", "?": "？", ";": "；", ":": "："}


def make_encoder(source=None, load_weights=True, **config):
    """An `ElectraBackbone` to serve as the encoder.

    `source` is `None` (random, built from `config`: `vocabulary_size`,
    `hidden_dim`, `num_layers`, `num_heads`, `intermediate_dim`, optional
    `embedding_dim`, `dropout`, `max_sequence_length`), an electra_tf model
    directory (its `discriminator/` preset is loaded), a keras-hub preset name
    or directory, or an `ElectraBackbone` (returned as is). With
    `load_weights=False` a preset gives its shape with fresh weights.
    """
    if isinstance(source, keras_hub.models.ElectraBackbone):
        return source
    if source is None:
        config = dict(config)
        config["vocab_size"] = config.pop("vocabulary_size")
        config.setdefault("embedding_dim", config["hidden_dim"])
        return keras_hub.models.ElectraBackbone(name="encoder", **config)
    return keras_hub.models.ElectraBackbone.from_preset(
        encoder_preset(source), load_weights=load_weights
    )


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraSeq2SeqBackbone(keras_hub.models.Backbone):
    """An ELECTRA encoder and a Transformer decoder with cross-attention.

    Args:
        encoder: a `keras_hub.models.ElectraBackbone` (see `make_encoder`).
        target_vocabulary_size: size of the decoder's vocabulary; `None` means
            the encoder's (one vocabulary for source and target).
        num_decoder_layers: decoder depth; `None` means the encoder's depth.
        decoder_num_heads, decoder_intermediate_dim: `None` means the
            encoder's values. The decoder width is the encoder's `hidden_dim`.
        dropout: dropout rate in the decoder.
        max_target_length: the decoder's position table size (the longest
            generation, start token included).

    Inputs are keras-hub's seq2seq dict (`encoder_token_ids`,
    `encoder_padding_mask`, `decoder_token_ids`, `decoder_padding_mask`);
    outputs are `encoder_sequence_output` and `decoder_sequence_output`.

    Example:
    ```python
    import numpy as np
    encoder = make_encoder(vocabulary_size=30, hidden_dim=16, num_layers=1, num_heads=2,
                           intermediate_dim=32, max_sequence_length=16)
    backbone = ElectraSeq2SeqBackbone(encoder, target_vocabulary_size=20, max_target_length=8)
    ids = np.ones((2, 5), "int32")
    backbone({"encoder_token_ids": ids, "encoder_padding_mask": ids,
              "decoder_token_ids": ids, "decoder_padding_mask": ids})
    ```
    """

    def __init__(self, encoder, target_vocabulary_size=None, num_decoder_layers=None,
                 decoder_num_heads=None, decoder_intermediate_dim=None, dropout=0.1,
                 max_target_length=256, dtype=None, **kwargs):
        if isinstance(encoder, dict):
            encoder = keras.layers.deserialize(encoder)
        target_vocabulary_size = target_vocabulary_size or encoder.vocab_size
        num_decoder_layers = num_decoder_layers or encoder.num_layers
        decoder_num_heads = decoder_num_heads or encoder.num_heads
        decoder_intermediate_dim = decoder_intermediate_dim or encoder.intermediate_dim
        hidden_dim = encoder.hidden_dim
        # The pooled (tanh) output feeds nothing here; frozen, it does not
        # trigger "no gradient" warnings.
        encoder.pooled_dense.trainable = False

        # === Layers ===
        self.encoder = encoder
        self._make_decoder(hidden_dim, target_vocabulary_size, num_decoder_layers,
                           decoder_num_heads, decoder_intermediate_dim, dropout,
                           max_target_length, dtype)

        # === Functional Model ===
        inputs = {
            name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in ("encoder_token_ids", "encoder_padding_mask",
                         "decoder_token_ids", "decoder_padding_mask")
        }
        encoder_output, encoder_mask = self.encode(inputs)
        x = self.decode(inputs, encoder_output, encoder_mask)
        super().__init__(
            inputs=inputs,
            outputs={"encoder_sequence_output": encoder_output, "decoder_sequence_output": x},
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        self.target_vocabulary_size = target_vocabulary_size
        self.num_decoder_layers = num_decoder_layers
        self.decoder_num_heads = decoder_num_heads
        self.decoder_intermediate_dim = decoder_intermediate_dim
        self.dropout = dropout
        self.max_target_length = max_target_length
        self.hidden_dim = hidden_dim

    def _make_decoder(self, hidden_dim, vocabulary_size, num_layers, num_heads,
                      intermediate_dim, dropout, max_length, dtype):
        self.token_embedding = keras.layers.ReversibleEmbedding(
            vocabulary_size, hidden_dim, embeddings_initializer=electra_kernel_initializer(),
            dtype=dtype, name="decoder_token_embedding",
        )
        self.decoder_position_embedding = keras_hub.layers.PositionEmbedding(
            sequence_length=max_length, initializer=electra_kernel_initializer(),
            dtype=dtype, name="decoder_position_embedding",
        )
        self.decoder_embeddings_add = keras.layers.Add(dtype=dtype, name="decoder_embeddings_add")
        self.decoder_embeddings_layer_norm = keras.layers.LayerNormalization(
            epsilon=1e-12, dtype=dtype, name="decoder_embeddings_layer_norm"
        )
        self.decoder_embeddings_dropout = keras.layers.Dropout(
            dropout, dtype=dtype, name="decoder_embeddings_dropout"
        )
        self.decoder_transformer_layers = electra_transformer_layers(
            keras_hub.layers.TransformerDecoder, num_layers, num_heads, intermediate_dim, dropout,
            dtype=dtype, name="transformer_decoder_layer",
        )

    def encode(self, inputs):
        """`(hidden_states, padding_mask)` of the source in `inputs`."""
        mask = inputs["encoder_padding_mask"]
        return self.call_encoder(inputs["encoder_token_ids"], mask), mask

    def decode(self, inputs, encoder_output, encoder_mask):
        x = self.embed_decoder_tokens(inputs["decoder_token_ids"])
        for layer in self.decoder_transformer_layers:
            x = layer(
                decoder_sequence=x,
                encoder_sequence=encoder_output,
                decoder_padding_mask=inputs["decoder_padding_mask"],
                encoder_padding_mask=encoder_mask,
            )
        return x

    def call_encoder(self, token_ids, padding_mask):
        # ELECTRA encoders were pre-trained with segment ids; a source is one segment.
        return self.encoder({
            "token_ids": token_ids,
            "segment_ids": ops.zeros_like(token_ids),
            "padding_mask": padding_mask,
        })["sequence_output"]

    def embed_decoder_tokens(self, token_ids, start_index=0):
        tokens = self.token_embedding(token_ids)
        positions = self.decoder_position_embedding(tokens, start_index=start_index)
        x = self.decoder_embeddings_add((tokens, positions))
        x = self.decoder_embeddings_layer_norm(x)
        return self.decoder_embeddings_dropout(x)

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.layers.serialize(self.encoder),
            "target_vocabulary_size": self.target_vocabulary_size,
            "num_decoder_layers": self.num_decoder_layers,
            "decoder_num_heads": self.decoder_num_heads,
            "decoder_intermediate_dim": self.decoder_intermediate_dim,
            "dropout": self.dropout,
            "max_target_length": self.max_target_length,
        }


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraSeq2SeqLMPreprocessor(keras_hub.models.Seq2SeqLMPreprocessor):
    """Packs `encoder_text` / `decoder_text` strings for `ElectraSeq2SeqLM`.

    The encoder sees `[CLS] source [SEP]` as in pre-training; the decoder
    input is `[CLS] target` and its labels `target [SEP]`. `target_tokenizer`
    (optional) tokenizes and detokenizes the target side when the two
    languages have separate vocabularies; give it a distinct `config_file`
    (e.g. `"target_tokenizer.json"`) so both survive `save_to_preset`.
    Sources longer than `encoder_sequence_length - 2` tokens are truncated;
    `ElectraSeq2SeqLM.generate` warns when that happens.

    Example:
    ```python
    from electra_tf import tokenization
    tokenizer = tokenization.make_tokenizer(tokenization.build_vocabulary(["a b c"], 10))
    preprocessor = ElectraSeq2SeqLMPreprocessor(tokenizer, encoder_sequence_length=8,
                                                decoder_sequence_length=8)
    x, y, sample_weight = preprocessor({"encoder_text": ["a b"], "decoder_text": ["c"]})
    ```
    """

    def __init__(self, tokenizer, target_tokenizer=None, encoder_sequence_length=128,
                 decoder_sequence_length=128, **kwargs):
        super().__init__(tokenizer, encoder_sequence_length=encoder_sequence_length,
                         decoder_sequence_length=decoder_sequence_length, **kwargs)
        if isinstance(target_tokenizer, dict):
            target_tokenizer = keras.layers.deserialize(target_tokenizer)
        self.target_tokenizer = target_tokenizer

    @property
    def decoder_tokenizer(self):
        return self.target_tokenizer or self.tokenizer

    def build(self, input_shape):
        super().build(input_shape)
        target = self.decoder_tokenizer
        self.decoder_packer = keras_hub.layers.StartEndPacker(
            start_value=target.start_token_id,
            end_value=target.end_token_id,
            pad_value=target.pad_token_id,
            sequence_length=self.decoder_sequence_length,
            return_padding_mask=True,
        )

    def _pack(self, x, encoder_sequence_length, decoder_sequence_length, add_end_value):
        token_ids, padding_mask = self.encoder_packer(
            self.tokenizer(x["encoder_text"]), sequence_length=encoder_sequence_length
        )
        decoder_ids, decoder_mask = self.decoder_packer(
            self.decoder_tokenizer(x["decoder_text"]),
            sequence_length=decoder_sequence_length,
            add_end_value=add_end_value,
        )
        return token_ids, padding_mask, decoder_ids, decoder_mask

    @preprocessing_function
    def call(self, x, y=None, sample_weight=None, *, encoder_sequence_length=None,
             decoder_sequence_length=None, sequence_length=None):
        encoder_sequence_length = encoder_sequence_length or self.encoder_sequence_length
        decoder_sequence_length = (
            decoder_sequence_length or sequence_length or self.decoder_sequence_length
        )
        token_ids, padding_mask, decoder_ids, decoder_mask = self._pack(
            x, encoder_sequence_length, decoder_sequence_length + 1, add_end_value=True
        )
        x = {
            "encoder_token_ids": token_ids,
            "encoder_padding_mask": padding_mask,
            "decoder_token_ids": decoder_ids[..., :-1],
            "decoder_padding_mask": decoder_mask[..., :-1],
        }
        return keras.utils.pack_x_y_sample_weight(x, decoder_ids[..., 1:], decoder_mask[..., 1:])

    @preprocessing_function
    def generate_preprocess(self, x, *, encoder_sequence_length=None,
                            decoder_sequence_length=None, sequence_length=None):
        if not self.built:
            self.build(None)
        if not isinstance(x, dict):
            x = {"encoder_text": x, "decoder_text": self._empty_decoder_text(x)}
        encoder_sequence_length = encoder_sequence_length or self.encoder_sequence_length
        decoder_sequence_length = (
            decoder_sequence_length or sequence_length or self.decoder_sequence_length
        )
        token_ids, padding_mask, decoder_ids, decoder_mask = self._pack(
            x, encoder_sequence_length, decoder_sequence_length, add_end_value=False
        )
        return {
            "encoder_token_ids": token_ids,
            "encoder_padding_mask": padding_mask,
            "decoder_token_ids": decoder_ids,
            "decoder_padding_mask": decoder_mask,
        }

    @preprocessing_function
    def generate_postprocess(self, x):
        if not self.built:
            self.build(None)
        target = self.decoder_tokenizer
        token_ids = strip_to_ragged(
            x["decoder_token_ids"], x["decoder_padding_mask"], target.special_token_ids
        )
        return join_cjk(target.detokenize(token_ids))

    def count_truncated(self, sources):
        """How many sources exceed the encoder's `encoder_sequence_length - 2` tokens.

        `sources` is what `generate` takes: a string, a list or string tensor
        of them, a dict holding them under `encoder_text`, or a `tf.data`
        dataset of any of these (read once more, tokenizing only).
        """
        if isinstance(sources, tf.data.Dataset):
            return sum(self.count_truncated(element) for element in sources)
        if isinstance(sources, dict):
            sources = sources.get("encoder_text")
        if sources is None:  # already packed token ids: nothing to truncate here
            return 0
        sources = tf.reshape(tf.convert_to_tensor(sources, tf.string), [-1])
        if not sources.shape[0]:
            return 0
        token_ids = self.tokenizer(sources)
        lengths = (token_ids.row_lengths() if isinstance(token_ids, tf.RaggedTensor)
                   else [len(ids) for ids in token_ids])
        limit = self.encoder_sequence_length - 2
        return int(tf.reduce_sum(tf.cast(tf.convert_to_tensor(lengths) > limit, "int32")))

    def get_config(self):
        # keras-hub's base leaves the lengths out, so a preset would reload
        # with its 1024 defaults.
        config = {
            **super().get_config(),
            "encoder_sequence_length": self.encoder_sequence_length,
            "decoder_sequence_length": self.decoder_sequence_length,
        }
        if self.target_tokenizer is not None:
            config["target_tokenizer"] = keras.layers.serialize(self.target_tokenizer)
        return config


def join_cjk(text):
    """Removes the spaces WordPiece detokenization puts between CJK characters.

    ASCII `, ! ? ; :` right after a Han character become full-width again
    (undoing the NFKC of an uncased vocabulary), so Chinese output reads "，".
    """
    for mark, full_width in _FULL_WIDTH_MARKS.items():
        text = tf.strings.regex_replace(text, rf"([{_CJK}]) {re.escape(mark)}", rf"\1 {full_width}")
    pattern = f"({_CJK_CLASS}) ({_CJK_CLASS})"
    # Matches cannot overlap, so one pass joins every other gap; two join all.
    for _ in range(2):
        text = tf.strings.regex_replace(text, pattern, r"\1\2")
    return text


@keras.saving.register_keras_serializable(package="electra_tf")
class SmoothedSparseCategoricalCrossentropy(keras.losses.Loss):
    """Sparse cross-entropy from logits with label smoothing.

    Keras's sparse loss has no `label_smoothing`; one-hot labels for a whole
    target vocabulary would cost a `[batch, length, vocab]` tensor, so the
    smoothed loss is computed as (1 - e) * NLL + e * mean(-log p) instead.

    Example:
    ```python
    import numpy as np
    loss = SmoothedSparseCategoricalCrossentropy(label_smoothing=0.1)
    loss(np.array([[1]]), np.zeros((1, 1, 4), "float32"))  # log(4) either way
    ```
    """

    def __init__(self, label_smoothing=0.1, name="smoothed_sparse_categorical_crossentropy",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        nll = -ops.take_along_axis(log_probs, ops.cast(y_true, "int32")[..., None], axis=-1)
        uniform = -ops.mean(log_probs, axis=-1)
        e = self.label_smoothing
        return (1.0 - e) * ops.squeeze(nll, -1) + e * uniform

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


@keras.saving.register_keras_serializable(package="electra_tf")
class LengthPenaltyBeamSampler(keras_hub.samplers.BeamSampler):
    """Beam search whose finished beams stop scoring, ranked with a length penalty.

    keras-hub's `BeamSampler` keeps adding log-probabilities after a beam has
    produced the end token and ranks beams by raw sums. Here a finished beam
    can only repeat the end token at no cost (so its score is the score of
    the sequence up to its end), and the final choice divides each score by
    GNMT's `((5 + length) / 6) ** length_penalty`; 0 ranks by raw
    log-probability, larger values favour longer outputs. A beam wider than
    the vocabulary is allowed: the surplus beams hold -1e9 scores until there
    are enough real candidates, so the search is then exhaustive.

    Example:
    ```python
    sampler = LengthPenaltyBeamSampler(num_beams=4, length_penalty=0.6)
    # lm.compile(sampler=sampler); lm.generate("...")
    ```
    """

    def __init__(self, num_beams=5, length_penalty=0.0, **kwargs):
        super().__init__(num_beams=num_beams, **kwargs)
        self.length_penalty = length_penalty

    def __call__(self, next, prompt, cache=None, index=0, mask=None, stop_token_ids=None,
                 hidden_states=None, model=None):
        num_beams = self.num_beams
        batch_size, max_length = ops.shape(prompt)[0], ops.shape(prompt)[1]
        index = ops.cast(index, "int32")
        start = index
        mask = ops.zeros_like(prompt, "bool") if mask is None else ops.cast(mask, "bool")

        def flatten(x):
            return ops.reshape(x, (-1,) + tuple(ops.shape(x)[2:]))

        def unflatten(x):
            return ops.reshape(x, (-1, num_beams) + tuple(ops.shape(x)[1:]))

        def finished(prompt, mask):
            if stop_token_ids is None:
                return ops.zeros(ops.shape(prompt)[:1], "bool")
            return ops.any(any_equal(prompt, stop_token_ids, ~mask), axis=-1)

        has_cache = cache is not None
        cache = cache if has_cache else ()
        prompt, mask = ops.repeat(prompt, num_beams, 0), ops.repeat(mask, num_beams, 0)
        cache = keras.tree.map_structure(lambda x: ops.repeat(x, num_beams, 0), cache)
        # Only the first beam is live at the start: the others are copies.
        log_probs = ops.array([[0.0] + [-1e9] * (num_beams - 1)], "float32")
        log_probs = flatten(ops.broadcast_to(log_probs, (batch_size, num_beams)))

        def cond(prompt, cache, index, mask, log_probs):
            return ops.logical_not(ops.all(finished(prompt, mask)))

        def body(prompt, cache, index, mask, log_probs):
            logits, _, cache = next(prompt, cache, index)
            vocab_size = ops.shape(logits)[-1]
            step = ops.log_softmax(ops.cast(logits, "float32") / self.temperature, axis=-1)
            if stop_token_ids is not None:
                # A finished beam may only repeat its end token, for free.
                frozen = ops.where(ops.arange(vocab_size) == stop_token_ids[0], 0.0, -1e9)
                step = ops.where(finished(prompt, mask)[:, None], frozen[None, :], step)
            candidates = ops.reshape(step + log_probs[:, None], (-1, num_beams * vocab_size))
            top_log_probs, indices = ops.top_k(candidates, k=num_beams, sorted=False)
            beam_indices = indices // vocab_size
            next_token = flatten(indices % vocab_size)
            new_log_probs = tf.ensure_shape(flatten(top_log_probs), log_probs.shape)

            def gather_beams(x):
                x = unflatten(x)
                gather_index = beam_indices
                for axis in range(2, len(x.shape)):
                    gather_index = ops.expand_dims(gather_index, axis)
                return flatten(ops.take_along_axis(x, gather_index, axis=1))

            prompt = gather_beams(prompt)
            if has_cache:
                cache = keras.tree.map_structure(gather_beams, cache)
            next_token = ops.cast(next_token, prompt.dtype)
            next_token = ops.where(mask[:, index], prompt[:, index], next_token)
            prompt = ops.slice_update(prompt, [0, index], next_token[:, None])
            return prompt, cache, index + 1, mask, new_log_probs

        prompt, _, _, mask, log_probs = self.run_loop(
            cond=cond, body=body, loop_vars=(prompt, cache, index, mask, log_probs),
            maximum_iterations=max_length - index, model=model,
        )
        scores = log_probs
        if self.length_penalty:
            lengths = self._generated_lengths(prompt, mask, start, stop_token_ids)
            scores = scores / ((5.0 + lengths) / 6.0) ** self.length_penalty
        best = ops.argmax(unflatten(scores), axis=-1)[:, None, None]
        return ops.squeeze(ops.take_along_axis(unflatten(prompt), best, axis=1), axis=1)

    @staticmethod
    def _generated_lengths(prompt, mask, start, stop_token_ids):
        """Tokens generated up to and including the first end token."""
        positions = ops.arange(ops.shape(prompt)[1])
        generated = positions[None, :] >= start
        if stop_token_ids is None:
            return ops.cast(ops.sum(ops.cast(generated, "int32"), axis=-1), "float32")
        is_end = any_equal(prompt, stop_token_ids, ~mask) & generated
        after_end = ops.cumsum(ops.cast(is_end, "int32"), axis=-1) - ops.cast(is_end, "int32")
        counted = generated & (after_end == 0)
        return ops.cast(ops.sum(ops.cast(counted, "int32"), axis=-1), "float32")

    def get_config(self):
        return {**super().get_config(), "length_penalty": self.length_penalty}


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraSeq2SeqLM(BuildOptimizerBeforeTraining, keras_hub.models.Seq2SeqLM):
    """ELECTRA encoder-decoder language model: `fit` on pairs, `generate` text.

    Teacher forcing comes from the preprocessor (decoder input `[CLS] y`,
    labels `y [SEP]`). `compile(label_smoothing=0.1)` switches the loss to
    `SmoothedSparseCategoricalCrossentropy`. `generate` decodes with the
    compiled sampler (`"greedy"` by default; `"top_k"`, `"top_p"` with
    `temperature`, `LengthPenaltyBeamSampler`), a batch at a time, stopping
    when every sequence has produced `[SEP]` or at `max_length` (decoder
    positions, start token included). `use_cache=False` re-runs the decoder
    over the whole prefix at each step: a slow reference for tests and the
    speed benchmark.

    Example:
    ```python
    # lm = ElectraSeq2SeqLM(backbone, preprocessor)  (see the module docstring)
    # lm.compile(sampler=keras_hub.samplers.TopPSampler(p=0.9, temperature=0.8, seed=1))
    # lm.generate(["床前明月光"], max_length=16)
    ```
    """

    backbone_cls = ElectraSeq2SeqBackbone
    preprocessor_cls = ElectraSeq2SeqLMPreprocessor

    def __init__(self, backbone, preprocessor=None, **kwargs):
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.use_cache = True
        encoder_positions = getattr(backbone.encoder, "max_sequence_length", None)
        if preprocessor is not None and encoder_positions is not None and (
            preprocessor.encoder_sequence_length > encoder_positions
        ):
            raise ValueError(
                f"the preprocessor packs sources to {preprocessor.encoder_sequence_length} "
                f"tokens but the encoder has {backbone.encoder.max_sequence_length} positions; "
                "lower encoder_sequence_length."
            )

        # === Functional Model ===
        inputs = backbone.input
        hidden_states = backbone(inputs)["decoder_sequence_output"]
        logits = backbone.token_embedding(hidden_states, reverse=True)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

    def compile(self, optimizer="auto", loss="auto", *, weighted_metrics="auto",
                sampler="greedy", label_smoothing=0.0, **kwargs):
        """Adam(1e-4) and (label-smoothed) sparse cross-entropy unless given."""
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(1e-4)
        if loss == "auto" and label_smoothing:
            loss = SmoothedSparseCategoricalCrossentropy(label_smoothing)
        super().compile(optimizer=optimizer, loss=loss, weighted_metrics=weighted_metrics,
                        sampler=sampler, **kwargs)

    def generate(self, inputs, max_length=None, stop_token_ids="auto", strip_prompt=False,
                 use_cache=True):
        """`Seq2SeqLM.generate` plus input checks and the `use_cache` switch."""
        if max_length is not None:
            if max_length < 1:
                raise ValueError(
                    f"max_length must be >= 1 (it counts the decoder's start token), got "
                    f"{max_length}; max_length=1 generates nothing."
                )
            if max_length > self.backbone.max_target_length:
                raise ValueError(
                    f"max_length={max_length} exceeds the decoder's position table "
                    f"({self.backbone.max_target_length}); rebuild with a larger "
                    "max_target_length or ask for less."
                )
        if use_cache != self.use_cache:
            self.use_cache = use_cache
            self.generate_function = None
        truncated = 0 if self.preprocessor is None else self.preprocessor.count_truncated(inputs)
        if truncated:
            warnings.warn(
                f"{truncated} source(s) longer than the encoder's "
                f"{self.preprocessor.encoder_sequence_length - 2} tokens were truncated.",
                stacklevel=2,
            )
        return super().generate(inputs, max_length=max_length, stop_token_ids=stop_token_ids,
                                strip_prompt=strip_prompt)

    # ------------------------------------------------------------- decoding
    def call_decoder_with_cache(self, encoder_hidden_states, encoder_padding_mask,
                                decoder_token_ids, self_attention_cache=None,
                                self_attention_cache_update_index=None,
                                cross_attention_cache=None,
                                cross_attention_cache_update_index=None):
        """One decoder pass that reads and updates key/value caches.

        Caches are `[batch, num_layers, 2, length, num_heads, head_dim]`; an
        update index of `None` reuses a cache as is (the cross-attention
        cache after the first step). Returns `(logits, hidden_states,
        self_attention_cache, cross_attention_cache)`.
        """
        start_index = self_attention_cache_update_index
        x = self.backbone.embed_decoder_tokens(
            decoder_token_ids, start_index=0 if start_index is None else start_index
        )
        self_caches, cross_caches = [], []
        for i, layer in enumerate(self.backbone.decoder_transformer_layers):
            x, next_self, next_cross = layer(
                decoder_sequence=x,
                encoder_sequence=encoder_hidden_states,
                encoder_padding_mask=encoder_padding_mask,
                self_attention_cache=self_attention_cache[:, i, ...],
                self_attention_cache_update_index=self_attention_cache_update_index,
                cross_attention_cache=cross_attention_cache[:, i, ...],
                cross_attention_cache_update_index=cross_attention_cache_update_index,
            )
            self_caches.append(next_self)
            cross_caches.append(next_cross)
        if self_attention_cache_update_index is not None:
            self_attention_cache = ops.stack(self_caches, axis=1)
        if cross_attention_cache_update_index is not None:
            cross_attention_cache = ops.stack(cross_caches, axis=1)
        logits = self.backbone.token_embedding(x, reverse=True)
        return logits, x, self_attention_cache, cross_attention_cache

    def call_decoder(self, encoder_hidden_states, encoder_padding_mask, decoder_token_ids):
        """The uncached decoder over a whole (causally masked) prefix."""
        x = self.backbone.embed_decoder_tokens(decoder_token_ids)
        for layer in self.backbone.decoder_transformer_layers:
            x = layer(decoder_sequence=x, encoder_sequence=encoder_hidden_states,
                      encoder_padding_mask=encoder_padding_mask)
        return self.backbone.token_embedding(x, reverse=True), x

    def _empty_caches(self, batch_size, decoder_length, encoder_length):
        backbone = self.backbone
        head_dim = backbone.hidden_dim // backbone.decoder_num_heads
        shape = [batch_size, backbone.num_decoder_layers, 2, decoder_length,
                 backbone.decoder_num_heads, head_dim]
        self_cache = ops.zeros(shape, dtype=self.compute_dtype)
        shape[3] = encoder_length
        return self_cache, ops.zeros(shape, dtype=self.compute_dtype)

    def generate_step(self, inputs, stop_token_ids=None):
        """Decodes one batch of packed inputs (see `Seq2SeqLM.generate`)."""
        encoder_hidden_states, encoder_padding_mask = self.backbone.encode(inputs)
        decoder_token_ids = inputs["decoder_token_ids"]
        decoder_padding_mask = inputs["decoder_padding_mask"]
        # Generation starts after the shortest prompt; longer prompts keep
        # their tokens because the sampler never overwrites masked positions.
        index = ops.min(ops.sum(ops.cast(decoder_padding_mask, "int32"), axis=-1))

        if self.use_cache:
            self_cache, cross_cache = self._empty_caches(
                ops.shape(encoder_hidden_states)[0], ops.shape(decoder_token_ids)[1],
                ops.shape(encoder_hidden_states)[1],
            )
            _, hidden_states, self_cache, cross_cache = self.call_decoder_with_cache(
                encoder_hidden_states, encoder_padding_mask, decoder_token_ids,
                self_cache, 0, cross_cache, 0,
            )
            cache = (self_cache, encoder_hidden_states, encoder_padding_mask, cross_cache)

            def next(prompt, cache, index):
                self_cache, states, states_mask, cross_cache = cache
                token = ops.slice(prompt, [0, index - 1], [ops.shape(prompt)[0], 1])
                logits, hidden, self_cache, _ = self.call_decoder_with_cache(
                    states, states_mask, token, self_cache, index - 1, cross_cache, None
                )
                return (ops.squeeze(logits, 1), ops.squeeze(hidden, 1),
                        (self_cache, states, states_mask, cross_cache))
        else:
            hidden_states = None
            cache = (encoder_hidden_states, encoder_padding_mask)

            def next(prompt, cache, index):
                logits, hidden = self.call_decoder(*cache, prompt)
                return logits[:, index - 1], hidden[:, index - 1], cache

        decoder_token_ids = self.sampler(
            next=next, prompt=decoder_token_ids, cache=cache, index=index,
            mask=decoder_padding_mask, stop_token_ids=stop_token_ids,
            hidden_states=hidden_states, model=self,
        )
        if stop_token_ids is None:
            decoder_padding_mask = ops.ones_like(decoder_token_ids, dtype="bool")
        else:
            # Keep everything up to and including the first new end token.
            ends = ops.cast(any_equal(decoder_token_ids, stop_token_ids,
                                      ops.logical_not(decoder_padding_mask)), "int32")
            after_end = ops.cumsum(ends, axis=-1) - ends
            decoder_padding_mask = ops.logical_not(ops.cast(after_end, "bool"))
        return {"decoder_token_ids": decoder_token_ids,
                "decoder_padding_mask": decoder_padding_mask}
