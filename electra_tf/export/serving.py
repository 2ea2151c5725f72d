"""String-in SavedModels for TensorFlow Serving.

A *servable* bundles a model, its tokenizer and the readable post-processing
of one task. `export_saved_model` writes it with `keras.export.ExportArchive`
(a plain `tf.saved_model.save` of a Keras 3 model loads in Python but not in
TF Serving's loader) and gives it two signatures:

- `serving_default`: raw text, `tf.string [None]` per input (`text`, and
  `text_pair` for pair tasks). Text is repaired and bounded in the graph, so
  any byte string gets an answer: invalid UTF-8 becomes U+FFFD, control
  characters (NUL included) become spaces, and text past `max_chars`
  characters or past the sequence length is cut, with a `truncated` output
  saying so.
- `serve_token_ids`: `token_ids`, `segment_ids`, `padding_mask`
  (`int32 [None, None]`) for clients that tokenize themselves.

`export_for_serving` adds TF Serving's layout: `<base>/<name>/<version>/`
with warm-up requests in `assets.extra/`, so a server without an op the
model needs fails at load time rather than on the first request.

The servables of each model kind live in `electra_tf.export.servables`
(and `tagging`).

Example:
```python
import tensorflow as tf
from electra_tf import ElectraConfig, ElectraPretrainer, tokenization
from electra_tf.export import DiscriminatorServable, export_for_serving

tokenizer = tokenization.make_tokenizer(tokenization.build_vocabulary(["今天天气很好"], 40))
pretrainer = ElectraPretrainer(ElectraConfig.from_preset("tiny"), tokenizer.vocabulary_size(),
                               tokenization.special_token_ids(tokenizer))
# or a trained one: pretrainer = ElectraPretrainer.from_preset("runs/zh_small")
servable = DiscriminatorServable.from_pretrainer(pretrainer, tokenizer)
export_dir = export_for_serving(servable, "exports", "discriminator")
export_dir  # -> PosixPath('exports/discriminator/1')
served = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
answer = served(text=tf.constant(["今天天气很好"]))
sorted(answer)  # -> ['num_tokens', 'replaced_probability', 'tokens', 'truncated']
[token.decode() for token in answer["tokens"][0].numpy() if token]
# -> ['[CLS]', '今', '天', '天', '气', '很', '好', '[SEP]']
```
"""

import pathlib
import shutil
import uuid

import keras
import numpy as np
import tensorflow as tf

from electra_tf import tokenization
from electra_tf.export.serving_ops import check_serving_ops
DEFAULT_SIGNATURE = "serving_default"
IDS_SIGNATURE = "serve_token_ids"
ID_INPUTS = ("token_ids", "segment_ids", "padding_mask")
WARMUP_FILENAME = "tf_serving_warmup_requests"
# Characters kept per token slot: far more than any real text needs, few
# enough that a megabyte request costs no more than a normal one.
CHARS_PER_TOKEN = 16
# C0 controls other than tab/newline/return, and DEL: NUL in particular is
# valid UTF-8 but means nothing to a tokenizer or to a client reading output.
_CONTROL_CHARACTERS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_WARMUP_TEXTS = ("ELECTRA [MASK] text.", "", "今天天气很好 😀", "a" * 300)


def repair_text(texts, max_chars):
    """Makes any byte strings valid, printable, bounded UTF-8.

    Returns `(texts, truncated)`; `truncated[i]` is True when text `i` had more
    than `max_chars` characters.
    """
    texts = tf.strings.unicode_transcode(
        texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )
    texts = tf.strings.regex_replace(texts, _CONTROL_CHARACTERS, " ")
    truncated = tf.strings.length(texts, unit="UTF8_CHAR") > max_chars
    return tf.strings.substr(texts, 0, max_chars, unit="UTF8_CHAR"), truncated


class TextEncoder:
    """Raw strings to packed `[CLS] a [SEP] (b [SEP])` ids, in the graph.

    Packing truncates "waterfall" style: keras-hub's default round-robin
    emits `TFText>RoundRobinTrim`, which TF Serving only has from 2.20.

    Example:
    ```python
    from electra_tf import tokenization
    vocab = list(tokenization.SPECIAL_TOKENS) + ["hello"]
    encoder = TextEncoder(tokenization.make_tokenizer(vocab), sequence_length=8)
    encoder(tf.constant(["hello hello", b"\\xff"]))["token_ids"]  # invalid UTF-8 reads as [UNK]
    # -> [[2, 5, 5, 3, 0, 0, 0, 0], [2, 1, 3, 0, 0, 0, 0, 0]]
    ```
    """

    def __init__(self, tokenizer, sequence_length, num_segments=1, max_chars=None):
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)
        self.num_segments = int(num_segments)
        self.max_chars = int(max_chars or CHARS_PER_TOKEN * sequence_length)
        self.packer = tokenization.segment_packer(tokenizer, self.sequence_length)

    # A graph even when called eagerly: keras-hub tokenizers return Python
    # lists outside one.
    @tf.function(reduce_retracing=True)
    def __call__(self, *texts):
        """Returns the model inputs, the repaired `texts` and `truncated`."""
        if len(texts) != self.num_segments:
            raise ValueError(f"expected {self.num_segments} text inputs, got {len(texts)}.")
        repaired, segments = [], []
        truncated = tf.zeros_like(texts[0], tf.bool)
        for text in texts:
            text, cut = repair_text(text, self.max_chars)
            repaired.append(text)
            truncated |= cut
            segments.append(self.tokenizer(text))
        token_ids, segment_ids = self.packer(tuple(segments))
        lengths = tf.add_n([tf.cast(s.row_lengths(), tf.int32) for s in segments])
        room = self.sequence_length - self.num_segments - 1
        return {
            "token_ids": token_ids,
            "segment_ids": segment_ids,
            "padding_mask": tf.cast(token_ids != self.packer.pad_value, tf.int32),
            "texts": repaired,
            "truncated": truncated | (lengths > room),
        }


