"""Dynamic masking for ELECTRA, as TF ops that also compile under XLA.

Written by hand because keras-hub's `MaskedLMMaskGenerator` cannot run inside a
`jit_compile=True` step (it builds ragged tensors, which XLA lacks), defaults to
BERT's 80/10/10 mix instead of ELECTRA's 85/15/0, and knows neither the
original's per-sequence count `max(1, round(p x real tokens))` nor whole-word
selection. Everything here is dense: random scores plus `top_k`.

Example:
```python
import numpy as np
from electra_tf.data.masking import DynamicMasking

masking = DynamicMasking(
    mask_token_id=4, special_token_ids=[0, 1, 2, 3, 4], vocab_size=100,
    max_predictions=4, seed=0,
)
token_ids = np.array([[2, 10, 11, 12, 13, 14, 15, 3, 0, 0]], "int32")
padding_mask = (token_ids != 0).astype("int32")
masked = masking({"token_ids": token_ids, "padding_mask": padding_mask})
masked["token_ids"]  # max(1, round(0.15 x 6 real tokens)) = 1 masked: 11 became [MASK] (4)
# -> [[2, 10, 4, 12, 13, 14, 15, 3, 0, 0]]
masked["mask_positions"], masked["mask_weights"]  # 4 slots, the 3 unused ones weighted 0
# -> ([[2, 0, 1, 3]], [[1.0, 0.0, 0.0, 0.0]])
```
"""

import keras
import tensorflow as tf

from electra_tf.layers.seed_stream import SeedStream


