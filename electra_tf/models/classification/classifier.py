"""`ElectraClassifier`: sentence and sentence-pair classification on raw strings.

Example:
```python
from electra_tf import ElectraConfig, tokenization
from electra_tf.models.classification.classifier import ElectraClassifier

texts = ["今天天气很好", "今天天气很差", "明天也很好", "明天也很差"]
vocab = tokenization.build_vocabulary(texts, 40)
classifier = ElectraClassifier.from_scratch(
    ElectraConfig.from_preset("tiny"), vocab, label_names=["neg", "pos"], sequence_length=16
)
classifier.fit(texts, [1, 0, 1, 0], batch_size=2, epochs=2)
classifier.predict_labels(["后天很好"])  # ['pos'] once trained
classifier.save_to_preset("sentiment")
ElectraClassifier.from_preset("sentiment").label_names  # -> ['neg', 'pos']
```
"""

import keras
import keras_hub
import numpy as np

from electra_tf.compat.tracing import BuildOptimizerBeforeTraining
from electra_tf.config import HEADS
from electra_tf.layers.activations import activation_function
from electra_tf.layers.initializers import electra_kernel_initializer
from electra_tf.models import encoders
from electra_tf.models.backbone import activation_of
from electra_tf.models.classification.preprocessor import ElectraTextClassifierPreprocessor


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraClassifier(BuildOptimizerBeforeTraining, encoders.ElectraEncoderTask,
                        keras_hub.models.TextClassifier):
    """An `ElectraBackbone` with a classification head on the first token.

    `head="electra"` is the original fine-tuning head: dropout and one dense
    layer on the raw `[CLS]` vector. `head="hf"` is Hugging Face's: dropout,
    dense(hidden) + GELU (the encoder's GELU), dropout, dense. Neither uses the backbone's
    `pooled_output`, whose tanh layer no released ELECTRA checkpoint trains;
    that layer is frozen so every trainable variable gets a gradient.

    Args:
        backbone: a `keras_hub.models.ElectraBackbone`.
        num_classes: number of classes; may be omitted when `label_names` is given.
        label_names: optional class names (index = class id), saved with the model.
        preprocessor: an `ElectraTextClassifierPreprocessor`, or `None` for
            already tokenized inputs.
        head: `"electra"` or `"hf"`.
        dropout: dropout before each dense layer of the head; `None` means the
            backbone's own rate (the config's `dropout`).
        activation: output activation; `None` gives logits.

    Starting points: `from_model_dir` (a pre-training model directory or any
    keras-hub ELECTRA preset), `from_scratch` (random weights), or this
    constructor with any `ElectraBackbone`. `save_to_preset(dir)` writes a
    self-describing directory that `ElectraClassifier.from_preset(dir)` reloads.
    """

    backbone_cls = keras_hub.models.ElectraBackbone
    preprocessor_cls = ElectraTextClassifierPreprocessor

    def __init__(self, backbone, num_classes=None, label_names=None, preprocessor=None,
                 head="electra", dropout=None, activation=None, **kwargs):
        num_classes = _check_classes(num_classes, label_names)
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}.")
        dropout = backbone.dropout if dropout is None else dropout

        # === Layers ===
        self._set_encoder(backbone, preprocessor)
        self.head_dropout = keras.layers.Dropout(
            dropout, dtype=backbone.dtype_policy, name="classifier_dropout"
        )
        if head == "hf":
            self.head_dense = keras.layers.Dense(
                backbone.hidden_dim,
                activation=activation_function(activation_of(backbone)),
                kernel_initializer=electra_kernel_initializer(),
                dtype=backbone.dtype_policy,
                name="classifier_dense",
            )
            self.head_dense_dropout = keras.layers.Dropout(
                dropout, dtype=backbone.dtype_policy, name="classifier_dense_dropout"
            )
        self.output_dense = keras.layers.Dense(
            num_classes,
            activation=activation,
            kernel_initializer=electra_kernel_initializer(),
            dtype=encoders.output_dtype_policy(backbone),  # float32 logits under mixed precision
            name="logits",
        )

        # === Functional Model ===
        inputs = backbone.input
        x = backbone(inputs)["sequence_output"][:, 0, :]
        x = self.head_dropout(x)
        if head == "hf":
            x = self.head_dense_dropout(self.head_dense(x))
        outputs = self.output_dense(x)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.label_names = None if label_names is None else [str(n) for n in label_names]
        self.head = head
        self.dropout = dropout
        self.activation = keras.activations.get(activation)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "label_names": self.label_names,
            "head": self.head,
            "dropout": self.dropout,
            "activation": keras.activations.serialize(self.activation),
        }

    def predict_labels(self, x, batch_size=32):
        """Class names (or ids, without `label_names`) for raw strings or pairs."""
        ids = np.argmax(self.predict(x, batch_size=batch_size, verbose=0), axis=-1)
        if self.label_names is None:
            return ids.tolist()
        return [self.label_names[i] for i in ids]


def _check_classes(num_classes, label_names):
    if label_names is not None:
        if len(set(map(str, label_names))) != len(label_names):
            raise ValueError(f"label_names repeats a name: {list(label_names)}.")
        if num_classes is not None and num_classes != len(label_names):
            raise ValueError(
                f"num_classes={num_classes} but {len(label_names)} label_names were given "
                f"({list(label_names)}); the checkpoint's head and the data disagree."
            )
        num_classes = len(label_names)
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(
            f"a classifier needs num_classes >= 2 (or label_names), got {num_classes!r}."
        )
    return num_classes
