"""The generation examples train and generate on a tiny slice of the real data."""

import importlib.util
import pathlib

import pytest

from electra_tf.data import parallel
from electra_tf.data.captioning import DIGIT_NAMES

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def run_example(name, *argv):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    outputs = module.main(["--tiny", *argv])
    assert len(outputs) == 5 and all(isinstance(o, str) for o in outputs)


def test_text_generation_example():
    run_example("text_generation")


@pytest.mark.parametrize("direction", ["en-zh", "zh-en"])
def test_translation_example(direction):
    run_example("translation", "--direction", direction)


def test_chinese_text_generation_example():
    try:
        parallel.find_fortunes_dir()
        run_example("chinese_text_generation")
    except FileNotFoundError:
        # Without fortunes-zh the same example runs on People's Daily.
        run_example("chinese_text_generation", "--corpus", "peoples_daily")


def test_captioning_example(capsys):
    """One tiny epoch captions nothing right yet; what it prints and returns must agree."""
    pytest.importorskip("sklearn")
    spec = importlib.util.spec_from_file_location("captioning", EXAMPLES / "captioning.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    exact = module.main(["--tiny", "--language", "zh"])
    printed = capsys.readouterr().out.splitlines()
    pairs = [line.split(" → ") for line in printed if " → " in line]
    digits = set(DIGIT_NAMES["zh"])
    assert len(pairs) == 5
    for caption, output in pairs:
        assert len(caption) == 2 and set(caption) <= digits, caption  # two held-out digits
        assert set(output) <= digits, output  # the captioner writes digit names only
    # The share it returns is the one it prints, of the 16 held-out images of --tiny.
    assert printed[-1] == f"exact match on 16 held-out images: {exact:.3f}"
    assert (16 * exact).is_integer()
