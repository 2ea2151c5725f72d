import importlib.util
import pathlib

import numpy as np
import pytest

from electra_tf import tokenization
from electra_tf.data.captioning import digit_captions
from electra_tf.models.captioning.backbone import ImageCaptionBackbone
from electra_tf.models.captioning.captioner import ImageCaptioner
from electra_tf.models.captioning.preprocessor import ImageCaptionPreprocessor

pytest.importorskip("sklearn")


def test_digit_composites_and_captions():
    images, captions = digit_captions(num_examples=4, digits_per_image=3, language="zh")
    assert images.shape == (4, 8, 24, 1) and 0 <= images.min() and images.max() <= 1
    assert all(len(c) == 3 for c in captions)
    _, english = digit_captions(num_examples=2, language="en", split="test")
    assert all(len(c.split()) == 2 for c in english)


@pytest.mark.parametrize("patch_positions", [True, False])
def test_only_a_position_embedding_tells_patches_apart(patch_positions):
    """Cross-attention reads the patches as a set: the same pixels at two places give the
    same features unless each patch adds its position's embedding (the digits' order)."""
    backbone = ImageCaptionBackbone(image_shape=(8, 16, 1), vocabulary_size=20, hidden_dim=16,
                                    patch_positions=patch_positions)
    states, _ = backbone.encode({"images": np.zeros((1, 8, 16, 1), "float32")})
    # Patches away from the border, whose receptive fields hold no zero padding.
    interior = states.numpy()[0].reshape(4, 8, 16)[1:3, 1:7].reshape(-1, 16)
    assert (np.abs(interior - interior[0]).max() > 1e-3) == patch_positions
    config = backbone.get_config()
    assert config["patch_positions"] == patch_positions
    assert ImageCaptionBackbone.from_config(config).patch_positions == patch_positions


def test_shifted_digits_move_within_their_slots():
    images, captions = digit_captions(num_examples=16, language="zh", seed=3)
    shifted, shifted_captions = digit_captions(num_examples=16, language="zh", seed=3, shift=1)
    assert shifted_captions == captions and shifted.shape == images.shape
    assert not np.array_equal(shifted, images)
    for image, moved in zip(images[..., 0], shifted[..., 0]):
        for slot in (slice(0, 8), slice(8, 16)):
            padded = np.pad(image[:, slot], 1)
            offsets = [np.array_equal(padded[r:r + 8, c:c + 8], moved[:, slot])
                       for r in range(3) for c in range(3)]
            assert any(offsets)


def test_captioner_learns_single_digits_and_round_trips(tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    # 256 steps reach about 0.4 exact match on held-out scans, four times
    # chance (0.1): learning, checked in a quarter of the steps 0.6 takes.
    images, captions = digit_captions(num_examples=1024, digits_per_image=1, language="en")
    tokenizer = tokenization.make_tokenizer(list(tokenization.SPECIAL_TOKENS) +
                                            ["zero", "one", "two", "three", "four", "five",
                                             "six", "seven", "eight", "nine"])
    backbone = ImageCaptionBackbone(image_shape=images.shape[1:],
                                    vocabulary_size=tokenizer.vocabulary_size(), hidden_dim=32,
                                    num_decoder_layers=1, dropout=0.0, max_target_length=8)
    captioner = ImageCaptioner(backbone, ImageCaptionPreprocessor(tokenizer,
                                                                  decoder_sequence_length=4))
    captioner.compile(optimizer=keras.optimizers.Adam(3e-3), sampler="greedy")
    captioner.fit({"images": images, "captions": captions}, epochs=8, batch_size=32, verbose=0)
    test_images, test_captions = digit_captions(num_examples=64, digits_per_image=1,
                                                language="en", split="test", seed=1)
    outputs = captioner.generate(test_images, max_length=4)
    exact = np.mean([o == c for o, c in zip(outputs, test_captions)])
    assert exact >= 0.3, list(zip(outputs, test_captions))[:8]
    captioner.save_to_preset(str(tmp_path))
    loaded = ImageCaptioner.from_preset(str(tmp_path))
    loaded.compile(sampler="greedy")
    assert loaded.generate(test_images[:8], max_length=4) == outputs[:8]


def test_a_captioner_saved_before_the_shared_decoder_loads():
    fixtures = pathlib.Path(__file__).resolve().parent / "fixtures"
    spec = importlib.util.spec_from_file_location(
        "make_seq2seq_presets", fixtures / "make_seq2seq_presets.py")
    presets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(presets)
    captioner = ImageCaptioner.from_preset(str(presets.OUT / "captioning"))
    _, images = presets.inputs()
    np.testing.assert_allclose(captioner(images).numpy(),
                               np.load(presets.OUT / "expected.npz")["captioning"], atol=1e-6)
