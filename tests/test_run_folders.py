"""Damaged run and model folders: every command's readers raise one `RunFolderError` that
names the file, what is wrong with it and the fix, and the commands print it as one line;
a command reads each file of its folders once.

Each test copies an intact folder, damages one file (empty, cut in half, not JSON / not
UTF-8 / not HDF5, or the weights of a model of another size) and calls what the command
calls: `run_pretraining` on an existing run (`electra-pretrain` resuming),
`run_finetuning` with `init_from` (`electra-finetune --init_from`), `detect_kind` and
`load_servable` (`electra-export`) and `generation.load` (`electra-generate` serving).
The tests at the end run the commands themselves (`electra-finetune --init_from`,
`electra-generate`, `electra-translate --encoder`, `electra-convert`, `electra-study`) in
this process, as their console scripts run them: on a damaged folder each prints one line
and exits with code 2; on the intact folder each reads every file of it once.
"""

import builtins
import contextlib
import collections
import importlib
import io
import json
import pathlib
import shutil
import sys
import sysconfig
import traceback

import h5py
import pytest
from absl import flags

from test_command_output import run_as_user

import electra_tf
from electra_tf import ElectraConfig, cli, tokenization
from electra_tf.cli import generation as generation_command
from electra_tf.config import FinetuneConfig
from electra_tf.export import servables
from electra_tf.models import legacy
from electra_tf.models.classification.classifier import ElectraClassifier
from electra_tf.models.model_dir import RunFolderError
from electra_tf.training.budget_study import Budget, StudyPlan
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


# ------------------------------------------------------------ the commands themselves
# electra-generate and electra-translate: what `cli.generation.run_command` gives each.
GENERATION_COMMANDS = {"generate": (False, "perplexity"), "translate": (True, "bleu")}
# Modules whose `define_flags` defines a command's flags once (functools.cache).
CACHED_FLAG_MODULES = ("convert", "export", "finetune", "pretrain", "study")


def _forget_command_flags():
    """Removes every flag electra_tf's commands defined from absl's registry, and forgets
    having defined them: the next command defines its own (two commands share names)."""
    for module, module_flags in list(flags.FLAGS.flags_by_module_dict().items()):
        if module.startswith("electra_tf"):
            for flag in list(module_flags):  # deleting a flag shortens the list
                if flag.name in flags.FLAGS:
                    delattr(flags.FLAGS, flag.name)
    cli.define_verbose_flag.cache_clear()
    for name in CACHED_FLAG_MODULES:
        importlib.import_module(f"electra_tf.cli.{name}").define_flags.cache_clear()


def define_command_flags(command):
    """Defines `electra-<command>`'s flags alone in absl's registry (call
    `_forget_command_flags` after use) and returns the command's main."""
    _forget_command_flags()
    cli.define_verbose_flag()
    if command in GENERATION_COMMANDS:
        separate_vocabularies, metric = GENERATION_COMMANDS[command]
        generation_command.define_flags(separate_vocabularies=separate_vocabularies)
        return lambda argv: generation_command.run(flags.FLAGS, metric)
    module = importlib.import_module(f"electra_tf.cli.{command}")
    module.define_flags()
    return module.main


def run_command(command, *args):
    """Runs `electra-<command> args` in this process as its console script runs it: its
    flags parsed by absl, its main through `cli`'s wrapper (which prints a folder error as
    one line and exits with 2), standard input empty. Returns the exit code (0: main
    returned); the command's flags are removed afterwards."""
    main = define_command_flags(command)
    stdin, sys.stdin = sys.stdin, io.StringIO("")
    try:
        flags.FLAGS([f"electra-{command}", *map(str, args)])
        cli._stop_cleanly(main, [])
        return 0
    except SystemExit as exit:
        return exit.code
    finally:
        sys.stdin = stdin
        flags.FLAGS.unparse_flags()
        _forget_command_flags()