class Servable:
    """A model, its tokenizer and its readable outputs, ready to export.

    Subclasses set `text_inputs` and implement `trackables` (what
    `ExportArchive` must save) and `predict_ids` (the ids-in signature);
    `predict_text` may add outputs that need the request text, and
    `extra_signatures` / `warmup_requests` add signatures and their warm-up
    records.
    """

    text_inputs = ("text",)

    def __init__(self, tokenizer, sequence_length, max_chars=None):
        if not tokenizer.built:
            tokenizer.build(None)  # `ExportArchive` tracks built layers only.
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)
        self.encoder = TextEncoder(
            tokenizer, sequence_length, num_segments=len(self.text_inputs), max_chars=max_chars
        )
        # Ids to token strings with a core `Gather`: no lookup table to track.
        self.vocabulary = tf.constant(tokenizer.get_vocabulary())

    def trackables(self):
        raise NotImplementedError

    def predict_ids(self, token_ids, segment_ids, padding_mask):
        raise NotImplementedError

    def predict_text(self, *texts):
        encoded = self.encoder(*texts)
        outputs = self.predict_ids(*(encoded[name] for name in ID_INPUTS))
        return {**outputs, "truncated": encoded["truncated"]}

    def token_strings(self, token_ids, padding_mask):
        """Token strings, `""` at padding."""
        tokens = tf.gather(self.vocabulary, token_ids)
        return tf.where(padding_mask > 0, tokens, "")

    def warmup_inputs(self):
        """A small request for each signature input, for the warm-up file."""
        return {name: np.array(_WARMUP_TEXTS, dtype=object) for name in self.text_inputs}

    def extra_signatures(self):
        """`{name: (function, input specs)}` exported next to the two standard ones."""
        return {}

    def warmup_requests(self):
        """`{signature: inputs}` replayed at load time: every text-in signature."""
        return {DEFAULT_SIGNATURE: self.warmup_inputs()}

def export_saved_model(servable, export_dir):
    """Writes `servable` as a SavedModel with the text and ids signatures."""
    archive = keras.export.ExportArchive()
    for trackable in servable.trackables():
        archive.track(trackable)
    archive.add_endpoint(
        DEFAULT_SIGNATURE,
        servable.predict_text,
        input_signature=[tf.TensorSpec([None], tf.string, name=n) for n in servable.text_inputs],
    )
    archive.add_endpoint(
        IDS_SIGNATURE,
        servable.predict_ids,
        input_signature=[tf.TensorSpec([None, None], tf.int32, name=n) for n in ID_INPUTS],
    )
    for name, (function, input_signature) in servable.extra_signatures().items():
        archive.add_endpoint(name, function, input_signature=input_signature)
    archive.write_out(str(export_dir), verbose=False)
    return pathlib.Path(export_dir)


def export_for_serving(servable, base_dir, model_name, version=None, check_ops=True):
    """Exports to `<base_dir>/<model_name>/<version>/` with warm-up requests.

    `version` defaults to one past the highest existing version. The export is
    written under a temporary name and renamed into place, so a server
    watching `base_dir` never loads a half-written version. With `check_ops`,
    an export using an op stock TF Serving lacks raises `ValueError` and is
    not kept (`serving_ops.check_serving_ops`).
    """
    model_dir = pathlib.Path(base_dir) / model_name
    model_dir.mkdir(parents=True, exist_ok=True)
    if version is None:
        existing = [int(p.name) for p in model_dir.iterdir() if p.name.isdigit()]
        version = max(existing, default=0) + 1
    final = model_dir / str(int(version))
    if final.exists():
        raise FileExistsError(f"{final} exists; pass another --version or delete it.")
    partial = model_dir / f".partial-{uuid.uuid4().hex}"
    try:
        export_saved_model(servable, partial)
        if check_ops:
            check_serving_ops(partial)
        write_warmup_requests(partial, model_name, servable.warmup_requests())
        partial.rename(final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return final


def write_warmup_requests(export_dir, model_name, requests):
    """Writes `assets.extra/tf_serving_warmup_requests`: one `PredictionLog`
    per `{signature name: inputs}` entry of `requests`.

    TF Serving replays them at load time, which also surfaces a missing op
    then instead of at the first real request.
    """
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path = pathlib.Path(export_dir) / "assets.extra" / WARMUP_FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature_name, inputs in requests.items():
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature_name)
            )
            for name, value in inputs.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return path


def write_models_config(base_dir, model_names=None, container_base="/models"):
    """Writes `<base_dir>/models.config` for `tensorflow_model_server --model_config_file`.

    `model_names` defaults to every folder of `base_dir` holding a numbered
    version. Paths are as the server sees them: `container_base` is where
    `base_dir` is mounted (the Docker image's convention is `/models`).
    """
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    if model_names is None:
        model_names = sorted(
            d.name for d in pathlib.Path(base_dir).iterdir()
            if d.is_dir() and any(v.name.isdigit() for v in d.iterdir())
        )
    config = model_server_config_pb2.ModelServerConfig()
    for name in model_names:
        entry = config.model_config_list.config.add()
        entry.name = name
        entry.base_path = f"{container_base.rstrip('/')}/{name}"
        entry.model_platform = "tensorflow"
    path = pathlib.Path(base_dir) / "models.config"
    path.write_text(text_format.MessageToString(config))
    return path
