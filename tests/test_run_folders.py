"""Damaged run and model folders: every command's readers raise one `RunFolderError` that
names the file, what is wrong with it and the fix, and the commands print it as one line.

Each test copies an intact folder, damages one file (empty, cut in half, not JSON / not
UTF-8 / not HDF5, or the weights of a model of another size) and calls what the command
calls: `run_pretraining` on an existing run (`electra-pretrain` resuming),
`run_finetuning` with `init_from` (`electra-finetune --init_from`), `detect_kind` and
`load_servable` (`electra-export`) and `generation.load` (`electra-generate` serving).
"""

import json
import pathlib
import shutil

import pytest

from test_command_output import run_as_user

from electra_tf import ElectraConfig, tokenization
from electra_tf.config import FinetuneConfig
from electra_tf.export import servables
from electra_tf.models.classification.classifier import ElectraClassifier
from electra_tf.models.model_dir import RunFolderError
from electra_tf.training import generation
from electra_tf.training.finetune import FinetuneSpec, run_finetuning
from electra_tf.training.preemption import StepBackup
from electra_tf.training.pretrain import run_pretraining

ROOT = pathlib.Path(__file__).resolve().parents[1]
SEQ2SEQ = ROOT / "tests" / "fixtures" / "seq2seq_0_1" / "seq2seq"
VOCAB = list(tokenization.SPECIAL_TOKENS) + list("好差很书质量今天")
CONFIG = ElectraConfig.from_preset("tiny").replace(
    train_steps=2, warmup_steps=0, batch_size=4, sequence_length=16)
LINES = ["今天天气很好，我们去公园散步。", "明天可能下雨，记得带伞。", "",
         "人民日报发表新年献词。", "国家主席发表讲话，祝贺新年。", ""]
VOCABULARY = "assets/tokenizer/vocabulary.txt"
BACKUP_WEIGHTS = "backup/latest.weights.h5"

# What the error says for each kind of damage to each kind of file.
JSON = {"empty": "is not readable JSON: the file is empty", "truncated": "is not readable JSON",
        "invalid": "is not readable JSON"}
VOCABULARY_DAMAGE = {"empty": "is empty", "truncated": "tokens where the model has",
                     "invalid": "is not readable UTF-8 text"}
UNREADABLE_WEIGHTS = "is not a readable weights file"
WEIGHTS = {"empty": UNREADABLE_WEIGHTS, "truncated": UNREADABLE_WEIGHTS,
           "invalid": UNREADABLE_WEIGHTS, "wrong_shape": "may be those of another model size"}


def cases(damage_by_file):
    """`(file, how, what the error says)` test cases from `{file: {how: what it says}}`."""
    return [pytest.param(name, how, says, id=f"{name}-{how}")
            for name, damages in damage_by_file.items() for how, says in damages.items()]


def damaged_copy(folder, tmp_path, name, how, other_weights=None, content=None):
    """A copy of `folder` whose file `name` (written with `content` first, if given) is
    emptied, cut in half, replaced by bytes that are not JSON (a .json file) or neither text
    nor HDF5 (others), or (`how` "wrong_shape") replaced by `other_weights`, the weights of a
    model of another size."""
    copy = tmp_path / "damaged"
    shutil.copytree(folder, copy)
    path = copy / name
    if content is not None:
        path.write_text(content)
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "invalid":
        path.write_bytes(b"{not json" if path.suffix == ".json" else b"\xff\xfe\x00 garbage")
    else:
        shutil.copy(other_weights, path)
    return copy


def assert_names(error, path, says):
    """`error` is one line naming `path`, saying `says`, and a fix after a semicolon."""
    message = str(error.value)
    assert "\n" not in message and str(path) in message and says in message, message
    assert "; " in message.split(says, 1)[1], message


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    """A classifier's folder, as electra-finetune writes it."""
    folder = tmp_path_factory.mktemp("classifier")
    ElectraClassifier.from_scratch(CONFIG, VOCAB, sequence_length=8,
                                   label_names=["neg", "pos"]).save_to_preset(str(folder))
    return folder


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """The folder of a classifier twice as wide, with three classes: weights of another size."""
    folder = tmp_path_factory.mktemp("wide")
    config = CONFIG.replace(hidden_size=2 * CONFIG.hidden_size,
                            intermediate_size=2 * CONFIG.intermediate_size)
    classifier = ElectraClassifier.from_scratch(config, VOCAB, sequence_length=8,
                                                label_names=["neg", "pos", "neutral"])
    classifier.save_to_preset(str(folder))
    return folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "train.txt"
    path.write_text("\n".join(LINES * 20) + "\n", encoding="utf-8")
    return path


def pretrain(corpus, model_dir, config=CONFIG):
    """What `electra-pretrain --config tiny` runs on `corpus` in `model_dir`."""
    return run_pretraining(config, [str(corpus)], model_dir, vocab_size=60, checkpoint_steps=1,
                           verbose=0)


