"""`LengthPenaltyBeamSampler`: beam search for `ElectraSeq2SeqLM.generate`.

A `keras_hub.samplers.BeamSampler` whose finished beams stop scoring and
whose final choice is ranked with GNMT's length penalty.

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
sampler(next, prompt, index=1, stop_token_ids=[3])  # [[2, 5, 5, 3, 0]]: stops at the end
```
"""

import keras
import keras_hub
import tensorflow as tf
from keras import ops
from keras_hub.src.utils.tensor_utils import any_equal


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
    are enough real candidates, so the search is then exhaustive.

    Example:
    ```python
    sampler = LengthPenaltyBeamSampler(num_beams=4, length_penalty=0.6)
    # lm.compile(sampler=sampler); lm.generate("...")
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
            return ops.any(any_equal(prompt, stop_token_ids, ~mask), axis=-1)

        has_cache = cache is not None
        cache = cache if has_cache else ()
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

            def gather_beams(x):
                x = unflatten(x)
                gather_index = beam_indices
                for axis in range(2, len(x.shape)):
                    gather_index = ops.expand_dims(gather_index, axis)
                return flatten(ops.take_along_axis(x, gather_index, axis=1))

            prompt = gather_beams(prompt)
            if has_cache:
                cache = keras.tree.map_structure(gather_beams, cache)
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
    def _generated_lengths(prompt, mask, start, stop_token_ids):
        """Tokens generated up to and including the first end token."""
        positions = ops.arange(ops.shape(prompt)[1])
        generated = positions[None, :] >= start
        if stop_token_ids is None:
            return ops.cast(ops.sum(ops.cast(generated, "int32"), axis=-1), "float32")
        is_end = any_equal(prompt, stop_token_ids, ~mask) & generated
        after_end = ops.cumsum(ops.cast(is_end, "int32"), axis=-1) - ops.cast(is_end, "int32")
        counted = generated & (after_end == 0)
        return ops.cast(ops.sum(ops.cast(counted, "int32"), axis=-1), "float32")

    def get_config(self):
        return {**super().get_config(), "length_penalty": self.length_penalty}

