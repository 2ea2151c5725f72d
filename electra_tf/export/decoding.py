"""Seq2seq decoding options as signature inputs, per request row.

A SavedModel signature cannot have optional inputs: TF Serving (REST and
gRPC) fails a request that leaves out any input the signature names, and
the REST row format ("instances") needs every input to share the batch
dimension. So each decoding strategy gets its own signature, and each of
its options is a per-row input (`[batch]`) next to `text`:

| signature         | inputs                                              |
| ----------------- | --------------------------------------------------- |
| `generate_greedy` | `text`, `max_length`                                |
| `generate_top_k`  | `text`, `max_length`, `k`, `temperature`, `seed`    |
| `generate_top_p`  | `text`, `max_length`, `p`, `temperature`, `seed`    |
| `generate_beam`   | `text` (beam width and length penalty: at export)   |

Out-of-range values are clamped, never an error, and `options_clamped`
says which rows were: `max_length` to `[1, decoder length]` (1 generates
nothing; it counts the start token, as `ElectraSeq2SeqLM.generate` does),
`k` to `[1, vocabulary size]`, `p` to `[0, 1]` (0 keeps only the likeliest
token), `temperature` to `[0.01, 100]`; a NaN `p` or `temperature` reads as
1. Sampling is stateless: the same `seed` and text give the same answer on
every call and in every thread. Beam search stays fixed at export because
its width shapes the whole batch's search tensors.
"""

import keras_hub
import tensorflow as tf

MIN_TEMPERATURE, MAX_TEMPERATURE = 0.01, 100.0

# Signature name -> (strategy, option inputs after `text`).
DECODING_SIGNATURES = {
    "generate_greedy": ("greedy", ("max_length",)),
    "generate_top_k": ("top_k", ("max_length", "k", "temperature", "seed")),
    "generate_top_p": ("top_p", ("max_length", "p", "temperature", "seed")),
}
BEAM_SIGNATURE = "generate_beam"
OPTION_SPECS = {
    "max_length": tf.int32,
    "k": tf.int32,
    "p": tf.float32,
    "temperature": tf.float32,
    "seed": tf.int32,
}
# One warm-up row per signature: the defaults a client would most likely send.
WARMUP_OPTIONS = {"max_length": 8, "k": 5, "p": 0.9, "temperature": 1.0, "seed": 0}


def clamp_options(options, decoder_length, vocabulary_size):
    """Brings each option into its range; returns `(options, clamped [batch])`."""
    bounds = {
        "max_length": (1, decoder_length),
        "k": (1, vocabulary_size),
        "p": (0.0, 1.0),
        "temperature": (MIN_TEMPERATURE, MAX_TEMPERATURE),
    }
    clamped = tf.zeros_like(options["max_length"], tf.bool)
    result = dict(options)
    for name, (low, high) in bounds.items():
        if name not in options:
            continue
        value = options[name]
        if value.dtype.is_floating:
            value = tf.where(tf.math.is_nan(value), tf.ones_like(value), value)
        result[name] = tf.clip_by_value(value, low, high)
        clamped |= result[name] != options[name]  # NaN != NaN: a NaN counts as clamped
    return result, clamped


class RequestSampler(keras_hub.samplers.Sampler):
    """Greedy, top-k or top-p sampling with per-row `k` / `p` / `temperature` / `seed`.

    keras-hub's samplers take one scalar setting per sampler and draw from a
    stateful seed generator; here every row has its own settings and the
    draw at step `i` is `stateless_categorical(seed=[seed, i])`, so answers
    repeat exactly and concurrent requests cannot disturb each other.

    Example:
    ```python
    sampler = RequestSampler("top_k", k=tf.constant([1, 3]), temperature=tf.constant([1.0, 1.0]),
                             seed=tf.constant([7, 7]))
    # used as ElectraSeq2SeqLM.sampler while tracing an export (see Seq2SeqServable); here
    # with a toy model whose next-token probabilities are always 0.1, 0.2, 0.3, 0.4:
    def toy_model(prompt, cache, index):
        return tf.math.log([[0.1, 0.2, 0.3, 0.4]] * 2), None, cache

    prompt = tf.constant([[2, 0, 0, 0, 0, 0]] * 2)  # a start token, then 5 to draw
    sampler(toy_model, prompt, index=1)  # row 0 (k=1) is greedy, row 1 draws from its top 3
    # -> [[2, 3, 3, 3, 3, 3], [2, 3, 1, 1, 3, 2]]
    sampler(toy_model, prompt, index=1)  # seeded per row and step: the same answer again
    # -> [[2, 3, 3, 3, 3, 3], [2, 3, 1, 1, 3, 2]]
    ```
    """

    def __init__(self, strategy, k=None, p=None, temperature=None, seed=None):
        super().__init__()
        self.strategy, self.k, self.p = strategy, k, p
        self.row_temperature, self.seed = temperature, seed
        self._step = None

    def __call__(self, next, prompt, cache=None, index=0, **kwargs):
        # The loop body calls `next` right before `get_next_token`: note the
        # step there, for the stateless seed.
        def next_noting_step(prompt, cache, index):
            self._step = index
            return next(prompt, cache, index)

        return super().__call__(next_noting_step, prompt, cache=cache, index=index, **kwargs)

    def compute_probabilities(self, logits):
        logits = tf.cast(logits, tf.float32)
        if self.strategy != "greedy":
            logits = logits / self.row_temperature[:, None]
        return tf.nn.softmax(logits)

    def get_next_token(self, probabilities):
        if self.strategy == "greedy":
            return tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        if self.strategy == "top_k":
            cutoff = tf.minimum(tf.reduce_max(self.k), tf.shape(probabilities)[1])
            values, indices = tf.math.top_k(probabilities, k=cutoff)
            keep = tf.range(cutoff)[None, :] < self.k[:, None]
        else:  # top_p, as keras-hub's TopPSampler: the likeliest tokens up to p, at least one
            values, indices = tf.math.top_k(probabilities, k=tf.shape(probabilities)[1])
            inside = tf.cumsum(values, axis=-1) <= self.p[:, None]
            keep = tf.concat([tf.ones_like(inside[:, :1]), inside[:, :-1]], axis=-1)
        logits = tf.where(keep, tf.math.log(values), -1e9)

        def draw(row):
            row_logits, seed = row
            seeds = tf.stack([seed, tf.cast(self._step, tf.int32)])
            return tf.random.stateless_categorical(row_logits[None], 1, seeds, tf.int32)[0, 0]

        choice = tf.map_fn(draw, (logits, self.seed), fn_output_signature=tf.int32)
        return tf.gather(indices, choice, batch_dims=1)
