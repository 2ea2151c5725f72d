"""The README's quickstart runs as written (a local checkpoint in place of the Hub id)."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
HUB_ID = "hfl/chinese-electra-180g-small-discriminator"


def quickstart():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_quickstart_runs(tmp_path, monkeypatch, capsys):
    code = quickstart()
    assert HUB_ID in code and len(code.splitlines()) <= 20
    monkeypatch.chdir(tmp_path)
    # No hub here: the same architecture from the Hugging Face fixtures.
    code = code.replace(HUB_ID, str(ROOT / "tests" / "fixtures" / "hf_electra" / "discriminator"))
    exec(compile(code, "README quickstart", "exec"), {"__name__": "__readme__"})
    assert re.search(r"\['(neg|pos)'\]", capsys.readouterr().out)
    assert (tmp_path / "exports" / "sentiment" / "1" / "saved_model.pb").is_file()