@pytest.fixture(scope="module")
def runs(corpus, tmp_path_factory):
    """`(finished, interrupted)`: a finished two-step run, and a copy of it as a run killed
    after its first step leaves it (a backup at step 1, no summary)."""
    finished = tmp_path_factory.mktemp("runs") / "finished"
    pretrainer = pretrain(corpus, finished).pretrainer
    interrupted = finished.parent / "interrupted"
    shutil.copytree(finished, interrupted)
    (interrupted / "pretraining_summary.json").unlink()
    pretrainer.optimizer.iterations.assign(1)
    backup = StepBackup(str(interrupted / "backup"))
    backup.set_model(pretrainer)
    backup.save_at(1, 0)
    return finished, interrupted


# --------------------------------------------------------- electra-pretrain, resuming
def test_an_intact_interrupted_run_resumes(runs, corpus, tmp_path):
    """The control for the tests below: the undamaged copy resumes at step 1 and finishes."""
    copy = tmp_path / "run"
    shutil.copytree(runs[1], copy)
    result = pretrain(corpus, copy)
    assert int(result.pretrainer.optimizer.iterations.numpy()) == CONFIG.train_steps
    assert json.loads((copy / "pretraining_summary.json").read_text())["steps_done"] == 2


@pytest.mark.parametrize("name, how, says", cases({
    "electra_config.json": JSON,
    "budget.json": JSON,
    "backup/training_metadata.json": JSON,
    "vocab.txt": {"empty": "is empty", "invalid": "is not readable UTF-8 text"},
    BACKUP_WEIGHTS: {"truncated": UNREADABLE_WEIGHTS,
                     "wrong_shape": "does not load into this run's model"},
}))
def test_a_damaged_interrupted_run_is_named(runs, corpus, wide, tmp_path, name, how, says):
    # A run with a budget has a budget.json, read before the rest.
    budget = {"budget_flops": 1e9, "budget_minutes": None, "train_steps": 2}
    copy = damaged_copy(runs[1], tmp_path, name, how, wide / "model.weights.h5",
                        content=json.dumps(budget) if name == "budget.json" else None)
    with pytest.raises(RunFolderError) as error:
        pretrain(corpus, copy)
    assert_names(error, copy / name, says)


def test_a_backup_killed_while_writing_its_weights_resumes_from_the_one_before(runs, tmp_path):
    """Keras restores the copies of the interval before (`.bkp`); the run resumes its input
    at their position."""
    backup = tmp_path / "backup"
    shutil.copytree(runs[1] / "backup", backup)
    shutil.copy(backup / "latest.weights.h5", backup / "latest.weights.h5.bkp")
    (backup / "training_metadata.json.bkp").write_text(json.dumps({"epoch": 0, "batch": 1}))
    assert StepBackup.position(backup) == (1, 0)
    latest = backup / "latest.weights.h5"
    latest.write_bytes(latest.read_bytes()[:1000])
    assert StepBackup.position(backup) == (0, 1)


def test_a_cut_vocabulary_shows_when_the_backup_does_not_fit(runs, corpus, tmp_path):
    """vocab.txt cut short still reads; the model built from it does not take the backup."""
    copy = damaged_copy(runs[1], tmp_path, "vocab.txt", "truncated")
    with pytest.raises(RunFolderError) as error:
        pretrain(corpus, copy)
    assert_names(error, copy / BACKUP_WEIGHTS, "another config or vocabulary")


@pytest.mark.parametrize("name, how, says", cases({
    "pretraining_summary.json": JSON,
    "task.weights.h5": {"truncated": UNREADABLE_WEIGHTS, "wrong_shape": "does not fit the model"},
}))
def test_a_damaged_finished_run_is_named(runs, corpus, wide, tmp_path, name, how, says):
    """A finished run asked for more steps continues from its saved weights."""
    copy = damaged_copy(runs[0], tmp_path, name, how, wide / "task.weights.h5")
    with pytest.raises(RunFolderError) as error:
        pretrain(corpus, copy, CONFIG.replace(train_steps=3))
    assert_names(error, copy / name, says)


def test_the_command_prints_one_line_and_exits_with_2(runs, corpus, tmp_path):
    copy = damaged_copy(runs[1], tmp_path, "electra_config.json", "truncated")
    result, output = run_as_user(ROOT / "scripts" / "pretrain.py", "--config", "tiny",
                                 "--input_files", corpus, "--model_dir", copy)
    assert result.returncode == 2 and result.stdout == "", output[-3000:]
    assert result.stderr.startswith(f"error: {copy / 'electra_config.json'} is not readable "
                                    "JSON") and result.stderr.count("\n") == 1, result.stderr


