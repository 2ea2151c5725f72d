"""`ElectraMultiTask`: one shared encoder, named classification and tagging heads.

Each task keeps its own preprocessor (`ElectraTextClassifierPreprocessor` or
`ElectraTaggerPreprocessor`, same tokenizer and sequence length); `task_batches`
turns its preprocessed batches into one structure common to all tasks, which
`electra_tf.data.mixing.mix_tasks` draws from by proportional or temperature
sampling. The loss is `sum_k weight_k * loss_k` with the static
weights of the task specs, or, with `uncertainty_weighting=True`, Kendall et
al. (2018)'s learned weighting `sum_k weight_k * (exp(-s_k) * loss_k + s_k / 2)`
with one trainable log-variance `s_k` per task (classification likelihood form).

Example:
```python
import tensorflow as tf
from electra_tf import ElectraConfig, tokenization
from electra_tf.data.mixing import mix_tasks
from electra_tf.models import encoders
from electra_tf.models.classification.preprocessor import ElectraTextClassifierPreprocessor
from electra_tf.models.multitask.multitask import ElectraMultiTask
from electra_tf.models.tagging.preprocessor import ElectraTaggerPreprocessor

vocab = tokenization.build_vocabulary(["张三在北京很好", "很差"], 40)
backbone, tokenizer = encoders.random_encoder(ElectraConfig.from_preset("tiny"), vocab)
model = ElectraMultiTask(backbone, {
    "sentiment": {"kind": "classification", "labels": ["neg", "pos"], "weight": 1.0},
    "ner": {"kind": "tagging", "labels": ["O", "B-PER", "I-PER"], "weight": 0.5},
}, sequence_length=16)
classify = ElectraTextClassifierPreprocessor(tokenizer, sequence_length=16)
tag = ElectraTaggerPreprocessor(tokenizer, sequence_length=16)
sentiment = tf.data.Dataset.from_tensor_slices((["很好", "很差"], [1, 0])).batch(2).map(classify)
ner = tf.data.Dataset.from_tensor_slices((tf.ragged.constant([["张", "三", "好"]]),
                                          tf.ragged.constant([[1, 2, 0]]))).ragged_batch(1).map(tag)
model.compile(optimizer="adam")
history = model.fit(mix_tasks({"sentiment": model.task_batches("sentiment", sentiment),
                               "ner": model.task_batches("ner", ner)},
                              sizes={"sentiment": 2, "ner": 1}),
                    steps_per_epoch=2, verbose=0)
sorted(history.history)  # the combined loss, each task's loss and quality
# -> ['loss', 'ner_entity_f1', 'ner_entity_precision', 'ner_entity_recall', 'ner_loss',
#     'sentiment_accuracy', 'sentiment_loss']
```
"""

import keras
import tensorflow as tf

from electra_tf.compat.multi_worker import MultiWorkerFit, worker_logs
from electra_tf.compat.tracing import BuildOptimizerBeforeTraining
from electra_tf.layers.initializers import electra_kernel_initializer
from electra_tf.models import encoders, model_dir
from electra_tf.models.classification.preprocessor import ElectraTextClassifierPreprocessor
from electra_tf.models.metrics import EntityF1
from electra_tf.models.tagging.preprocessor import ElectraTaggerPreprocessor

