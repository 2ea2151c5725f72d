"""`LengthPenaltyBeamSampler`: beam search for `ElectraSeq2SeqLM.generate`.

A `keras_hub.samplers.BeamSampler` whose finished beams stop scoring and
whose final choice is ranked with GNMT's length penalty. A `BeamCache`
tells it which part of a decoding cache follows the beams (the decoder's
self-attention keys and values) and which part is the same for every beam
of a source (the encoder's states, its padding mask, the cross-attention
keys and values): only the first is reordered at each step.

Example:
```python
import numpy as np
from keras import ops
from electra_tf.models.samplers import LengthPenaltyBeamSampler

# A toy model: token 3 ends a sequence; the next token is always 5, then 3.
def next(prompt, cache, index):
    logits = np.full((prompt.shape[0], 6), -5.0, "float32")
    logits[:, 5 if index < 3 else 3] = 5.0
    return ops.convert_to_tensor(logits), None, cache

prompt = np.array([[2, 0, 0, 0, 0]], "int32")
sampler = LengthPenaltyBeamSampler(num_beams=2, length_penalty=0.6)
sampler(next, prompt, index=1, stop_token_ids=[3])  # stops at the end  # -> [[2, 5, 5, 3, 0]]
```
"""

import collections

import keras
import keras_hub
import tensorflow as tf
from keras import ops

from electra_tf import compat


class BeamCache(collections.namedtuple("BeamCache", ["per_beam", "per_source"])):
    """A decoding cache in two parts, for `LengthPenaltyBeamSampler`.

    `per_beam` (any structure of `[batch, ...]` tensors) belongs to one
    beam's history and is reordered whenever beams are; `per_source` is the
    same for every beam of a source, so it is copied once per beam at the
    start and never reordered. Samplers that do not know this class (the
    greedy and random ones, keras-hub's `BeamSampler`) treat it as any other
    nested structure, which is correct, only slower for keras-hub's beams.

    Example:
    ```python
    import numpy as np
    from keras import ops
    from electra_tf.models.samplers import BeamCache, LengthPenaltyBeamSampler

    # A toy model whose next token is its source's id + 4, whatever the beam.
    def next(prompt, cache, index):
        return ops.one_hot(cache.per_source + 4, 7) * 5.0, None, cache

    cache = BeamCache(per_beam=np.zeros((2, 1), "float32"), per_source=np.array([0, 1]))
    prompt = np.array([[2, 0, 0], [2, 0, 0]], "int32")
    LengthPenaltyBeamSampler(num_beams=2)(next, prompt, cache, index=1)  # -> [[2, 4, 4], [2, 5, 5]]
    ```
    """


