"""Metrics Keras lacks: `EntityF1` (a tagger's entities, as seqeval counts them; `entity_scores`
counts the same from tag names, outside a model) and `WithinBatchRocAuc` (ROC AUC without
threshold bins).

Example:
```python
import numpy as np
from electra_tf.models.metrics import EntityF1, WithinBatchRocAuc

metric = EntityF1(["O", "B-PER", "I-PER"])
y_true = np.array([[1, 2, 0, 1]])  # B-PER I-PER O B-PER: two people
logits = np.eye(3)[[[1, 2, 0, 0]]]  # finds the first only
metric.update_state(y_true, logits)
metric.result()
# -> {'entity_precision': 1.0, 'entity_recall': 0.5, 'entity_f1': 0.667}

auc = WithinBatchRocAuc()
auc.update_state(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
float(auc.result())  # three of the four (replaced, original) pairs ranked right  # -> 0.75
```
"""

import keras
import numpy as np
import tensorflow as tf

from electra_tf.data.tagging import entities_from_tags


@keras.saving.register_keras_serializable(package="electra_tf")
class EntityF1(keras.metrics.Metric):
    """Entity-level micro precision / recall / F1, as `seqeval.metrics` computes them.

    `y_true` are tag ids and `y_pred` tag logits per token; `sample_weight`
    marks the tokens that carry a word's tag (first WordPiece of each word),
    so entities are read from word-level sequences exactly as seqeval reads
    the gold and predicted tag lists. Counting runs in NumPy
    (`tf.numpy_function`): compile the model without XLA.
    """

    def __init__(self, tag_names, name="entity", **kwargs):
        super().__init__(name=name, **kwargs)
        self.tag_names = list(tag_names)
        self.counts = self.add_variable((3,), initializer="zeros", dtype="float64", name="counts")

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is None:
            sample_weight = tf.ones_like(y_true, tf.float32)
        counts = tf.numpy_function(
            self._count,
            [tf.cast(y_true, tf.int32), tf.argmax(y_pred, -1, output_type=tf.int32),
             tf.cast(sample_weight, tf.float32)],
            tf.float64,
        )
        self.counts.assign_add(tf.reshape(counts, [3]))

    def _count(self, y_true, y_pred, weights):
        keep = weights > 0
        gold = [[self.tag_names[i] for i in row[k]] for row, k in zip(y_true, keep)]
        predicted = [[self.tag_names[i] for i in row[k]] for row, k in zip(y_pred, keep)]
        return np.array(count_entities(gold, predicted), "float64")

    def result(self):
        matched, gold, predicted = tf.unstack(self.counts)
        precision = tf.math.divide_no_nan(matched, predicted)
        recall = tf.math.divide_no_nan(matched, gold)
        f1 = tf.math.divide_no_nan(2 * precision * recall, precision + recall)
        return {f"{self.name}_precision": precision, f"{self.name}_recall": recall,
                f"{self.name}_f1": f1}

    def reset_state(self):
        self.counts.assign(tf.zeros_like(self.counts))

    def get_config(self):
        return {**super().get_config(), "tag_names": self.tag_names}


@keras.saving.register_keras_serializable(package="electra_tf")
class WithinBatchRocAuc(keras.metrics.Metric):
    """ROC AUC counted exactly over the (positive, negative) pairs of each batch.

    The area under the ROC curve is the share of (positive, negative) pairs
    whose scores are in the right order, ties counting half (Mann-Whitney U).
    Each `update_state` counts this for the pairs inside its batch by sorting
    the scores, with `sample_weight` weighting each element (0 leaves it
    out); `result` is the share over all pairs counted since the last reset.
    On one batch this is `sklearn.metrics.roc_auc_score` exactly; over many
    batches of one model it estimates the AUC of all their elements pooled,
    leaving out only the pairs that span two batches (and, under a
    distribution strategy, two replicas).

    `keras.metrics.AUC` bins the scores at fixed thresholds and counts pairs
    inside a bin as ties, pulling the value toward 0.5. Early in pre-training
    a discriminator gives nearly the same probability everywhere (measured:
    the `tiny` config after 30 steps, 0.1475 to 0.1492 over a batch), so half
    of all pairs shared one of 1,000 bins; then AUC is the one signal left
    and the bins would blur it. `y_pred` may be probabilities or logits: any
    increasing function of the score gives the same AUC. The result is 0
    until a batch has held both classes.

    Example:
    ```python
    import numpy as np
    auc = WithinBatchRocAuc(name="rtd_auc")
    auc.update_state(np.array([[1, 0, 0]]), np.array([[2.0, -1.0, 2.0]]),
                     sample_weight=np.array([[1, 1, 0]]))  # the last is padding
    float(auc.result())  # -> 1.0
    ```
    """

    def __init__(self, name="roc_auc", **kwargs):
        super().__init__(name=name, **kwargs)
        self.ordered_pairs = self.add_variable((), initializer="zeros", name="ordered_pairs")
        self.pairs = self.add_variable((), initializer="zeros", name="pairs")

    def update_state(self, y_true, y_pred, sample_weight=None):
        scores = tf.reshape(tf.cast(y_pred, tf.float32), [-1])
        labels = tf.reshape(tf.cast(y_true, tf.float32), [-1])
        weights = (tf.ones_like(scores) if sample_weight is None
                   else tf.reshape(tf.cast(sample_weight, tf.float32), [-1]))
        order = tf.argsort(scores)
        scores = tf.gather(scores, order)
        positive = tf.gather(weights * labels, order)
        negative = tf.gather(weights * (1.0 - labels), order)
        # Equal scores form one group: its pairs with each other count half.
        starts = tf.concat([[True], scores[1:] > scores[:-1]], axis=0)
        group = tf.cumsum(tf.cast(starts, tf.int32)) - 1
        size = tf.shape(scores)[0]
        positive = tf.math.unsorted_segment_sum(positive, group, size)
        negative = tf.math.unsorted_segment_sum(negative, group, size)
        below = tf.cumsum(negative, exclusive=True)
        self.ordered_pairs.assign_add(tf.reduce_sum(positive * (below + 0.5 * negative)))
        self.pairs.assign_add(tf.reduce_sum(positive) * tf.reduce_sum(negative))

    def result(self):
        return tf.math.divide_no_nan(self.ordered_pairs, self.pairs)

    def reset_state(self):
        self.ordered_pairs.assign(0.0)
        self.pairs.assign(0.0)


def count_entities(gold_tags, predicted_tags):
    """`(matched, gold, predicted)` entity counts over sentences of word tag names."""
    matched = gold = predicted = 0
    for true_tags, pred_tags in zip(gold_tags, predicted_tags, strict=True):
        true, pred = set(entities_from_tags(true_tags)), set(entities_from_tags(pred_tags))
        matched += len(true & pred)
        gold += len(true)
        predicted += len(pred)
    return matched, gold, predicted


def entity_scores(gold_tags, predicted_tags) -> dict:
    """`EntityF1`'s result in plain Python, for tag names predicted outside a model.

    Example:
    ```python
    entity_scores([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "O"]])
    # -> {'entity_precision': 1.0, 'entity_recall': 0.5, 'entity_f1': 0.667}
    ```
    """
    matched, gold, predicted = count_entities(gold_tags, predicted_tags)
    precision = matched / predicted if predicted else 0.0
    recall = matched / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"entity_precision": precision, "entity_recall": recall, "entity_f1": f1}
