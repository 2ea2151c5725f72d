"""scripts/generation_results.py: its recipe is valid, its rows hold every score beside a baseline.

The full run trains six models (about two hours on two idle cores) and
`--quick` the same on real data at smoke sizes, both left to the command
line; `--tiny` runs every stage on built-in fixtures and is tested here.
"""

import json
import math

import pytest

import script_files


def load_script():
    return script_files.load_script("generation_results")


def test_pretraining_recipe_is_a_valid_config():
    config = load_script().pretraining_config(600)
    assert (config.hidden_size, config.num_layers, config.train_steps) == (128, 2, 600)
    assert config.warmup_steps == 60


def test_results_table_shows_every_row():
    script = load_script()
    rows = [script.row("translation", "en-zh warm", "chrf", 10.25, 30.5, script.MEMORY, 12.345),
            script.row("poems", "zh", "perplexity", 300.0, 250.04, script.NGRAM, 20),
            script.row("captioning", "zh", "exact_match", 0.5, 0.25, script.PIXELS, 1)]
    assert rows[0] == {"task": "translation", "variant": "en-zh warm", "metric": "chrf",
                       "model": 10.25, "baseline": 30.5, "baseline_name": script.MEMORY,
                       "train_minutes": 12.35}
    table = script.markdown(rows, seconds=1800)
    assert f"| translation | en-zh warm | chrf | 10.25 | 30.50 | {script.MEMORY} | 12.3 |" in table
    assert "| poems | zh | perplexity | 300.0 | 250.0 |" in table
    assert "| captioning | zh | exact_match | 0.500 | 0.250 |" in table
    assert table.rstrip().endswith("Total time: 30 min.")


def test_bilingual_corpus_holds_one_document_per_pair(tmp_path):
    corpus = tmp_path / "corpus.txt"
    load_script().write_bilingual_corpus([("Open File", "打开文件")], corpus)
    assert corpus.read_text(encoding="utf-8") == "Open File\n打开文件\n\n"


def test_tiny_fixtures_keep_test_sources_unseen():
    script = load_script()
    for data in (script.TINY_TRANSLATION, script.TINY_POEMS, script.TINY_CONTINUATION):
        train_texts = {text for pair in data["train"] for text in pair}
        assert not train_texts & {text for pair in data["test"] for text in pair}


def test_tiny_run_writes_every_column_and_row_kind(tmp_path):
    """`--tiny`: every stage on the built-in fixtures, each score beside its baselines."""
    script = load_script()
    results = script.main(["--tiny", "--out", str(tmp_path)])
    rows = json.loads((tmp_path / "generation_results.json").read_text(encoding="utf-8"))
    assert rows == results["rows"]
    assert all(tuple(r) == script.ROW_KEYS for r in rows)
    assert all(math.isfinite(r["model"]) and math.isfinite(r["baseline"])
               and r["train_minutes"] >= 0 for r in rows)
    kinds = {(r["task"], r["metric"], r["baseline_name"]) for r in rows}
    assert kinds == {
        *(("translation", metric, name) for metric in ("bleu", "chrf")
          for name in (script.MEMORY, script.COPY)),
        ("translation", "perplexity", script.TARGET_NGRAM),
        ("poems", "perplexity", script.NGRAM),
        ("continuation", "perplexity", script.NGRAM),
        ("captioning", "exact_match", script.PIXELS),
        ("captioning", "digit_accuracy", script.PIXELS),
    }
    variants = {(r["task"], r["variant"]) for r in rows}
    assert variants == {("translation", "en-zh"), ("translation", "zh-en"),
                        ("poems", "zh"), ("continuation", "zh"),
                        ("captioning", "en"), ("captioning", "zh")}
    assert len(rows) == 2 * 5 + 1 + 1 + 2 * 2
    # The fixtures' test sentences share words with training ones, so the
    # translation memory finds something; copying English into Chinese cannot.
    memory_chrf = [r["baseline"] for r in rows if r["baseline_name"] == script.MEMORY]
    copy_chrf = [r["baseline"] for r in rows if r["baseline_name"] == script.COPY]
    assert min(memory_chrf) > 0 and max(copy_chrf) == 0
    table = (tmp_path / "results.md").read_text(encoding="utf-8")
    assert table.count("\n| ") == len(rows) + 1  # a line per row, below the header
    assert json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))["rows"] == rows

    # A run of one stage replaces its rows and keeps the others'.
    again = script.main(["--tiny", "--stages", "warm_start", "--out", str(tmp_path)])
    warm = [r for r in again["rows"] if r["task"] == "translation" and " " in r["variant"]]
    assert {r["variant"] for r in warm} == {
        f"{d} {e}" for d in ("en-zh", "zh-en") for e in ("cold", "warm")}
    assert len(warm) == 4 * 5 and again["rows"][:len(rows)] == rows
    assert set(again["stage_seconds"]) == {*script.DEFAULT_STAGES, "warm_start"}
    # --baselines_only trains nothing and gets the same baselines.
    alone = script.main(["--tiny", "--baselines_only", "--out", str(tmp_path / "baselines")])
    assert all(r["model"] is None and r["train_minutes"] is None for r in alone["rows"])
    expected = {(r["task"], r["variant"], r["metric"], r["baseline_name"]): r["baseline"]
                for r in rows}
    assert {(r["task"], r["variant"], r["metric"], r["baseline_name"]): r["baseline"]
            for r in alone["rows"]} == expected
    assert "| — |" in (tmp_path / "baselines" / "results.md").read_text(encoding="utf-8")


def test_unknown_stage_is_refused(tmp_path):
    with pytest.raises(SystemExit):
        load_script().main(["--tiny", "--stages", "poems,nope", "--out", str(tmp_path)])
