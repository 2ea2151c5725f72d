"""`ElectraSeq2SeqLM`: the encoder-decoder task, `fit` on string pairs, `generate` text.

Shaped like `keras_hub.models.BartSeq2SeqLM`: an `ElectraSeq2SeqBackbone`
(`backbone.py`), an `ElectraSeq2SeqLMPreprocessor` (`preprocessor.py`),
logits from the decoder's tied output projection. `generate` works with any
`keras_hub.samplers` sampler (greedy, top-k, top-p, and
`LengthPenaltyBeamSampler` from `electra_tf.models.samplers`), with
cached self- and cross-attention so each new token costs one decoder step,
or an uncached reference path (`use_cache=False`). Beam search reorders only
the self-attention cache: the encoder's states and the cross-attention cache
are computed once per source (a `BeamCache`'s `per_source` part).

Example:
```python
from electra_tf import tokenization
from electra_tf.models.samplers import LengthPenaltyBeamSampler
from electra_tf.models.seq2seq.backbone import ElectraSeq2SeqBackbone, make_encoder
from electra_tf.models.seq2seq.preprocessor import ElectraSeq2SeqLMPreprocessor, trim_to_longest
from electra_tf.models.seq2seq.seq2seq_lm import ElectraSeq2SeqLM

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
line = lm.generate("床前明月光", max_length=8)  # '疑是地上霜' once trained
isinstance(line, str)  # at most 7 tokens: max_length counts the start token  # -> True
```
"""

import warnings

import keras
import keras_hub
from keras import ops