class DynamicMasking(keras.layers.Layer):
    """Chooses and corrupts masked-LM positions afresh on every call.

    Positions are drawn uniformly without replacement among real, non-special
    tokens (or among whole words when `word_ids` is given). Each sequence gets
    `max(1, round(mask_probability x real tokens))` positions, capped at
    `max_predictions`; real tokens include `[CLS]`/`[SEP]` as in the original
    `pretrain_helpers.mask`. A chosen position becomes `[MASK]` with
    probability `mask_token_rate`, a token drawn uniformly from the vocabulary
    with probability `random_token_rate` (a draw that hits a special token
    leaves the position unchanged, so slightly fewer than `random_token_rate`
    become random tokens), and stays unchanged otherwise.

    Call with a dict holding `token_ids` and `padding_mask` (`[batch, length]`)
    and optionally `word_ids` (`-1` for tokens that belong to no word). Returns
    `token_ids` (corrupted), `mask_positions`, `mask_ids` (the original tokens)
    and `mask_weights` (1.0 for a real slot, 0.0 for padding slots), each of the
    last three `[batch, max_predictions]`.
    """

    def __init__(
        self,
        mask_token_id,
        special_token_ids,
        vocab_size,
        max_predictions,
        mask_probability=0.15,
        mask_token_rate=0.85,
        random_token_rate=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if mask_token_rate + random_token_rate > 1.0 + 1e-9:
            raise ValueError(
                "mask_token_rate + random_token_rate must be <= 1, got "
                f"{mask_token_rate} + {random_token_rate}."
            )
        self.mask_token_id = int(mask_token_id)
        self.special_token_ids = sorted(int(i) for i in special_token_ids)
        self.vocab_size = int(vocab_size)
        self.max_predictions = int(max_predictions)
        self.mask_probability = float(mask_probability)
        self.mask_token_rate = float(mask_token_rate)
        self.random_token_rate = float(random_token_rate)
        self.seed = seed
        self.seed_stream = SeedStream(seed, name="seed_stream")

    def build(self, input_shape):
        # Nothing shape-dependent: the seed counter already exists.
        self.built = True

    def call(self, inputs):
        # A cast, not a checked conversion: under MirroredStrategy Keras builds
        # the model on a replica-averaged (so float) batch (keras#20585).
        token_ids = tf.cast(inputs["token_ids"], tf.int32)
        padding_mask = tf.cast(inputs["padding_mask"], tf.bool)
        batch_size, length = tf.shape(token_ids)[0], tf.shape(token_ids)[1]

        special = tf.reduce_any(
            token_ids[..., None] == tf.constant(self.special_token_ids, tf.int32), axis=-1
        )
        candidates = padding_mask & ~special
        if inputs.get("word_ids") is not None:
            word_ids = tf.cast(inputs["word_ids"], tf.int32)
        else:
            word_ids = tf.broadcast_to(tf.range(length)[None, :], tf.shape(token_ids))
        word_ids = tf.where(candidates, word_ids, -1)

        num_real = tf.reduce_sum(tf.cast(padding_mask, tf.float32), axis=1)
        budget = tf.cast(tf.round(num_real * self.mask_probability), tf.int32)
        budget = tf.clip_by_value(budget, 1, self.max_predictions)

        # Token count of every word, laid out as [batch, length] slots.
        flat_segments = tf.where(word_ids >= 0, word_ids + length * tf.range(batch_size)[:, None], -1)
        word_length = tf.math.unsorted_segment_sum(
            tf.reshape(tf.cast(word_ids >= 0, tf.int32), [-1]),
            tf.reshape(flat_segments, [-1]),
            batch_size * length,
        )
        word_length = tf.reshape(word_length, [batch_size, length])

        # Visit words in random order; keep them while the running token count
        # fits the budget (the first word always, so every sequence with a
        # candidate gets at least one mask).
        seeds = tf.random.experimental.stateless_split(self.seed_stream.next_seed(), num=4)
        scores = tf.random.stateless_uniform([batch_size, length], seed=seeds[0])
        scores = tf.where(word_length > 0, scores, -1.0)
        order = tf.math.top_k(scores, k=length, sorted=True).indices
        sorted_length = tf.gather(word_length, order, batch_dims=1)
        running = tf.cumsum(sorted_length, axis=1)
        first = tf.range(length)[None, :] == 0
        keep_sorted = (sorted_length > 0) & ((running <= budget[:, None]) | first)
        keep_word = tf.gather(keep_sorted, tf.argsort(order, axis=1), batch_dims=1)
        chosen = (word_ids >= 0) & tf.gather(keep_word, tf.maximum(word_ids, 0), batch_dims=1)

        # top_k keeps ties in index order, so chosen positions come first, sorted.
        top = tf.math.top_k(tf.cast(chosen, tf.float32), k=self.max_predictions)
        positions, weights = top.indices, top.values
        mask_ids = tf.gather(token_ids, positions, batch_dims=1) * tf.cast(weights, tf.int32)

        draw = tf.random.stateless_uniform(tf.shape(positions), seed=seeds[1])
        random_tokens = tf.random.stateless_uniform(
            tf.shape(positions), seed=seeds[2], minval=0, maxval=self.vocab_size, dtype=tf.int32
        )
        random_is_special = tf.reduce_any(
            random_tokens[..., None] == tf.constant(self.special_token_ids, tf.int32), axis=-1
        )
        replacement = tf.where(draw < self.mask_token_rate, self.mask_token_id, mask_ids)
        use_random = (
            (draw >= self.mask_token_rate)
            & (draw < self.mask_token_rate + self.random_token_rate)
            # A random draw that hits a special token leaves the slot unchanged.
            & ~random_is_special
        )
        replacement = tf.where(use_random, random_tokens, replacement)

        slot_hits = tf.one_hot(positions, length, dtype=tf.int32) * tf.cast(weights, tf.int32)[..., None]
        is_masked = tf.reduce_sum(slot_hits, axis=1) > 0
        new_values = tf.reduce_sum(slot_hits * replacement[..., None], axis=1)
        corrupted = tf.where(is_masked, new_values, token_ids)
        return {
            "token_ids": corrupted,
            "mask_positions": positions,
            "mask_ids": mask_ids,
            "mask_weights": weights,
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "mask_token_id": self.mask_token_id,
                "special_token_ids": self.special_token_ids,
                "vocab_size": self.vocab_size,
                "max_predictions": self.max_predictions,
                "mask_probability": self.mask_probability,
                "mask_token_rate": self.mask_token_rate,
                "random_token_rate": self.random_token_rate,
                "seed": self.seed,
            }
        )
        return config