KINDS = ("classification", "tagging")


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraMultiTask(MultiWorkerFit, BuildOptimizerBeforeTraining, keras.Model):
    """A shared `ElectraBackbone` with named heads, trained on mixed task batches.

    Args:
        backbone: the shared `keras_hub.models.ElectraBackbone`.
        tasks: `{name: {"kind": "classification" | "tagging", "labels": [...],
            "weight": float}}`; classification heads read the first token
            (dropout + dense, as `ElectraClassifier`), tagging heads every token.
        uncertainty_weighting: learn per-task log-variances (Kendall et al. 2018)
            on top of the static weights.
        dropout: head dropout; `None` means the backbone's rate.
        tokenizer: the backbone's `ElectraTokenizer`, for `preprocessor(name)`
            and `save_to_preset`.
        sequence_length: tokens per example for the task preprocessors.

    `save_to_preset(dir)` writes it as a keras-hub-style preset;
    `ElectraMultiTask.from_preset(dir)` restores it with the same predictions.

    Logs hold `loss`, and per task `<name>_loss` plus `<name>_accuracy` or
    `<name>_entity_{precision,recall,f1}`.
    """

    def __init__(self, backbone, tasks, uncertainty_weighting=False, dropout=None,
                 tokenizer=None, sequence_length=128, **kwargs):
        super().__init__(**kwargs)
        for name, spec in tasks.items():
            if spec.get("kind") not in KINDS or len(spec.get("labels", ())) < 2:
                raise ValueError(
                    f"task {name!r}: kind must be one of {KINDS} and labels a list of at "
                    f"least two names, got {spec}."
                )
        encoders.check_sequence_length(backbone, sequence_length)
        self.backbone = backbone
        backbone.pooled_dense.trainable = False
        self.tasks = {
            name: {"kind": s["kind"], "labels": list(s["labels"]), "weight": float(s.get("weight", 1.0))}
            for name, s in sorted(tasks.items())
        }
        self.task_ids = {name: i for i, name in enumerate(self.tasks)}
        self.uncertainty_weighting = uncertainty_weighting
        self.dropout = backbone.dropout if dropout is None else dropout
        # Saved as the preset's tokenizer by save_to_preset, not in get_config.
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length
        self.head_dropout = keras.layers.Dropout(self.dropout, name="head_dropout")
        self.heads = {
            name: keras.layers.Dense(
                len(spec["labels"]), kernel_initializer=electra_kernel_initializer(), name=f"{name}_head"
            )
            for name, spec in self.tasks.items()
        }
        if uncertainty_weighting:
            self.log_variances = self.add_weight(
                shape=(len(self.tasks),), initializer="zeros", name="log_variances"
            )
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.task_metrics = {}
        for name, spec in self.tasks.items():
            tracked = [keras.metrics.Mean(name=f"{name}_loss")]
            if spec["kind"] == "classification":
                tracked.append(keras.metrics.SparseCategoricalAccuracy(name=f"{name}_accuracy"))
            else:
                tracked.append(EntityF1(spec["labels"], name=f"{name}_entity"))
            self.task_metrics[name] = tracked

    def make_train_function(self, force=False):
        # The heads' variables must exist for BuildOptimizerBeforeTraining to see them.
        self._build_once()
        return super().make_train_function(force)

    def call(self, inputs, training=False):
        sequence = self.backbone(inputs, training=training)["sequence_output"]
        sequence = self.head_dropout(sequence, training=training)
        outputs = {}
        for name, spec in self.tasks.items():
            features = sequence[:, 0, :] if spec["kind"] == "classification" else sequence
            outputs[name] = self.heads[name](features)
        return outputs

    def preprocessor(self, name):
        """Raw inputs → encoder inputs for task `name` (sentences, or word lists for tagging)."""
        if self.tokenizer is None:
            raise ValueError("this model has no tokenizer; build it with tokenizer=... "
                             "or load it with ElectraMultiTask.from_preset.")
        if self.tasks[name]["kind"] == "classification":
            return ElectraTextClassifierPreprocessor(self.tokenizer, self.sequence_length)
        return ElectraTaggerPreprocessor(self.tokenizer, self.sequence_length)

    def save_to_preset(self, preset_dir):
        """Saves the model as a keras-hub-style preset (`models.model_dir`): the shared
        encoder and tokenizer as keras-hub saves them, `task.json` (tasks, labels,
        sequence length) and `task.weights.h5`."""
        if self.tokenizer is None:
            raise ValueError("save_to_preset needs the tokenizer: build the model with "
                             "tokenizer=... so the preset can be used on raw text.")
        self._build_once()
        return model_dir.save_preset(self, preset_dir, self.backbone, self.tokenizer)

    @classmethod
    def from_preset(cls, preset_dir, load_weights=True, dtype=None):
        """The model `save_to_preset` wrote, weights and tokenizer included.

        `dtype` (a Keras dtype policy, e.g. `"mixed_bfloat16"`) builds the shared
        encoder to compute under it (the heads keep the global policy, float32
        unless changed); `None` keeps the saved one. Directories in version
        0.1's layout (`multitask.keras`) load too, as saved, with a warning
        saying how to rewrite them.
        """
        configure = None
        if dtype is not None:
            def configure(config):
                backbone = config["backbone"]
                return {**config, "backbone": {
                    **backbone, "config": {**backbone["config"], "dtype": dtype}}}
        return model_dir.load_preset(cls, preset_dir, load_weights, configure)

    def load_weights(self, filepath, *args, **kwargs):
        """`keras.Model.load_weights`, after the call that creates the heads' variables."""
        self._build_once()
        super().load_weights(filepath, *args, **kwargs)

    def _build_once(self):
        # A subclassed model has weights only after a call; padding builds them.
        if not self.built:
            zeros = tf.zeros([1, 1], tf.int32)
            self({"token_ids": zeros, "segment_ids": zeros, "padding_mask": zeros})

    def task_batches(self, name, dataset):
        """Maps a task's preprocessed `(x, y[, sample_weight])` batches to the shared structure.

        Every task's labels become `[batch, sequence]`: a class label sits at
        the first token with weight 1, tags where the tagger put them.
        """
        task_id, kind = self.task_ids[name], self.tasks[name]["kind"]

        def convert(x, y, sample_weight=None):
            token_ids = tf.cast(x["token_ids"], tf.int32)
            batch, length = tf.shape(token_ids)[0], tf.shape(token_ids)[1]
            if kind == "classification":
                first = tf.one_hot(tf.zeros([batch], tf.int32), length, dtype=tf.int32)
                labels = first * tf.cast(y, tf.int32)[:, None]
                weights = tf.cast(first, tf.float32)
            else:
                labels, weights = tf.cast(y, tf.int32), tf.cast(sample_weight, tf.float32)
            x = {
                "token_ids": token_ids,
                "segment_ids": tf.cast(x["segment_ids"], tf.int32),
                "padding_mask": tf.cast(x["padding_mask"], tf.int32),
            }
            return x, {"task": tf.fill([batch], task_id), "labels": labels, "weights": weights}

        return dataset.map(convert, num_parallel_calls=tf.data.AUTOTUNE)

    def compute_task_losses(self, outputs, y):
        """Per task: mean cross-entropy over its examples' weighted positions (0 if absent)."""
        losses = {}
        for name, spec in self.tasks.items():
            in_task = tf.cast(tf.equal(y["task"], self.task_ids[name]), tf.float32)
            logits = tf.cast(outputs[name], tf.float32)
            if spec["kind"] == "classification":
                labels, weights = y["labels"][:, 0], y["weights"][:, 0] * in_task
            else:
                labels, weights = y["labels"], y["weights"] * in_task[:, None]
            loss = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
            losses[name] = tf.reduce_sum(loss * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)
        return losses

    def combine_losses(self, task_losses):
        total = 0.0
        for name, loss in task_losses.items():
            weight = self.tasks[name]["weight"]
            if self.uncertainty_weighting:
                log_variance = self.log_variances[self.task_ids[name]]
                loss = tf.exp(-log_variance) * loss + 0.5 * log_variance
            total += weight * loss
        return total

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            outputs = self(x, training=True)
            task_losses = self.compute_task_losses(outputs, y)
            loss = self.combine_losses(task_losses)
        gradients = tape.gradient(loss, self.trainable_variables)
        # A batch holds one task: the other heads get zero gradients, not None.
        gradients = [tf.zeros_like(v) if g is None else g
                     for g, v in zip(gradients, self.trainable_variables)]
        self.optimizer.apply(gradients, self.trainable_variables)
        return worker_logs(self._update_metrics(outputs, y, task_losses, loss))

    def test_step(self, data):
        x, y = data
        outputs = self(x, training=False)
        task_losses = self.compute_task_losses(outputs, y)
        return worker_logs(
            self._update_metrics(outputs, y, task_losses, self.combine_losses(task_losses)))

    def _update_metrics(self, outputs, y, task_losses, loss):
        self.loss_tracker.update_state(loss)
        for name, spec in self.tasks.items():
            in_task = tf.cast(tf.equal(y["task"], self.task_ids[name]), tf.float32)
            loss_metric, quality = self.task_metrics[name]
            # Only batches (or examples) of this task move its numbers.
            loss_metric.update_state(task_losses[name], sample_weight=tf.reduce_max(in_task))
            if spec["kind"] == "classification":
                quality.update_state(y["labels"][:, 0], outputs[name], sample_weight=in_task)
            else:
                quality.update_state(y["labels"], outputs[name],
                                     sample_weight=y["weights"] * in_task[:, None])
        return self._results()

    def _results(self):
        results = {"loss": self.loss_tracker.result()}
        for metric in (m for tracked in self.task_metrics.values() for m in tracked):
            value = metric.result()
            results.update(value if isinstance(value, dict) else {metric.name: value})
        return results

    @property
    def metrics(self):
        return [self.loss_tracker] + [m for tracked in self.task_metrics.values() for m in tracked]

    def get_config(self):
        return {
            **super().get_config(),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "tasks": self.tasks,
            "uncertainty_weighting": self.uncertainty_weighting,
            "dropout": self.dropout,
            "sequence_length": self.sequence_length,
        }

    @classmethod
    def from_config(cls, config):
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)

