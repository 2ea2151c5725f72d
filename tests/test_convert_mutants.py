"""Broken converters fail the parity check: the fixtures are strong enough to notice.

Each mutant below breaks the conversion the way a plausible bug would, by
monkeypatching one seam of `electra_tf.convert` or of the models it builds;
the parity check of tests/test_convert_hf.py (tests/convert_parity.py) must
then fail, by far more than its tolerance, on the outputs the mistake touches.
With 0.02-scale fixture kernels and a 1e-4 tolerance the first two passed.
"""

import dataclasses

import keras
import keras_hub
import pytest

import convert_parity
from convert_parity import TOLERANCE, assert_close
from electra_tf.convert import hugging_face, weights
from electra_tf.models.pretraining import electra_pretrainer as pretrainer_module

# A mutant must miss the tolerance by at least this factor, so that another
# CPU's rounding cannot turn a caught mistake into a pass.
MARGIN = 10


def swap_query_and_key(monkeypatch):
    """Loads each layer's query kernel into the key projection and vice versa."""
    tower_entries = weights.tower_entries

    def swapped(*args, **kwargs):
        entries = tower_entries(*args, **kwargs)
        by_name = {entry.name: entry for entry in entries}
        result = []
        for entry in entries:
            for mine, other in ((".self.query.weight", ".self.key.weight"),
                                (".self.key.weight", ".self.query.weight")):
                if entry.name.endswith(mine):
                    twin = by_name[entry.name[: -len(mine)] + other]
                    entry = dataclasses.replace(entry, variable=twin.variable)
                    break
            result.append(entry)
        return result

    monkeypatch.setattr(weights, "tower_entries", swapped)


def tanh_gelu(monkeypatch):
    """Reads Hugging Face's exact `gelu` as keras-hub's tanh approximation."""
    monkeypatch.setitem(hugging_face.FROM_HF_ACTIVATION, "gelu", "gelu_approximate")


class _OwnEmbeddingLayerNorm:
    """The discriminator as the generator sees it, but with an embedding LayerNorm of its
    own, which no converter entry loads (it keeps gamma 1 and beta 0)."""

    def __init__(self, discriminator):
        self._discriminator = discriminator
        self.embeddings_layer_norm = keras.layers.LayerNormalization(
            epsilon=1e-12, name="generator_embeddings_layer_norm")

    def __getattr__(self, name):
        return getattr(self._discriminator, name)


def unshared_embedding_layer_norm(monkeypatch):
    """Gives the pre-trainer's generator its own embedding LayerNorm instead of the shared one."""
    generator_class = pretrainer_module.ElectraGenerator
    monkeypatch.setattr(
        pretrainer_module, "ElectraGenerator",
        lambda discriminator, **kwargs: generator_class(_OwnEmbeddingLayerNorm(discriminator),
                                                        **kwargs))


def untied_generator_head(monkeypatch):
    """Gives every masked-LM head an output matrix of its own instead of the word embeddings
    (the converter skips `generator_lm_head.weight` as tied, so it stays at its initial value)."""
    head_class = keras_hub.layers.MaskedLMHead

    def untied(token_embedding=None, **kwargs):
        return head_class(vocabulary_size=token_embedding.input_dim, **kwargs)

    monkeypatch.setattr(keras_hub.layers, "MaskedLMHead", untied)


# mutant → the conversions it breaks: `(name, outputs function, keys that must fail)`.
PAIR = ("HF pair", convert_parity.pair_outputs)
TF1_PAIR = ("TF1 pair", lambda: convert_parity.pair_outputs("tf1"))
CLASSIFIER = ("classifier", lambda: convert_parity.task_outputs("classifier"))
GENERATOR = ("generator alone", convert_parity.generator_outputs)
ALL_PAIR_OUTPUTS = {"discriminator_sequence_output", "discriminator_logits", "generator_logits"}
MUTANTS = {
    "query/key swapped": (swap_query_and_key, [(*PAIR, ALL_PAIR_OUTPUTS),
                                               (*CLASSIFIER, {"classifier_logits"})]),
    "tanh GELU": (tanh_gelu, [(*PAIR, ALL_PAIR_OUTPUTS), (*CLASSIFIER, {"classifier_logits"})]),
    "embedding LayerNorm not shared": (unshared_embedding_layer_norm, [
        (*PAIR, {"generator_logits"}), (*TF1_PAIR, {"generator_logits"})]),
    "generator head untied": (untied_generator_head, [
        (*PAIR, {"generator_logits"}), (*GENERATOR, {"generator_logits"})]),
}


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_each_mutant_fails_parity(mutant, monkeypatch):
    mutate, conversions = MUTANTS[mutant]
    mutate(monkeypatch)
    for name, outputs_of, broken in conversions:
        outputs = outputs_of()
        gaps = {key: convert_parity.gap(value, key) for key, value in outputs.items()}
        for key, value in outputs.items():
            if key in broken:
                # The parity check rejects it, by a margin no rounding can close ...
                with pytest.raises(AssertionError, match=key):
                    assert_close(value, key)
                assert gaps[key] > MARGIN * TOLERANCE, f"{mutant}, {name}: gaps {gaps}"
            else:
                # ... and only where the mistake reaches.
                assert_close(value, key)


def test_the_unmutated_conversion_passes():
    """The same conversions without a mutant: every output within TOLERANCE."""
    for outputs in (convert_parity.pair_outputs(), convert_parity.pair_outputs("tf1"),
                    convert_parity.task_outputs("classifier"), convert_parity.generator_outputs()):
        for key, value in outputs.items():
            assert_close(value, key)
