"""The masked-LM baseline (`objective="mlm"`): training, masking, run folder, fine-tuning, export.

One `electra-pretrain --objective mlm` run (a module fixture) serves the run-folder
tests; the rest use tiny in-memory models.
"""

import json
import os
import pathlib
import subprocess
import sys

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from test_pretrainer import CONFIG, VOCAB, block_corpus, dataset, special_ids

from electra_tf import ElectraClassifier, ElectraConfig, ElectraPretrainer, MaskedLMPretrainer
from electra_tf import convert, inspection, tokenization
from electra_tf.config import FinetuneConfig
from electra_tf.export.servables import detect_kind, load_servable
from electra_tf.models import model_dir
from electra_tf.models.pretraining.masked_lm import ElectraMaskedLM
from electra_tf.training import summaries
from electra_tf.training.finetune import FinetuneSpec, run_finetuning
from electra_tf.training.pretrain import PRETRAINERS, run_pretraining

ROOT = pathlib.Path(__file__).resolve().parents[1]
MLM = CONFIG.for_objective("mlm")
LINES = [
    "今天天气很好，我们去公园散步。", "明天可能下雨，记得带伞。", "",
    "the weather is nice today and we walk in the park.", "tomorrow it may rain.", "",
    "人民日报发表新年献词。", "国家主席发表讲话，祝贺新年。", "",
]
REVIEWS = [("pos", "今天天气很好"), ("neg", "明天可能下雨"), ("pos", "我们去公园散步"),
           ("neg", "记得带伞")]


def make_baseline(config=MLM, vocabulary_size=len(VOCAB), seed=0):
    return MaskedLMPretrainer(config, vocabulary_size, special_ids(), seed=seed)


def test_the_metrics_are_the_masked_lms_only():
    baseline = make_baseline()
    assert [metric.name for metric in baseline.metrics] == ["loss", "mlm_loss", "mlm_accuracy"]
    baseline.compile()
    results = baseline.evaluate(dataset().take(2), return_dict=True, verbose=0)
    assert set(results) == {"loss", "mlm_loss", "mlm_accuracy"}
    assert results["loss"] == results["mlm_loss"]


def test_the_loss_falls_over_a_few_steps():
    """150 tiny steps on the block language (measured: loss 4.15 -> 2.40, accuracy 0.84)."""
    keras.utils.set_random_seed(0)
    baseline = make_baseline()
    baseline.compile()
    history = baseline.fit(dataset(), steps_per_epoch=25, epochs=6, verbose=0).history
    assert history["loss"][-1] < 0.7 * history["loss"][0], history["loss"]
    assert history["mlm_accuracy"][-1] > 3 / (len(VOCAB) - 5)  # 3x chance


def test_the_masking_is_berts_80_10_10():
    """Counted over the chosen slots of a large batch, as the model reads them.

    A random draw that hits a special token (5 ids) or the original token
    leaves the slot unchanged, so with V = 1,000 ids 0.1 x 994/1000 become
    random tokens and the rest of the 10% stay. Each share must lie within 4
    standard errors of its expectation (under 0.01 for the 16,384 slots).
    """
    vocabulary_size = 1000
    baseline = make_baseline(vocabulary_size=vocabulary_size)
    rng = np.random.default_rng(0)
    ids = rng.integers(len(tokenization.SPECIAL_TOKENS), vocabulary_size,
                       (4096, MLM.sequence_length)).astype("int32")
    ids[:, 0], ids[:, -1] = 2, 3  # [CLS] ... [SEP]
    outputs = baseline({"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": 1 + 0 * ids})
    read = outputs["masked_token_ids"].numpy()
    chosen = outputs["mask_weights"].numpy().sum()
    masked = (read == special_ids()[tokenization.MASK]).sum()
    changed = (read != ids).sum()
    assert chosen == 4096 * MLM.num_masked_predictions  # 4 per sequence of 32
    random_share = 0.1 * (vocabulary_size - len(tokenization.SPECIAL_TOKENS) - 1) / vocabulary_size
    for share, expected in ((masked / chosen, 0.8), ((changed - masked) / chosen, random_share),
                            ((chosen - changed) / chosen, 1 - 0.8 - random_share)):
        assert abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / chosen), (
            share, expected)


def test_the_preset_round_trip_gives_equal_outputs(tmp_path):
    baseline = make_baseline()
    baseline.save_to_preset(tmp_path, tokenization.make_tokenizer(VOCAB))
    assert model_dir.saved_class(tmp_path) == "MaskedLMPretrainer"
    assert model_dir.is_pretraining_dir(tmp_path)
    assert model_dir.pretraining_config(tmp_path) == MLM
    loaded = MaskedLMPretrainer.from_preset(tmp_path)
    assert loaded.tokenizer.get_vocabulary() == VOCAB and loaded.seed == baseline.seed
    batch = {k: v[:4] for k, v in block_corpus().items()}
    positions = np.tile(np.arange(1, 5, dtype="int32"), (4, 1))
    for model in (baseline, loaded):
        model.outputs_ = model.masked_lm({**batch, "mask_positions": positions}).numpy()
    np.testing.assert_array_equal(loaded.outputs_, baseline.outputs_)
    # The folder's backbone is the encoder, for keras-hub without this package.
    backbone = keras_hub.models.ElectraBackbone.from_preset(str(tmp_path))
    np.testing.assert_array_equal(backbone(batch)["sequence_output"].numpy(),
                                  baseline.encoder(batch)["sequence_output"].numpy())


