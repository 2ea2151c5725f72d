"""The multi-task servable: every head of an `ElectraMultiTask`, from one request.

The servable takes the tokenizer and sequence length next to the model
(`ElectraMultiTask.from_preset` gives all three: `model.tokenizer`,
`model.sequence_length`).

Example:
```python
import tensorflow as tf
from electra_tf import ElectraConfig, tokenization
from electra_tf.export import MultiTaskServable, export_for_serving
from electra_tf.models import encoders
from electra_tf.models.multitask.multitask import ElectraMultiTask

vocab = tokenization.build_vocabulary(["张三在北京很好", "很差"], 40)
backbone, tokenizer = encoders.random_encoder(ElectraConfig.from_preset("tiny"), vocab)
model = ElectraMultiTask(backbone, {  # a "sentiment" and an "ner" head
    "sentiment": {"kind": "classification", "labels": ["neg", "pos"]},
    "ner": {"kind": "tagging", "labels": ["O", "B-PER", "I-PER"]},
}, sequence_length=16)
export_dir = export_for_serving(MultiTaskServable(model, tokenizer, sequence_length=16),
                                "exports", "multi")
served = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
answer = served(text=tf.constant(["张三在北京很好"]))
sorted(answer)  # each head's outputs, prefixed with its name, and the words tagged
# -> ['ner_entity_end', 'ner_entity_start', 'ner_entity_text', 'ner_entity_type',
#     'ner_num_entities', 'ner_word_tags', 'num_words', 'sentiment_label',
#     'sentiment_label_names', 'sentiment_probabilities', 'sentiment_score',
#     'tagging_truncated', 'truncated', 'word_end', 'word_start', 'words']
```
"""

import tensorflow as tf

from electra_tf.export.serving import ID_INPUTS, Servable
from electra_tf.export.tagging import DEFAULT_MAX_WINDOWS, WindowedTagging


class MultiTaskServable(Servable):
    """An `ElectraMultiTask`: per-task outputs, each prefixed with the task name.

    Classification task `T`: `T_label` (`string [batch]`), `T_score`,
    `T_probabilities` (`float32 [batch, classes]`), `T_label_names`, as
    `ClassifierServable`; its head reads the first `sequence_length` tokens
    and `truncated` says when the text had more. Tagging task `T`:
    `T_word_tags` and `T_entity_type`, `T_entity_text`, `T_entity_start`,
    `T_entity_end`, `T_num_entities`, as `TaggerServable`, over the shared
    word outputs `words`, `word_start`, `word_end`, `num_words`; words are
    tagged in windows, and `tagging_truncated` says when some were past
    `max_windows`. The ids signature gives the classification outputs and,
    per tagging task, `T_token_tags` and `T_token_tag_probability`.
    """

    def __init__(self, model, tokenizer, sequence_length, max_windows=DEFAULT_MAX_WINDOWS,
                 max_chars=None):
        super().__init__(tokenizer, sequence_length, max_chars)
        build(model, sequence_length)
        self.model = model
        self.labels = {name: spec["labels"] for name, spec in model.tasks.items()}
        self.classification = [n for n, s in model.tasks.items() if s["kind"] == "classification"]
        self.tagging = [n for n, s in model.tasks.items() if s["kind"] == "tagging"]
        self.windowed = WindowedTagging(tokenizer, sequence_length, max_windows, max_chars)

    def trackables(self):
        return [self.model, self.tokenizer]

    def _logits(self, inputs):
        return {name: tf.cast(value, tf.float32) for name, value in self.model(inputs).items()}

    def _classify(self, logits, batch):
        outputs = {}
        for name in self.classification:
            probabilities = tf.nn.softmax(logits[name])
            names = tf.constant(self.labels[name])
            outputs.update({
                f"{name}_label": tf.gather(names, tf.argmax(probabilities, -1, tf.int32)),
                f"{name}_score": tf.reduce_max(probabilities, axis=-1),
                f"{name}_probabilities": probabilities,
                f"{name}_label_names": tf.tile(names[None], [batch, 1]),
            })
        return outputs

    def predict_ids(self, token_ids, segment_ids, padding_mask):
        logits = self._logits(
            {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask})
        outputs = self._classify(logits, tf.shape(token_ids)[0])
        packer = self.encoder.packer
        real = (padding_mask > 0) & (token_ids != packer.start_value) & (
            token_ids != packer.end_value)
        for name in self.tagging:
            probabilities = tf.nn.softmax(logits[name])
            best = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
            outputs[f"{name}_token_tags"] = tf.where(
                real, tf.gather(tf.constant(self.labels[name]), best), "")
            outputs[f"{name}_token_tag_probability"] = tf.where(
                real, tf.reduce_max(probabilities, -1), 0.0)
        return outputs

    def predict_text(self, text):
        encoded = self.encoder(text)
        outputs = {"truncated": encoded["truncated"]}
        if self.classification:
            logits = self._logits({name: encoded[name] for name in ID_INPUTS})
            outputs.update(self._classify(logits, tf.shape(text)[0]))
        if self.tagging:
            words, heads = self.windowed(
                text, self._logits, {name: self.labels[name] for name in self.tagging})
            outputs["tagging_truncated"] = words.pop("truncated")
            outputs.update(words)
            for name, head in heads.items():
                outputs.update({f"{name}_{key}": value for key, value in head.items()})
        return outputs


def build(model, sequence_length):
    """Creates the weights of a subclassed model that has not been called yet
    (`ExportArchive` needs them)."""
    if not model.built:
        ids = tf.zeros([1, sequence_length], tf.int32)
        model({"token_ids": ids, "segment_ids": ids, "padding_mask": ids})