def assert_one_line(capsys, code, path, says):
    """The command exited with 2 and printed one line: `error: <path> ...says...; fix`."""
    err = capsys.readouterr().err
    assert code == 2, err[-3000:]
    assert err.startswith(f"error: {path} ") and err.count("\n") == 1 and says in err, err
    assert "; " in err.split(says, 1)[1], err


PACKAGE = str(pathlib.Path(electra_tf.__file__).resolve().parent)
STDLIB = str(pathlib.Path(sysconfig.get_paths()["stdlib"]).resolve())
# electra_tf code keras-hub's loader calls back while it loads weights (it looks for version
# 0.1's layout in the file it is about to load, and rewrites such a file): the loader's
# reading, not a check's.
LOADER_HOOKS = {legacy.is_seq2seq_weights.__name__, legacy.seq2seq_weights.__name__}


def _electra_tf_reads(frames):
    """Whether the innermost frame of `frames` outside the standard library and this file is
    electra_tf's own code (not keras-hub, Keras or h5py reading what they load)."""
    for frame in reversed(frames):
        if frame.filename in (__file__, "<frozen importlib._bootstrap>") or (
                frame.filename.startswith(STDLIB)):
            continue
        return frame.filename.startswith(PACKAGE) and frame.name not in LOADER_HOOKS
    return False


@contextlib.contextmanager
def counting_reads(*folders):
    """Yields `{file: [where electra_tf read it, ...]}` for the files in `folders` that
    electra_tf's own code opens for reading (Python's `open` or h5py) while it runs."""
    folders = [str(pathlib.Path(folder).resolve()) for folder in folders]
    reads = collections.defaultdict(list)

    def note(file, mode):
        try:
            path = str(pathlib.Path(file).resolve())
        except TypeError:  # a file object or descriptor
            return
        if any(path.startswith(folder + "/") for folder in folders) and mode in ("r", "rb"):
            frames = traceback.extract_stack()[:-2]
            if _electra_tf_reads(frames):
                reads[path].append(" <- ".join(
                    f"{pathlib.Path(f.filename).name}:{f.lineno} {f.name}"
                    for f in reversed(frames[-6:]) if f.filename != __file__))

    open_, h5py_init = io.open, h5py.File.__init__

    def counted_open(file, mode="r", *args, **kwargs):
        note(file, mode)
        return open_(file, mode, *args, **kwargs)

    def counted_h5py(self, name, mode="r", *args, **kwargs):
        note(name, mode)
        return h5py_init(self, name, mode, *args, **kwargs)

    builtins.open = io.open = counted_open
    h5py.File.__init__ = counted_h5py
    try:
        yield reads
    finally:
        builtins.open = io.open = open_
        h5py.File.__init__ = h5py_init


def assert_read_once(reads):
    twice = {path: where for path, where in reads.items() if len(where) > 1}
    assert not twice, json.dumps(twice, indent=1)
    assert reads  # the counting saw the command read the folder


def finetune_args(init_from, tmp_path):
    data = tmp_path / "train.tsv"
    data.write_text("pos\t今天很好\nneg\t质量很差\n", encoding="utf-8")
    return ["--task", "classification", "--init_from", init_from, "--train_file", data,
            "--dev_file", data, "--model_dir", tmp_path / "out", "--epochs", "1",
            "--batch_size", "2", "--sequence_length", "8"]


