import json

import pytest

from electra_tf import ElectraConfig, ElectraPretrainer, tokenization
from electra_tf.data import corpora, tasks
from electra_tf.models.classifier import ElectraClassifier
from electra_tf.training import finetune

VOCAB = list(tokenization.SPECIAL_TOKENS) + list("好差张三北京的了")


def test_results_table_compares_pretrained_and_random_with_one_budget(tmp_path, monkeypatch):
    # One tiny built-in task keeps this fast; the NER path is the same code.
    sentiment = tasks.ClassificationData(["好好的", "差差了", "好的", "差了"], [1, 0, 1, 0], ["neg", "pos"])
    monkeypatch.setattr(corpora, "chinese_sentiment", lambda: {s: sentiment for s in ("train", "dev", "test")})
    monkeypatch.setattr(finetune, "BUILTIN_DATASETS", {"chinese_sentiment": "classification"})
    config = ElectraConfig.from_preset("tiny")
    pretrainer = ElectraPretrainer(config, vocabulary_size=len(VOCAB), special_token_ids=
                                   tokenization.special_token_ids(tokenization.make_tokenizer(VOCAB)))
    pretrainer.save_to_model_dir(tmp_path / "pretrained", tokenization.make_tokenizer(VOCAB))
    rows = finetune.compare_initialisations(
        tmp_path / "pretrained", tmp_path / "results", epochs=1, batch_size=4, sequence_length=16)
    assert [(r["dataset"], r["start"]) for r in rows] == [
        ("chinese_sentiment", "pre-trained"), ("chinese_sentiment", "random"),
    ]
    table = finetune.results_table(rows)
    assert table.splitlines()[2].startswith("| chinese_sentiment | accuracy |")
    run = tmp_path / "results" / "chinese_sentiment-random"
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics) >= {"dev", "test", "history", "spec"} and metrics["spec"]["init_from"] is None
    loaded = ElectraClassifier.from_preset(str(run))
    assert loaded.label_names == ["neg", "pos"]
    assert loaded.preprocessor.tokenizer.get_vocabulary() == VOCAB  # same vocabulary as pre-trained


def test_data_choice_errors(tmp_path):
    ner = tasks.TaggingData([list("张三")], [["B-PER", "I-PER"]], ["O", "B-PER", "I-PER"])
    assert finetune._texts(ner) == ["张 三"]
    with pytest.raises(ValueError, match="not a ner dataset"):
        finetune.load_splits(finetune.FinetuneSpec(task="ner", model_dir=str(tmp_path),
                                                   dataset="chinese_sentiment"))
    with pytest.raises(ValueError, match="--train_file and --dev_file"):
        finetune.load_splits(finetune.FinetuneSpec(task="ner", model_dir=str(tmp_path)))
