"""The parity check shared by the converter tests: converted models against `transformers`.

tests/fixtures/hf_electra holds Hugging Face ELECTRA models (and
tests/fixtures/tf1_electra the same pair in the original TF1 layout), written by
tests/fixtures/make_hf_electra.py together with the logits `transformers`
computes on fixed inputs (`expected.npz`). A conversion is right when the
converted model's outputs equal those within TOLERANCE.

TOLERANCE is what the conversion achieves in float32, with room for another
CPU's rounding: the measured gap is at most 1.7e-6 (the generator's logits; the
outputs reach ~6 in size). Structural mistakes miss it by 30x (tanh GELU) to
10^5x (tests/test_convert_mutants.py).
"""

import pathlib

import numpy as np

from electra_tf import convert

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures" / "hf_electra"
TF1_FIXTURE = FIXTURES.parent / "tf1_electra"
EXPECTED = dict(np.load(FIXTURES / "expected.npz"))
TOLERANCE = 1e-5
LENGTH = EXPECTED["input_ids"].shape[1]
# The fixture discriminator's head count: a TF1 checkpoint does not record it, and
# 4 heads on 32 units break the original's max(1, width / 64) rule on purpose.
TF1_NUM_HEADS = 4


def ids():
    """The fixed inputs of expected.npz, as keras-hub's backbone takes them."""
    return {"token_ids": EXPECTED["input_ids"].astype("int32"),
            "segment_ids": EXPECTED["token_type_ids"].astype("int32"),
            "padding_mask": EXPECTED["attention_mask"].astype("int32")}


def every_position():
    """`mask_positions` asking the generator for a prediction at every position."""
    return np.tile(np.arange(LENGTH, dtype="int32"), (len(EXPECTED["input_ids"]), 1))


def pretrainer_outputs(pretrainer):
    """Discriminator sequence output, RTD logits, generator logits at every position."""
    sequence = pretrainer.discriminator(ids())["sequence_output"]
    return {
        "discriminator_sequence_output": sequence.numpy(),
        "discriminator_logits": pretrainer.rtd_head(sequence).numpy(),
        "generator_logits": pretrainer.generator({**ids(), "mask_positions": every_position()}
                                                 ).numpy(),
    }


def gap(actual, key):
    """Largest absolute difference between `actual` and transformers' `key` in expected.npz."""
    return float(np.abs(np.asarray(actual) - EXPECTED[key]).max())


def assert_close(actual, key):
    value = gap(actual, key)
    assert value <= TOLERANCE, f"{key}: max |delta| {value:.2e} > {TOLERANCE:.0e}"


# What each fixture converts to, and the outputs it must reproduce (keys of expected.npz).
def pair_outputs(source="hf"):
    """`{key: output}` of the discriminator + generator pair, from the HF folders or from TF1."""
    if source == "tf1":
        model, _ = convert.load(TF1_FIXTURE, num_heads=TF1_NUM_HEADS)
    else:
        model, _ = convert.load(FIXTURES / "discriminator", FIXTURES / "generator")
    return pretrainer_outputs(model)


def generator_outputs():
    """`{key: output}` of the generator converted alone (an `ElectraMaskedLM`)."""
    masked_lm, _ = convert.load(FIXTURES / "generator")
    return {"generator_logits": masked_lm({**ids(), "mask_positions": every_position()}).numpy()}


def task_outputs(name):
    """`{key: output}` of `discriminator`, `classifier` or `tagger` converted alone."""
    model, _ = convert.load(FIXTURES / name)
    return {f"{name}_logits": model(ids()).numpy()}
