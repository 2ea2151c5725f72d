"""`EntityF1`: entity-level precision, recall and F1 of a tagger, as seqeval counts them
(`entity_scores` counts the same from tag names, outside a model).

Example:
```python
import numpy as np
from electra_tf.models.metrics import EntityF1

metric = EntityF1(["O", "B-PER", "I-PER"])
y_true = np.array([[1, 2, 0, 1]])  # B-PER I-PER O B-PER: two people
logits = np.eye(3)[[[1, 2, 0, 0]]]  # finds the first only
metric.update_state(y_true, logits)
metric.result()  # entity_precision 1.0, entity_recall 0.5, entity_f1 0.667
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
    # {'entity_precision': 1.0, 'entity_recall': 0.5, 'entity_f1': 0.667}
    ```
    """
    matched, gold, predicted = count_entities(gold_tags, predicted_tags)
    precision = matched / predicted if predicted else 0.0
    recall = matched / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"entity_precision": precision, "entity_recall": recall, "entity_f1": f1}
