import numpy as np
import pytest

from electra_tf import ElectraConfig, ElectraPretrainer, tokenization
from electra_tf.models.pretraining.mask_predict import fill_masks, mask_predict

VOCAB = list(tokenization.SPECIAL_TOKENS) + [f"w{i}" for i in range(20)]
TOKENIZER = tokenization.make_tokenizer(VOCAB)


@pytest.fixture(scope="module")
def pretrainer():
    config = ElectraConfig.from_preset("tiny").replace(sequence_length=16)
    return ElectraPretrainer(config, vocabulary_size=len(VOCAB), seed=0,
                             special_token_ids=tokenization.special_token_ids(TOKENIZER))


def test_only_mask_slots_change_and_none_is_left(pretrainer):
    ids = np.array([[2, 5, 4, 4, 6, 3, 0, 0], [2, 4, 7, 8, 4, 3, 0, 0]], "int32")
    filled = mask_predict(pretrainer, ids, (ids != 0).astype("int32"), iterations=3)
    keep = ids != 4
    np.testing.assert_array_equal(filled[keep], ids[keep])
    assert (filled[~keep] >= 5).all()  # words, never special tokens


def test_one_iteration_is_the_generators_greedy_fill(pretrainer):
    ids = np.array([[2, 5, 4, 4, 6, 3]], "int32")
    filled = mask_predict(pretrainer, ids, np.ones_like(ids), iterations=1)
    logits = pretrainer.generator({
        "token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids),
        "mask_positions": np.array([[2, 3]], "int32"),
    }).numpy()
    logits[..., :5] = -1e9
    np.testing.assert_array_equal(filled[0, 2:4], logits[0].argmax(-1))


def test_strings_in_strings_out(pretrainer):
    out = fill_masks(pretrainer, TOKENIZER, ["w1 [MASK] w3", "[MASK][MASK]"], iterations=2)
    assert len(out) == 2 and out[0].startswith("w1 ") and out[0].endswith(" w3")
    assert len(out[1].split()) == 2
    with pytest.raises(ValueError, match="iterations"):
        fill_masks(pretrainer, TOKENIZER, ["w1 [MASK]"], iterations=0)
