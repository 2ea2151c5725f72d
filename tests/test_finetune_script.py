"""scripts/finetune_results.py (the README's pre-trained vs random table) and fine-tuning runs."""

import dataclasses
import json

import pytest

import numpy as np

from electra_tf import ElectraConfig, ElectraPretrainer, tokenization
from electra_tf.config import FinetuneConfig
from electra_tf.data import corpora, tasks
from electra_tf.models.classification.classifier import ElectraClassifier
from electra_tf.models.multitask.multitask import ElectraMultiTask
from electra_tf.training import finetune
from script_files import load_script

VOCAB = list(tokenization.SPECIAL_TOKENS) + list("好差张三北京的了")


def test_results_table_compares_pretrained_and_random_with_one_budget(tmp_path, monkeypatch):
    # One tiny built-in task keeps this fast; the NER path is the same code.
    sentiment = tasks.ClassificationData(["好好的", "差差了", "好的", "差了"], [1, 0, 1, 0], ["neg", "pos"])
    monkeypatch.setattr(corpora, "chinese_sentiment", lambda: {s: sentiment for s in ("train", "dev", "test")})
    monkeypatch.setattr(finetune, "BUILTIN_DATASETS", {"chinese_sentiment": "classification"})
    config = ElectraConfig.from_preset("tiny")
    pretrainer = ElectraPretrainer(config, vocabulary_size=len(VOCAB), special_token_ids=
                                   tokenization.special_token_ids(tokenization.make_tokenizer(VOCAB)))
    pretrainer.save_to_preset(tmp_path / "pretrained", tokenization.make_tokenizer(VOCAB))
    recipe = FinetuneConfig(epochs=1, batch_size=4, sequence_length=16)
    script = load_script("finetune_results")
    rows = script.compare_initialisations(tmp_path / "pretrained", tmp_path / "results", recipe)
    assert [(r["dataset"], r["start"]) for r in rows] == [
        ("chinese_sentiment", "pre-trained"), ("chinese_sentiment", "random"),
    ]
    table = script.results_table(rows)
    assert table.splitlines()[2].startswith("| chinese_sentiment | accuracy |")
    run = tmp_path / "results" / "chinese_sentiment-random"
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics) >= {"dev", "test", "history", "spec"} and metrics["spec"]["init_from"] is None
    assert metrics["spec"]["recipe"] == recipe.to_dict()
    loaded = ElectraClassifier.from_preset(str(run))
    assert loaded.label_names == ["neg", "pos"]
    assert loaded.preprocessor.tokenizer.get_vocabulary() == VOCAB  # same vocabulary as pre-trained


def test_a_run_saved_before_the_dtype_policy_existed_still_counts_as_finished(tmp_path):
    """`compare_initialisations` reuses finished runs; one whose metrics.json predates a
    recipe field (here `dtype_policy`) ran with that field's default."""
    script = load_script("finetune_results")
    spec = finetune.FinetuneSpec(task="classification", dataset="chinese_sentiment",
                                 model_dir=str(tmp_path), recipe=FinetuneConfig(epochs=1))
    saved = json.loads(json.dumps(finetune._metrics(spec, 0, None)["spec"]))
    del saved["recipe"]["dtype_policy"]
    (tmp_path / "metrics.json").write_text(json.dumps({"spec": saved, "test": {"accuracy": 0.5}}))
    assert script.finished_test_metrics(spec) == {"accuracy": 0.5}
    other = dataclasses.replace(spec, recipe=spec.recipe.replace(dtype_policy="mixed_bfloat16"))
    assert script.finished_test_metrics(other) is None


def test_data_choice_errors(tmp_path):
    ner = tasks.TaggingData([list("张三")], [["B-PER", "I-PER"]], ["O", "B-PER", "I-PER"])
    assert finetune._texts(ner) == ["张 三"]
    with pytest.raises(ValueError, match="not a ner dataset"):
        finetune.load_splits(finetune.FinetuneSpec(task="ner", model_dir=str(tmp_path),
                                                   dataset="chinese_sentiment"))
    with pytest.raises(ValueError, match="--train_file and --dev_file"):
        finetune.load_splits(finetune.FinetuneSpec(task="ner", model_dir=str(tmp_path)))


def test_multitask_mixes_built_in_datasets_with_per_task_metrics(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    filler = list("的了在是和有去看说")
    sentiment_labels = rng.integers(2, size=48).tolist()
    sentiment = tasks.ClassificationData(
        ["".join(rng.choice(filler, 3)) + "差好"[label] for label in sentiment_labels],
        sentiment_labels, ["neg", "pos"])
    words = [list(rng.choice(filler, 2)) + list("张三") + list(rng.choice(filler, 2)) for _ in range(48)]
    ner = tasks.TaggingData(words, [["O", "O", "B-PER", "I-PER", "O", "O"]] * 48, ["O", "B-PER", "I-PER"])
    monkeypatch.setattr(corpora, "chinese_sentiment", lambda: {s: sentiment for s in ("train", "dev", "test")})
    monkeypatch.setattr(corpora, "peoples_daily_ner", lambda: {s: ner for s in ("train", "dev", "test")})
    recipe = FinetuneConfig(epochs=3, batch_size=8, sequence_length=12, learning_rate=3e-3,
                            task_weights={"peoples_daily_ner": 0.5})
    spec = finetune.FinetuneSpec(task="multitask", model_dir=str(tmp_path / "multi"), config="tiny",
                                 vocab_size=40, recipe=recipe)
    metrics = finetune.run_finetuning(spec)
    assert {"chinese_sentiment_accuracy", "peoples_daily_ner_entity_f1", "chinese_sentiment_loss",
            "peoples_daily_ner_loss"} <= set(metrics["history"]) & set(metrics["test"])
    written = json.loads((tmp_path / "multi" / "metrics.json").read_text())
    assert written["test"] == metrics["test"] and written["train_steps"] == 3 * (6 + 6)
    # Above chance (0.5) on the keyword task after the mixed training.
    assert metrics["test"]["chinese_sentiment_accuracy"] > 0.7
    loaded = ElectraMultiTask.from_preset(tmp_path / "multi")
    assert loaded.tasks["peoples_daily_ner"]["weight"] == 0.5
    with pytest.raises(ValueError, match="at least two different built-in datasets"):
        finetune.multitask_datasets(finetune.FinetuneSpec(
            task="multitask", model_dir=str(tmp_path), dataset="chinese_sentiment"))
    with pytest.raises(ValueError, match="built-in datasets only"):
        finetune.multitask_datasets(finetune.FinetuneSpec(
            task="multitask", model_dir=str(tmp_path), train_file="x.tsv"))
