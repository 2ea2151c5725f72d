"""electra_tf: ELECTRA pre-training, fine-tuning, generation and export on Keras 3 / TensorFlow."""

import os

# Keras 3 picks its backend at import time; this package is TensorFlow-only.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# Importing the task models also registers them with Keras / keras-hub, so
# `keras_hub.models.TextClassifier.from_preset(model_dir)` finds them.
from electra_tf.config import ConfigError, ElectraConfig  # noqa: E402
from electra_tf.data.masking import DynamicMasking  # noqa: E402
from electra_tf.models.backbone import ElectraBackbone  # noqa: E402
from electra_tf.models.classification.classifier import ElectraClassifier  # noqa: E402
from electra_tf.models.classification.preprocessor import (  # noqa: E402
    ElectraTextClassifierPreprocessor,
)
from electra_tf.models.metrics import EntityF1  # noqa: E402
from electra_tf.models.multitask.multitask import ElectraMultiTask  # noqa: E402
from electra_tf.models.pretraining.detector import ElectraReplacedTokenDetector  # noqa: E402
from electra_tf.models.pretraining.electra_pretrainer import ElectraPretrainer  # noqa: E402
from electra_tf.models.pretraining.generator import ElectraGenerator  # noqa: E402
from electra_tf.models.pretraining.masked_lm import ElectraMaskedLM  # noqa: E402
from electra_tf.models.pretraining.masked_lm_preprocessor import (  # noqa: E402
    ElectraMaskedLMPreprocessor,
)
from electra_tf.models.pretraining.masked_lm_pretrainer import MaskedLMPretrainer  # noqa: E402
from electra_tf.models.seq2seq.backbone import ElectraSeq2SeqBackbone  # noqa: E402
from electra_tf.models.seq2seq.document import ELECTRA_model, generator_decoder  # noqa: E402
from electra_tf.models.seq2seq.preprocessor import ElectraSeq2SeqLMPreprocessor  # noqa: E402
from electra_tf.models.seq2seq.seq2seq_lm import ElectraSeq2SeqLM  # noqa: E402
from electra_tf.models.tagging.preprocessor import ElectraTaggerPreprocessor  # noqa: E402
from electra_tf.models.tagging.tagger import ElectraTagger  # noqa: E402
from electra_tf.optimizers import (  # noqa: E402
    ElectraAdamW,
    LayerwiseAdamW,
    create_finetuning_optimizer,
    create_optimizer,
)

__all__ = [
    "ConfigError",
    "DynamicMasking",
    "ElectraAdamW",
    "ElectraBackbone",
    "ELECTRA_model",
    "ElectraClassifier",
    "ElectraConfig",
    "ElectraGenerator",
    "ElectraMaskedLM",
    "ElectraMaskedLMPreprocessor",
    "ElectraMultiTask",
    "ElectraPretrainer",
    "ElectraReplacedTokenDetector",
    "ElectraSeq2SeqBackbone",
    "ElectraSeq2SeqLM",
    "ElectraSeq2SeqLMPreprocessor",
    "ElectraTagger",
    "ElectraTaggerPreprocessor",
    "ElectraTextClassifierPreprocessor",
    "EntityF1",
    "LayerwiseAdamW",
    "MaskedLMPretrainer",
    "create_finetuning_optimizer",
    "create_optimizer",
    "generator_decoder",
]