def test_each_objective_has_its_own_class(tmp_path):
    assert {objective: cls.__name__ for objective, cls in PRETRAINERS.items()} == (
        model_dir.PRETRAINER_CLASSES)  # the names folders are recognised by
    with pytest.raises(ValueError, match="config's objective is 'mlm': use MaskedLMPretrainer"):
        ElectraPretrainer(MLM, len(VOCAB), special_ids())
    with pytest.raises(ValueError, match="objective is 'electra': use ElectraPretrainer"):
        MaskedLMPretrainer(CONFIG, len(VOCAB), special_ids())
    baseline = make_baseline()
    baseline.save_to_preset(tmp_path, tokenization.make_tokenizer(VOCAB))
    with pytest.raises(ValueError, match="holds an MaskedLMPretrainer, not an ElectraPretrainer"):
        ElectraPretrainer.from_preset(tmp_path)
    # What shows a discriminator's view says there is none.
    with pytest.raises(TypeError, match="a MaskedLMPretrainer has no discriminator"):
        inspection.replaced_token_view(baseline, tokenization.make_tokenizer(VOCAB), ["w1 w2"])


def test_mixed_precision_trains_with_loss_scaling():
    baseline = make_baseline(MLM.replace(dtype_policy="mixed_float16"))
    baseline.compile()
    assert isinstance(baseline.optimizer, keras.optimizers.LossScaleOptimizer)
    assert baseline.encoder.compute_dtype == "float16"
    history = baseline.fit(dataset(), steps_per_epoch=3, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])


# ------------------------------------------------------------------ run folder
@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    directory = tmp_path_factory.mktemp("corpus")
    (directory / "train.txt").write_text("\n".join(LINES * 30) + "\n", encoding="utf-8")
    (directory / "heldout.txt").write_text("\n".join(LINES[:5]) + "\n", encoding="utf-8")
    for split in ("train", "dev"):
        (directory / f"{split}.tsv").write_text(
            "".join(f"{label}\t{text}\n" for label, text in REVIEWS * 2), encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def mlm_run(corpus, tmp_path_factory):
    """`electra-pretrain --objective mlm` on the tiny config: 8 steps, checkpoints every 4."""
    run_dir = tmp_path_factory.mktemp("mlm_run")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "pretrain.py"), "--config", "tiny",
         "--objective", "mlm", "--input_files", str(corpus / "train.txt"),
         "--heldout_files", str(corpus / "heldout.txt"), "--model_dir", str(run_dir),
         "--vocab_size", "300", "--train_steps", "8", "--checkpoint_steps", "4",
         "--batch_size", "8", "--eval_steps", "2"],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"},
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir, result.stdout


def test_the_command_trains_the_baseline_and_reports_its_heldout_metrics(mlm_run):
    run_dir, output = mlm_run
    config = ElectraConfig.load(run_dir / "electra_config.json")
    assert (config.objective, config.mask_token_rate, config.random_token_rate) == ("mlm", 0.8, 0.1)
    assert model_dir.saved_class(run_dir) == "MaskedLMPretrainer"
    summary = json.loads((run_dir / "pretraining_summary.json").read_text())
    assert summary["steps_done"] == 8
    assert set(summary["heldout_metrics"]) == {"loss", "mlm_loss", "mlm_accuracy"}
    accuracy = summary["heldout_metrics"]["mlm_accuracy"]
    line = output.split("held-out: ")[1].splitlines()[0]
    assert line.startswith(f"masked LM accuracy {accuracy:.3f}") and "ROC AUC" not in line
    scalars = summaries.read_scalars(run_dir / "logs")["train"]
    metrics = {"loss", "mlm_loss", "mlm_accuracy"}
    assert set(scalars) == metrics | {"learning_rate", "tokens_per_second", "flops"} | {
        summaries.EPOCH_PREFIX + name for name in metrics}
    assert (run_dir / summaries.CURVES_FILENAME).is_file()