@keras.saving.register_keras_serializable(package="electra_tf")
class LengthPenaltyBeamSampler(keras_hub.samplers.BeamSampler):
    """Beam search whose finished beams stop scoring, ranked with a length penalty.

    keras-hub's `BeamSampler` keeps adding log-probabilities after a beam has
    produced the end token and ranks beams by raw sums. Here a finished beam
    can only repeat the end token at no cost (so its score is the score of
    the sequence up to its end), and the final choice divides each score by
    GNMT's `((5 + length) / 6) ** length_penalty`; 0 ranks by raw
    log-probability, larger values favour longer outputs. A beam wider than
    the vocabulary is allowed: the surplus beams hold -1e9 scores until there
    are enough real candidates, so the search is then exhaustive. Given a
    `BeamCache`, only its `per_beam` part is reordered with the beams.

    Example:
    ```python
    sampler = LengthPenaltyBeamSampler(num_beams=4, length_penalty=0.6)
    # lm.compile(sampler=sampler); lm.generate("...")
    sampler.get_config()  # what a compiled model saves
    # -> {'temperature': 1.0, 'num_beams': 4, 'return_all_beams': False, 'length_penalty': 0.6}
    ```
    """

    def __init__(self, num_beams=5, length_penalty=0.0, **kwargs):
        super().__init__(num_beams=num_beams, **kwargs)
        self.length_penalty = length_penalty

    def __call__(self, next, prompt, cache=None, index=0, mask=None, stop_token_ids=None,
                 hidden_states=None, model=None):
        num_beams = self.num_beams
        batch_size, max_length = ops.shape(prompt)[0], ops.shape(prompt)[1]
        index = ops.cast(index, "int32")
        start = index
        mask = ops.zeros_like(prompt, "bool") if mask is None else ops.cast(mask, "bool")

        def flatten(x):
            return ops.reshape(x, (-1,) + tuple(ops.shape(x)[2:]))

        def unflatten(x):
            return ops.reshape(x, (-1, num_beams) + tuple(ops.shape(x)[1:]))

        def finished(prompt, mask):
            if stop_token_ids is None:
                return ops.zeros(ops.shape(prompt)[:1], "bool")
            return ops.any(compat.any_equal(prompt, stop_token_ids, ~mask), axis=-1)

        cache = () if cache is None else cache
        prompt, mask = ops.repeat(prompt, num_beams, 0), ops.repeat(mask, num_beams, 0)
        cache = keras.tree.map_structure(lambda x: ops.repeat(x, num_beams, 0), cache)
        # Only the first beam is live at the start: the others are copies.
        log_probs = ops.array([[0.0] + [-1e9] * (num_beams - 1)], "float32")
        log_probs = flatten(ops.broadcast_to(log_probs, (batch_size, num_beams)))

        def cond(prompt, cache, index, mask, log_probs):
            return ops.logical_not(ops.all(finished(prompt, mask)))

        def body(prompt, cache, index, mask, log_probs):
            logits, _, cache = next(prompt, cache, index)
            vocab_size = ops.shape(logits)[-1]
            step = ops.log_softmax(ops.cast(logits, "float32") / self.temperature, axis=-1)
            if stop_token_ids is not None:
                # A finished beam may only repeat its end token, for free.
                frozen = ops.where(ops.arange(vocab_size) == stop_token_ids[0], 0.0, -1e9)
                step = ops.where(finished(prompt, mask)[:, None], frozen[None, :], step)
            candidates = ops.reshape(step + log_probs[:, None], (-1, num_beams * vocab_size))
            top_log_probs, indices = ops.top_k(candidates, k=num_beams, sorted=False)
            beam_indices = indices // vocab_size
            next_token = flatten(indices % vocab_size)
            new_log_probs = tf.ensure_shape(flatten(top_log_probs), log_probs.shape)

            # Each surviving beam's row in the flat `[batch * num_beams, ...]`
            # layout: gathering whole rows copies each tensor once, where
            # `take_along_axis` (keras-hub's way) on TensorFlow first
            # broadcasts an int64 index to the tensor's full size and
            # transposes tensor and index there and back.
            first_row = ops.arange(ops.shape(beam_indices)[0]) * num_beams
            rows = flatten(beam_indices + first_row[:, None])

            def gather_beams(x):
                return ops.take(x, rows, axis=0)

            prompt = gather_beams(prompt)
            cache = self._reorder(cache, gather_beams)
            next_token = ops.cast(next_token, prompt.dtype)
            next_token = ops.where(mask[:, index], prompt[:, index], next_token)
            prompt = ops.slice_update(prompt, [0, index], next_token[:, None])
            return prompt, cache, index + 1, mask, new_log_probs

        prompt, _, _, mask, log_probs = self.run_loop(
            cond=cond, body=body, loop_vars=(prompt, cache, index, mask, log_probs),
            maximum_iterations=max_length - index, model=model,
        )
        scores = log_probs
        if self.length_penalty:
            lengths = self._generated_lengths(prompt, mask, start, stop_token_ids)
            scores = scores / ((5.0 + lengths) / 6.0) ** self.length_penalty
        best = ops.argmax(unflatten(scores), axis=-1)[:, None, None]
        return ops.squeeze(ops.take_along_axis(unflatten(prompt), best, axis=1), axis=1)

    @staticmethod
    def _reorder(cache, gather_beams):
        """`cache` with its per-beam tensors gathered (all of it unless a `BeamCache`)."""
        if isinstance(cache, BeamCache):
            return cache._replace(
                per_beam=keras.tree.map_structure(gather_beams, cache.per_beam))
        return keras.tree.map_structure(gather_beams, cache)

    @staticmethod
    def _generated_lengths(prompt, mask, start, stop_token_ids):
        """Tokens generated up to and including the first end token."""
        positions = ops.arange(ops.shape(prompt)[1])
        generated = positions[None, :] >= start
        if stop_token_ids is None:
            return ops.cast(ops.sum(ops.cast(generated, "int32"), axis=-1), "float32")
        is_end = compat.any_equal(prompt, stop_token_ids, ~mask) & generated
        after_end = ops.cumsum(ops.cast(is_end, "int32"), axis=-1) - ops.cast(is_end, "int32")
        counted = generated & (after_end == 0)
        return ops.cast(ops.sum(ops.cast(counted, "int32"), axis=-1), "float32")

    def get_config(self):
        return {**super().get_config(), "length_penalty": self.length_penalty}

