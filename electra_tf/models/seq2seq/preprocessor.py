"""`ElectraSeq2SeqLMPreprocessor`: source and target strings to `ElectraSeq2SeqLM` inputs.

The encoder sees `[CLS] source [SEP]` as in pre-training; the decoder input
is `[CLS] target` and its labels `target [SEP]` (teacher forcing). A second
tokenizer may read and write the target side (translation between two
vocabularies). `generate_postprocess` strips special tokens and joins CJK
characters (`tokenization.join_cjk`).

Example (translation, one vocabulary per side):
```python
import keras_hub
from electra_tf import tokenization
from electra_tf.models.seq2seq.preprocessor import ElectraSeq2SeqLMPreprocessor

source = tokenization.make_tokenizer(tokenization.build_vocabulary(["open file"], 20))
target = keras_hub.models.ElectraTokenizer(
    vocabulary=tokenization.build_vocabulary(["打开文件"], 20),
    config_file="target_tokenizer.json")  # its own file in a preset
preprocessor = ElectraSeq2SeqLMPreprocessor(source, target_tokenizer=target,
                                            encoder_sequence_length=8,
                                            decoder_sequence_length=8)
x, y, sample_weight = preprocessor({"encoder_text": ["open file"],
                                    "decoder_text": ["打开文件"]})
preprocessor.generate_postprocess(
    {"decoder_token_ids": y, "decoder_padding_mask": sample_weight})  # -> ['打开文件']
```
"""

import keras
import keras_hub
import tensorflow as tf

from electra_tf import compat
from electra_tf.tokenization import join_cjk


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
    x["decoder_token_ids"], y  # [CLS] c [SEP] in; the labels are the same shifted left
    # -> ([[2, 7, 3, 0, 0, 0, 0, 0]], [[7, 3, 0, 0, 0, 0, 0, 0]])
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

    @compat.preprocessing_function
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

    @compat.preprocessing_function
    def generate_preprocess(self, x, *, encoder_sequence_length=None,
                            decoder_sequence_length=None, sequence_length=None):
        if not self.built:
            self.build(None)
        if not isinstance(x, dict):
            x = {"encoder_text": x, "decoder_text": tf.fill(tf.shape(x), "")}  # empty prompts
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

    @compat.preprocessing_function
    def generate_postprocess(self, x):
        if not self.built:
            self.build(None)
        target = self.decoder_tokenizer
        token_ids = compat.strip_to_ragged(
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
        return _count_longer(self.tokenizer, sources, self.encoder_sequence_length - 2)

    def count_truncated_targets(self, targets):
        """How many targets (strings) exceed `decoder_sequence_length - 1` tokens, the most
        training keeps: `[CLS] target` is the decoder's input, `target [SEP]` its labels."""
        return _count_longer(self.decoder_tokenizer, targets, self.decoder_sequence_length - 1)

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


def _count_longer(tokenizer, texts, limit):
    """How many of `texts` (a string, a list or a string tensor) `tokenizer` makes more than
    `limit` tokens."""
    texts = tf.reshape(tf.convert_to_tensor(texts, tf.string), [-1])
    if not texts.shape[0]:
        return 0
    token_ids = tokenizer(texts)
    lengths = (token_ids.row_lengths() if isinstance(token_ids, tf.RaggedTensor)
               else [len(ids) for ids in token_ids])
    return int(tf.reduce_sum(tf.cast(tf.convert_to_tensor(lengths) > limit, "int32")))


def trim_to_longest(x, y=None, sample_weight=None):
    """A packed batch cut to its longest source and its longest target.

    The preprocessor pads every example to its full lengths; padding sits at
    the end and is masked out of attention and the loss, so the cut batch
    gives the same loss per real token at the cost of its own length. Keys
    without a padding mask beside them (a captioner's `images`) are kept as
    they are.

    ```python
    x = {"encoder_token_ids": [[2, 5, 3, 0]], "encoder_padding_mask": [[1, 1, 1, 0]],
         "decoder_token_ids": [[2, 6, 0, 0]], "decoder_padding_mask": [[1, 1, 0, 0]]}
    x, y, sample_weight = trim_to_longest(x, [[6, 3, 0, 0]], [[1, 1, 0, 0]])
    x["encoder_token_ids"].shape, y.shape  # -> (TensorShape([1, 3]), TensorShape([1, 2]))
    ```
    """
    def longest(mask):
        return tf.reduce_max(tf.reduce_sum(tf.cast(mask, "int32"), axis=-1))

    x = dict(x)
    cuts = {side: longest(x[f"{side}_padding_mask"]) for side in ("encoder", "decoder")
            if f"{side}_padding_mask" in x}
    for key in x:
        side = key.split("_")[0]
        if side in cuts:
            x[key] = tf.convert_to_tensor(x[key])[:, :cuts[side]]
    if "decoder" in cuts:
        y, sample_weight = (None if t is None else tf.convert_to_tensor(t)[:, :cuts["decoder"]]
                            for t in (y, sample_weight))
    return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)
