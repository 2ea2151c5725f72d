"""The synthetic vocabulary, batch and labels the step benchmarks share.

Random word ids between [CLS] and [SEP] cost the model exactly what real text
does, without building a vocabulary from a corpus first.
"""

import numpy as np

from electra_tf import tokenization


SPECIALS = tokenization.SPECIAL_TOKENS


def synthetic_vocabulary(size):
    """The special tokens, then `w0`, `w1`, ... up to `size` entries."""
    return list(SPECIALS) + [f"w{i}" for i in range(size - len(SPECIALS))]


def synthetic_batch(vocab_size, batch_size, length, seed=0):
    """A full batch of random word ids, framed as `[CLS] ... [SEP]`, no padding.

    Ids index `synthetic_vocabulary(vocab_size)`: words follow the special tokens.
    """
    ids = np.random.default_rng(seed).integers(len(SPECIALS), vocab_size, (batch_size, length))
    ids = ids.astype("int32")
    ids[:, 0] = SPECIALS.index(tokenization.CLS)
    ids[:, -1] = SPECIALS.index(tokenization.SEP)
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}


def synthetic_labels(num_labels, batch_size, seed=0):
    """Random class ids, one per sequence of a batch: a classifier's training labels."""
    return np.random.default_rng(seed).integers(0, num_labels, batch_size).astype("int32")