from electra_tf import compat
from electra_tf.compat.multi_worker import MultiWorkerKerasSteps
from electra_tf.compat.tracing import BuildOptimizerBeforeTraining
from electra_tf.models import model_dir
from electra_tf.models.encoders import saved_mixed_policy
from electra_tf.models.losses import SmoothedSparseCategoricalCrossentropy
from electra_tf.models.samplers import BeamCache
from electra_tf.models.seq2seq.backbone import ElectraSeq2SeqBackbone
from electra_tf.models.seq2seq.preprocessor import ElectraSeq2SeqLMPreprocessor, trim_to_longest
from electra_tf.models.task_presets import FreshOptimizerOnLoad


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraSeq2SeqLM(MultiWorkerKerasSteps, BuildOptimizerBeforeTraining, FreshOptimizerOnLoad,
                       keras_hub.models.Seq2SeqLM):
    """ELECTRA encoder-decoder language model: `fit` on pairs, `generate` text.

    Teacher forcing comes from the preprocessor (decoder input `[CLS] y`,
    labels `y [SEP]`). `compile(label_smoothing=0.1)` switches the loss to
    `SmoothedSparseCategoricalCrossentropy`. `generate` decodes with the
    compiled sampler (`"greedy"` by default; `"top_k"`, `"top_p"` with
    `temperature`, `LengthPenaltyBeamSampler`), a batch at a time, stopping
    when every sequence has produced `[SEP]` or at `max_length` (decoder
    positions, start token included). `use_cache=False` re-runs the decoder
    over the whole prefix at each step: a slow reference for tests and the
    speed benchmark. The example is the module's; sampling instead of beam
    search is `lm.compile(sampler=keras_hub.samplers.TopPSampler(p=0.9,
    temperature=0.8, seed=1))`.
    """

    backbone_cls = ElectraSeq2SeqBackbone
    preprocessor_cls = ElectraSeq2SeqLMPreprocessor

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """keras-hub's loader. A model saved under a mixed dtype policy reloads under it;
        `dtype=` (e.g. `"mixed_bfloat16"`) chooses another, encoder included."""
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = saved_mixed_policy(preset)
        # A damaged folder becomes an error naming the file, as for the encoder tasks
        # (`ElectraTaskPresets`).
        with model_dir.reading(preset):
            return super().from_preset(preset, **kwargs)

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
        logits = backbone.decoder.logits(hidden_states)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

    def compile(self, optimizer="auto", loss="auto", *, weighted_metrics="auto",
                sampler="greedy", label_smoothing=0.0, **kwargs):
        """Adam(1e-4) and (label-smoothed) sparse cross-entropy, the mean over real target
        tokens, unless given."""
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(1e-4)
        if loss == "auto":
            # The mean over the batch's real tokens: Keras' default divides by every position,
            # padding included, so a batch's loss (and its weight in training) would depend
            # on how far it is padded, which `preprocess_samples` varies batch by batch.
            loss = (SmoothedSparseCategoricalCrossentropy(label_smoothing,
                                                          reduction="mean_with_sample_weight")
                    if label_smoothing else keras.losses.SparseCategoricalCrossentropy(
                        from_logits=True, reduction="mean_with_sample_weight"))
        super().compile(optimizer=optimizer, loss=loss, weighted_metrics=weighted_metrics,
                        sampler=sampler, **kwargs)

    def preprocess_samples(self, x, y=None, sample_weight=None):
        """The preprocessor's batch cut to its longest source and target
        (`trim_to_longest`): what `fit`, `evaluate` and `predict` feed the model.

        Packed to the preprocessor's full lengths, a batch of short messages
        would pay for its padding in every layer; cut, it costs its own
        length, and length-bucketed batches (`training.generation.pairs_dataset`)
        cost little more than their tokens.
        """
        batch = super().preprocess_samples(x, y, sample_weight)
        return trim_to_longest(*keras.utils.unpack_x_y_sample_weight(batch))

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
        if stop_token_ids == "auto" and self.preprocessor is not None:
            # The target side's end token: keras-hub's "auto" reads the source tokenizer's.
            stop_token_ids = [self.preprocessor.decoder_tokenizer.end_token_id]
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
        decoder = self.backbone.decoder
        x, self_attention_cache, cross_attention_cache = decoder(
            decoder_token_ids, encoder_sequence=encoder_hidden_states,
            encoder_padding_mask=encoder_padding_mask,
            self_attention_cache=self_attention_cache,
            self_attention_cache_update_index=self_attention_cache_update_index,
            cross_attention_cache=cross_attention_cache,
            cross_attention_cache_update_index=cross_attention_cache_update_index,
        )
        return decoder.logits(x), x, self_attention_cache, cross_attention_cache

    def call_decoder(self, encoder_hidden_states, encoder_padding_mask, decoder_token_ids):
        """The uncached decoder over a whole (causally masked) prefix: `(logits, hidden_states)`."""
        decoder = self.backbone.decoder
        x = decoder(decoder_token_ids, encoder_sequence=encoder_hidden_states,
                    encoder_padding_mask=encoder_padding_mask)
        return decoder.logits(x), x

    def generate_step(self, inputs, stop_token_ids=None):
        """Decodes one batch of packed inputs (see `Seq2SeqLM.generate`)."""
        encoder_hidden_states, encoder_padding_mask = self.backbone.encode(inputs)
        decoder_token_ids = inputs["decoder_token_ids"]
        decoder_padding_mask = inputs["decoder_padding_mask"]
        # Generation starts after the shortest prompt; longer prompts keep
        # their tokens because the sampler never overwrites masked positions.
        index = ops.min(ops.sum(ops.cast(decoder_padding_mask, "int32"), axis=-1))

        if self.use_cache:
            self_cache, cross_cache = self.backbone.decoder.empty_caches(
                ops.shape(encoder_hidden_states)[0], ops.shape(decoder_token_ids)[1],
                ops.shape(encoder_hidden_states)[1],
            )
            # The cross-attention keys and values are computed here, once per
            # source; only the self-attention cache depends on a beam's tokens.
            _, hidden_states, self_cache, cross_cache = self.call_decoder_with_cache(
                encoder_hidden_states, encoder_padding_mask, decoder_token_ids,
                self_cache, 0, cross_cache, 0,
            )
            cache = BeamCache(per_beam=self_cache,
                              per_source=(encoder_hidden_states, encoder_padding_mask,
                                          cross_cache))

            def next(prompt, cache, index):
                states, states_mask, cross_cache = cache.per_source
                token = ops.slice(prompt, [0, index - 1], [ops.shape(prompt)[0], 1])
                logits, hidden, self_cache, _ = self.call_decoder_with_cache(
                    states, states_mask, token, cache.per_beam, index - 1, cross_cache, None
                )
                return (ops.squeeze(logits, 1), ops.squeeze(hidden, 1),
                        cache._replace(per_beam=self_cache))
        else:
            hidden_states = None
            cache = BeamCache(per_beam=(),
                              per_source=(encoder_hidden_states, encoder_padding_mask))

            def next(prompt, cache, index):
                logits, hidden = self.call_decoder(*cache.per_source, prompt)
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
            ends = ops.cast(compat.any_equal(decoder_token_ids, stop_token_ids,
                                             ops.logical_not(decoder_padding_mask)), "int32")
            after_end = ops.cumsum(ends, axis=-1) - ends
            decoder_padding_mask = ops.logical_not(ops.cast(after_end, "bool"))
        return {"decoder_token_ids": decoder_token_ids,
                "decoder_padding_mask": decoder_padding_mask}