@pytest.mark.parametrize("name, how, says", [
    ("task.json", "truncated", JSON["truncated"]),
    (VOCABULARY, "truncated", VOCABULARY_DAMAGE["truncated"]),
])
def test_continuing_a_damaged_run_names_the_file(runs, corpus, tmp_path, name, how, says):
    """`electra-pretrain --init_from`: the folder is checked before anything is built."""
    copy = damaged_copy(runs[0], tmp_path, name, how)
    with pytest.raises(RunFolderError) as error:
        run_pretraining(CONFIG, [str(corpus)], tmp_path / "more", init_from=copy, verbose=0)
    assert_names(error, copy / name, says)


# ------------------------------------------------------ electra-finetune --init_from
@pytest.mark.parametrize("name, how, says", [
    ("task.json", "truncated", JSON["truncated"]),
    ("config.json", "empty", JSON["empty"]),
    ("tokenizer.json", "invalid", JSON["invalid"]),
    (VOCABULARY, "truncated", VOCABULARY_DAMAGE["truncated"]),
    ("model.weights.h5", "truncated", UNREADABLE_WEIGHTS),
    ("model.weights.h5", "wrong_shape", WEIGHTS["wrong_shape"]),
])
def test_finetuning_from_a_damaged_run_names_the_file(runs, wide, tmp_path, name, how, says):
    copy = damaged_copy(runs[0], tmp_path, name, how, wide / "model.weights.h5")
    data = tmp_path / "train.tsv"
    data.write_text("pos\t今天很好\nneg\t质量很差\n", encoding="utf-8")
    spec = FinetuneSpec(task="classification", model_dir=str(tmp_path / "out"),
                        train_file=str(data), dev_file=str(data), init_from=str(copy),
                        recipe=FinetuneConfig(epochs=1, batch_size=2, sequence_length=8))
    with pytest.raises(RunFolderError) as error:
        run_finetuning(spec)
    # A wrong-shape weights file is named with the folder (keras-hub loads both files).
    assert_names(error, copy if how == "wrong_shape" else copy / name, says)


# ------------------------------------------------------------------- electra-export
@pytest.mark.parametrize("name, how, says", cases({
    "task.json": JSON, "config.json": JSON, "preprocessor.json": JSON,
    VOCABULARY: VOCABULARY_DAMAGE, "model.weights.h5": WEIGHTS, "task.weights.h5": WEIGHTS,
}))
def test_exporting_a_damaged_model_names_the_file(classifier_dir, wide, tmp_path, name, how, says):
    copy = damaged_copy(classifier_dir, tmp_path, name, how, wide / name)
    with pytest.raises(RunFolderError) as error:
        servables.load_servable(servables.detect_kind(copy), copy)
    assert_names(error, copy if how == "wrong_shape" else copy / name, says)


def test_the_export_command_prints_one_line_and_exits_with_2(classifier_dir, tmp_path):
    copy = damaged_copy(classifier_dir, tmp_path, "task.weights.h5", "truncated")
    result, output = run_as_user(ROOT / "scripts" / "export.py", "--model_dir", copy,
                                 "--export_dir", tmp_path / "exports")
    assert result.returncode == 2 and result.stdout == "", output[-3000:]
    assert result.stderr.startswith(f"error: {copy / 'task.weights.h5'} {UNREADABLE_WEIGHTS}")
    assert result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "exports").exists()


# ----------------------------------------------------------------- electra-generate
def test_an_intact_generation_model_loads(tmp_path):
    """The control for the test below."""
    shutil.copytree(SEQ2SEQ, tmp_path / "intact")
    assert generation.load(tmp_path / "intact").preprocessor is not None


@pytest.mark.parametrize("name, how, says", [
    ("task.json", "empty", JSON["empty"]),
    ("config.json", "truncated", JSON["truncated"]),
    ("tokenizer.json", "invalid", JSON["invalid"]),
    ("preprocessor.json", "truncated", JSON["truncated"]),
    (VOCABULARY, "truncated", VOCABULARY_DAMAGE["truncated"]),
    ("model.weights.h5", "truncated", UNREADABLE_WEIGHTS),
    ("model.weights.h5", "wrong_shape", WEIGHTS["wrong_shape"]),
])
def test_serving_a_damaged_generation_model_names_the_file(wide, tmp_path, name, how, says):
    copy = damaged_copy(SEQ2SEQ, tmp_path, name, how, wide / "model.weights.h5")
    with pytest.raises(RunFolderError) as error:
        generation.load(copy)
    assert_names(error, copy if how == "wrong_shape" else copy / name, says)


def test_a_folder_without_a_model_says_so(tmp_path):
    with pytest.raises(RunFolderError, match="holds no trained generation model"):
        generation.load(tmp_path)
    with pytest.raises(RunFolderError, match=r"config.json is missing, so .* holds no saved model"):
        ElectraClassifier.from_model_dir(str(tmp_path))
    with pytest.raises(RunFolderError, match="does not exist"):
        ElectraClassifier.from_model_dir(str(tmp_path / "typo"))
