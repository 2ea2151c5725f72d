"""scripts/generation_results.py: its recipe is valid and its table shows every number.

The script itself trains seven models (about 35 minutes); `--quick` runs the
same path in minutes and is left to the command line.
"""

import importlib.util
import pathlib

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "generation_results.py"


def load_script():
    spec = importlib.util.spec_from_file_location("generation_results", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pretraining_recipe_is_a_valid_config():
    config = load_script().pretraining_config(600)
    assert (config.hidden_size, config.num_layers, config.train_steps) == (128, 2, 600)
    assert config.warmup_steps == 60


def test_results_table_has_every_number(tmp_path):
    script = load_script()
    runs = [{"direction": d, "encoder": e, "bleu": 1.5, "chrf": 10.25, "perplexity": 42.0}
            for d in ("en_zh", "zh_en") for e in ("cold", "warm")]
    table = script.markdown({
        "translation": {"runs": runs},
        "poems": {"test_poems": 20, "perplexity": 300.0},
        "captioning": {"exact_match_en": 0.5, "exact_match_zh": 0.25},
        "seconds": 1800,
    })
    assert table.count("| 1.50 | 10.25 | 42.0 |") == 4
    assert "en→zh | warm" in table and "zh→en | cold" in table
    assert "| 300.0 |" in table and "| 0.500 |" in table and "| 0.250 |" in table
    corpus = tmp_path / "corpus.txt"
    script.write_bilingual_corpus([("Open File", "打开文件")], corpus)
    assert corpus.read_text(encoding="utf-8") == "Open File\n打开文件\n\n"


def test_a_subset_of_stages_gets_its_own_table():
    table = load_script().markdown({"poems": {"test_poems": 20, "perplexity": 300.0},
                                    "seconds": 60})
    assert "| 300.0 |" in table and "BLEU" not in table and "captioning" not in table
