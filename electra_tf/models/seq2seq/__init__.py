"""Sequence to sequence: an ELECTRA encoder and a Transformer decoder that generates.

* `EncoderDecoderBackbone` (`encoder_decoder_backbone.py`): any encoder
  cross-attended by an `ElectraDecoder`; `ElectraSeq2SeqBackbone`
  (`backbone.py`): with an ELECTRA encoder for text.
* `ElectraSeq2SeqLM` (`seq2seq_lm.py`): the keras-hub task, `fit` on pairs
  and `generate` with `electra_tf.models.samplers`; its
  `ElectraSeq2SeqLMPreprocessor` (`preprocessor.py`).
* `document.py`: the project document's `ELECTRA_model` / `generator_decoder`
  API, the same architecture as a plain `keras.Model`.
"""

from electra_tf.models.seq2seq.backbone import ElectraSeq2SeqBackbone
from electra_tf.models.seq2seq.encoder_decoder_backbone import EncoderDecoderBackbone
from electra_tf.models.seq2seq.preprocessor import ElectraSeq2SeqLMPreprocessor
from electra_tf.models.seq2seq.seq2seq_lm import ElectraSeq2SeqLM

__all__ = [
    "ElectraSeq2SeqBackbone",
    "ElectraSeq2SeqLM",
    "ElectraSeq2SeqLMPreprocessor",
    "EncoderDecoderBackbone",
]
