"""Pre-training: ELECTRA's two towers and the masked-LM baseline, and the standalone tasks
each tower becomes.

* `ElectraPretrainer` (`electra_pretrainer.py`): generator + discriminator,
  trained by replaced-token detection; `MaskedLMPretrainer`
  (`masked_lm_pretrainer.py`): the encoder alone as a BERT-style masked LM.
  Both are `Pretrainer`s (`base.py`: masking, losses, train step, run folder).
* `ElectraGenerator` (`generator.py`): the generator on the discriminator's
  embeddings.
* The towers on their own, as keras-hub tasks: `ElectraReplacedTokenDetector`
  (`detector.py`) and `ElectraMaskedLM` (`masked_lm.py`, with its
  `ElectraMaskedLMPreprocessor`).
* `mask_predict.py`: filling `[MASK]` slots with both towers.
"""

from electra_tf.models.pretraining.base import Pretrainer
from electra_tf.models.pretraining.detector import ElectraReplacedTokenDetector
from electra_tf.models.pretraining.electra_pretrainer import ElectraPretrainer
from electra_tf.models.pretraining.generator import ElectraGenerator
from electra_tf.models.pretraining.masked_lm import ElectraMaskedLM
from electra_tf.models.pretraining.masked_lm_preprocessor import ElectraMaskedLMPreprocessor
from electra_tf.models.pretraining.masked_lm_pretrainer import MaskedLMPretrainer

__all__ = [
    "ElectraGenerator",
    "ElectraMaskedLM",
    "ElectraMaskedLMPreprocessor",
    "ElectraPretrainer",
    "ElectraReplacedTokenDetector",
    "MaskedLMPretrainer",
    "Pretrainer",
]
