"""The suite's own scheduling: the modules tests/conftest.py starts first are real ones."""
import pathlib

import conftest


def test_the_longest_modules_named_first_exist():
    tests = pathlib.Path(__file__).resolve().parent
    missing = [name for name in conftest.LONGEST_MODULES if not (tests / name).is_file()]
    assert not missing, f"tests/conftest.py LONGEST_MODULES names no such module: {missing}"