def translate_args(encoder, tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("good\t好\nbad book\t差书\n", encoding="utf-8")
    return ["--train_file", pairs, "--encoder", encoder, "--model_dir", tmp_path / "out",
            "--epochs", "1", "--batch_size", "2", "--num_layers", "1", "--vocab_size", "40",
            "--sequence_length", "8"]


def named(copy, name, how):
    """What the error about the damaged `name` in `copy` names: the file, or for weights of
    another size, which show only when keras-hub loads the folder, the folder (a
    pre-trainer's task.weights.h5 is loaded on its own, and named)."""
    return copy if how == "wrong_shape" and name != "task.weights.h5" else copy / name


# electra-finetune --init_from and electra-translate --encoder start from a pre-training run:
# each command's arguments, and the damage to the run's files it reads (translate takes the
# encoder only: no task.json).
WARM_STARTS = {
    "finetune": (finetune_args, {
        "task.json": JSON, "config.json": JSON,
        VOCABULARY: {"truncated": VOCABULARY_DAMAGE["truncated"]}, "model.weights.h5": WEIGHTS}),
    "translate": (translate_args, {
        "config.json": JSON, VOCABULARY: {"truncated": VOCABULARY_DAMAGE["truncated"]},
        "model.weights.h5": WEIGHTS}),
}


@pytest.mark.parametrize("command, name, how, says", [
    pytest.param(command, *case.values, id=f"{command}-{case.id}")
    for command, (_, damage_by_file) in WARM_STARTS.items() for case in cases(damage_by_file)])
def test_warm_starting_from_a_damaged_run_prints_one_line(runs, wide, tmp_path, capsys, command,
                                                          name, how, says):
    """Before writing anything (translate printed a traceback before)."""
    arguments, _ = WARM_STARTS[command]
    copy = damaged_copy(runs[0], tmp_path, name, how, wide / "model.weights.h5")
    code = run_command(command, *arguments(copy, tmp_path))
    assert_one_line(capsys, code, named(copy, name, how), says)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", WARM_STARTS)
def test_warm_starting_reads_each_file_of_the_run_once(runs, tmp_path, command):
    arguments, _ = WARM_STARTS[command]
    with counting_reads(runs[0]) as reads:
        assert run_command(command, *arguments(runs[0], tmp_path)) == 0
    assert_read_once(reads)


@pytest.mark.parametrize("name, how, says", cases({
    "task.json": JSON, VOCABULARY: {"truncated": VOCABULARY_DAMAGE["truncated"]},
    "model.weights.h5": WEIGHTS,
}))
def test_generate_from_a_damaged_model_prints_one_line(wide, tmp_path, capsys, name, how, says):
    copy = damaged_copy(SEQ2SEQ, tmp_path, name, how, wide / "model.weights.h5")
    assert_one_line(capsys, run_command("generate", "--model_dir", copy),
                    named(copy, name, how), says)


def test_generate_reads_each_file_of_the_model_once(tmp_path):
    shutil.copytree(SEQ2SEQ, tmp_path / "model")
    with counting_reads(tmp_path / "model") as reads:
        assert run_command("generate", "--model_dir", tmp_path / "model") == 0
    assert_read_once(reads)


@pytest.mark.parametrize("name, how, says", cases({
    "task.json": JSON, "config.json": {"truncated": JSON["truncated"]},
    VOCABULARY: {"invalid": VOCABULARY_DAMAGE["invalid"]},
    "task.weights.h5": {**WEIGHTS, "wrong_shape": "does not fit the model"},
}))
def test_convert_from_a_damaged_run_prints_one_line(runs, wide, tmp_path, capsys, name, how,
                                                    says):
    copy = damaged_copy(runs[0], tmp_path, name, how, wide / "task.weights.h5")
    code = run_command("convert", "--source", copy, "--output_dir", tmp_path / "out")
    assert_one_line(capsys, code, named(copy, name, how), says)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("folder", ["run", "classifier"])
def test_convert_reads_each_file_of_the_source_once(runs, classifier_dir, tmp_path, folder):
    """A pre-training run (`model_dir.load_preset`) and a keras-hub task (keras-hub's loader);
    `task.json` was read twice, `task.weights.h5` checked twice."""
    source = runs[0] if folder == "run" else classifier_dir
    with counting_reads(source) as reads:
        assert run_command("convert", "--source", source, "--output_dir", tmp_path / "out") == 0
    assert_read_once(reads)


def test_export_reads_each_file_of_the_model_once(classifier_dir, tmp_path):
    """detect_kind, load_servable and the loader's check each read task.json before."""
    with counting_reads(classifier_dir) as reads:
        assert run_command("export", "--model_dir", classifier_dir, "--export_dir",
                           tmp_path / "exports", "--nocheck_ops") == 0
    assert_read_once(reads)


def test_pretrain_resuming_reads_each_file_of_the_run_once(runs, corpus, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(runs[1], copy)
    with counting_reads(copy) as reads:
        assert run_command(
            "pretrain", "--config", "tiny", "--input_files", corpus, "--model_dir", copy,
            "--train_steps", CONFIG.train_steps, "--warmup_steps", CONFIG.warmup_steps,
            "--batch_size", CONFIG.batch_size, "--sequence_length", CONFIG.sequence_length,
            "--vocab_size", 60, "--checkpoint_steps", 1) == 0
    assert_read_once(reads)
    assert any("training_metadata.json" in path for path in reads)


# electra-study's folder (`training.budget_study`), up to its first cell.
STEP_COST = {"config": ElectraConfig.from_preset("tiny").for_objective("electra").replace(
    dtype_policy="float32").to_dict(), "seconds_per_step": 1.0, "flops_per_step": 1e12,
    "flops_per_second": 1e12}


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    """A tiny study's folder before its first cell: corpus, vocabulary, measured step cost,
    no pre-training run recorded, no row."""
    folder = tmp_path_factory.mktemp("study") / "study"
    (folder / "corpus").mkdir(parents=True)
    (folder / "corpus" / "train-0.txt").write_text("\n".join(LINES * 20) + "\n", encoding="utf-8")
    (folder / "corpus" / "heldout.txt").write_text("\n".join(LINES) + "\n", encoding="utf-8")
    tokenization.save_vocabulary(VOCAB, folder)
    (folder / "step_cost.json").write_text(json.dumps(STEP_COST))
    (folder / "pretraining.json").write_text("{}")
    header = {"config": ElectraConfig.from_preset("tiny").to_dict(), "vocab_size": len(VOCAB)}
    (folder / "budget_study.json").write_text(json.dumps({"header": header, "rows": []}))
    return folder


def study(folder):
    """`electra-study --tiny` on `folder`, starting no cell (a time limit of 0 minutes)."""
    return run_command("study", "--tiny", "--study_dir", folder, "--time_limit_minutes", 0)


@pytest.mark.parametrize("name, how, says", cases({
    "step_cost.json": JSON, "pretraining.json": JSON, "budget_study.json": JSON}))
def test_the_study_on_a_damaged_folder_prints_one_line(study_dir, tmp_path, capsys, name, how,
                                                       says):
    copy = damaged_copy(study_dir, tmp_path, name, how)
    assert_one_line(capsys, study(copy), copy / name, says)


def test_the_study_on_a_damaged_pretraining_run_prints_one_line(study_dir, tmp_path, capsys):
    """The first cell that needs the ELECTRA run resumes it from its folder, damaged here."""
    copy = tmp_path / "study"
    shutil.copytree(study_dir, copy)
    plan = StudyPlan.tiny(copy)
    budget = Budget(plan.budgets_minutes[0] * 60 * STEP_COST["flops_per_second"],
                    plan.budgets_minutes[0])
    # The cells of random weights come first: done already.
    done = [{"key": cell.key} for cell in plan.cells([budget]) if cell.objective == "random"]
    saved = json.loads((copy / "budget_study.json").read_text())
    (copy / "budget_study.json").write_text(json.dumps({**saved, "rows": done}))
    run = copy / "pretrain" / f"electra-{budget.label}"
    run.mkdir(parents=True)
    (run / "vocab.txt").write_text("")  # the first file the run reads
    code = run_command("study", "--tiny", "--study_dir", copy)
    assert_one_line(capsys, code, run / "vocab.txt", "is empty")


def test_the_study_reads_each_file_of_its_folder_once(study_dir, tmp_path):
    copy = tmp_path / "study"
    shutil.copytree(study_dir, copy)
    with counting_reads(copy) as reads:
        assert study(copy) == 0
    assert_read_once(reads)
    assert len(reads) == 4  # vocab.txt, step_cost.json, pretraining.json, budget_study.json