def test_the_run_folder_fine_tunes_as_a_discriminators_does(mlm_run, corpus, tmp_path):
    run_dir, _ = mlm_run
    encoder = MaskedLMPretrainer.from_preset(run_dir).encoder
    classifier = ElectraClassifier.from_model_dir(str(run_dir), label_names=["neg", "pos"])
    assert classifier.preprocessor.sequence_length == CONFIG.sequence_length  # the run's
    for a, b in zip(classifier.backbone.weights, encoder.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    metrics = run_finetuning(FinetuneSpec(
        task="classification", model_dir=str(tmp_path / "classifier"), init_from=str(run_dir),
        train_file=str(corpus / "train.tsv"), dev_file=str(corpus / "dev.tsv"),
        recipe=FinetuneConfig(epochs=1, batch_size=4, sequence_length=16)))
    # One epoch of 8 examples in batches of 4 trained the run's encoder ...
    assert metrics["train_steps"] == 2
    saved = ElectraClassifier.from_preset(str(tmp_path / "classifier"))
    assert any(not np.array_equal(a.numpy(), b.numpy())
               for a, b in zip(saved.backbone.weights, encoder.weights))
    # ... and the saved classifier is the one that scored the dev set.
    dev = REVIEWS * 2
    predicted = saved.predict_labels([text for _, text in dev])
    assert metrics["dev"]["accuracy"] == pytest.approx(
        np.mean([p == label for p, (label, _) in zip(predicted, dev)]))


def test_a_run_of_one_objective_does_not_continue_as_the_other(mlm_run, tmp_path):
    run_dir, _ = mlm_run
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "pretrain.py"), "--init_from", str(run_dir),
         "--objective", "electra", "--model_dir", str(tmp_path)],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"},
        capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "was pre-trained with objective 'mlm'; its weights cannot continue as 'electra'" in (
        result.stderr)
    assert "Traceback" not in result.stderr


def test_an_interrupted_run_resumes_and_a_finished_one_extends(corpus, tmp_path, caplog):
    class StopAtStep(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if int(self.model.optimizer.iterations.numpy()) == 6:
                raise KeyboardInterrupt  # as Ctrl-C after the first checkpoint (step 4)

    config = ElectraConfig.from_preset("tiny").for_objective("mlm").replace(
        train_steps=8, batch_size=8, warmup_steps=2)
    args = (config, [str(corpus / "train.txt")], tmp_path)
    options = dict(vocab_size=300, checkpoint_steps=4, verbose=0)
    with pytest.raises(KeyboardInterrupt):
        run_pretraining(*args, callbacks=[StopAtStep()], **options)
    caplog.set_level("INFO", logger="electra_tf")
    result = run_pretraining(*args, **options)
    assert "resuming from the checkpoint at step 4" in caplog.text
    assert isinstance(result.pretrainer, MaskedLMPretrainer)
    assert int(result.pretrainer.optimizer.iterations.numpy()) == 8
    # One masking draw at build, then one per step of both processes: the stream went on.
    saved = MaskedLMPretrainer.from_preset(tmp_path)
    assert int(saved.masking.seed_stream.counter.numpy()) == 1 + 8
    result = run_pretraining(config.replace(train_steps=12), *args[1:], **options)
    assert "continuing the finished run from step 8" in caplog.text
    assert int(result.pretrainer.optimizer.iterations.numpy()) == 12


def test_export_and_conversion_follow_what_the_run_holds(mlm_run, tmp_path):
    run_dir, _ = mlm_run
    baseline = MaskedLMPretrainer.from_preset(run_dir)
    assert detect_kind(run_dir) == "generator"
    with pytest.raises(ValueError, match="masked-LM baseline .* has no discriminator"):
        load_servable("discriminator", run_dir)
    filled = load_servable("generator", run_dir).predict_text(tf.constant(["今天[MASK]气很好"]))
    assert filled["num_masks"].numpy().tolist() == [1]

    # Rewritten as it is.
    convert.convert(run_dir, tmp_path / "ours")
    assert model_dir.saved_class(tmp_path / "ours") == "MaskedLMPretrainer"
    # To keras-hub: the encoder alone.
    convert.convert(run_dir, tmp_path / "keras_hub", to="keras_hub")
    assert type(keras_hub.models.ElectraBackbone.from_preset(
        str(tmp_path / "keras_hub"))) is keras_hub.models.ElectraBackbone


def test_to_hugging_face_as_one_electra_for_masked_lm_and_back(tmp_path):
    """Exact GELU, as Hugging Face's masked-LM head computes it whatever `hidden_act` says."""
    baseline = make_baseline(MLM.replace(activation="gelu"))
    baseline.save_to_preset(tmp_path / "run", tokenization.make_tokenizer(VOCAB))
    assert convert.convert(tmp_path / "run", tmp_path / "hf", to="hugging_face") == [
        tmp_path / "hf"]
    written = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert written["architectures"] == ["ElectraForMaskedLM"]
    assert (written["hidden_size"], written["embedding_size"]) == (
        MLM.hidden_size, MLM.embedding_size)  # the encoder's width, not a generator's
    again, _ = convert.load(tmp_path / "hf")
    assert isinstance(again, ElectraMaskedLM)
    inputs = {**{k: v[:2] for k, v in block_corpus().items()},
              "mask_positions": np.tile(np.arange(1, 5, dtype="int32"), (2, 1))}
    np.testing.assert_array_equal(again(inputs).numpy(), baseline.masked_lm(inputs).numpy())
