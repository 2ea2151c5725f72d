"""Fine-tuning runs: data, starting point, recipe, model directory, metrics.json.

`scripts/finetune.py` is a thin flag parser over `run_finetuning`, and
`scripts/finetune_results.py` calls it for the README table (the comparison of a
pre-trained and a random start, and the table itself, live in that script).

The recipe (learning rate, layer decay, warmup, epochs, batch size, sequence
length, dropout, head, early stopping, multi-task weights) is a
`FinetuneConfig`; the spec adds the data and the starting point.

Example:
```python
from electra_tf.config import FinetuneConfig
from electra_tf.training.finetune import FinetuneSpec, run_finetuning

recipe = FinetuneConfig.from_preset("zh_small").replace(
    max_train_examples=64, epochs=1, sequence_length=32)
metrics = run_finetuning(FinetuneSpec(
    task="classification", dataset="chinese_sentiment", model_dir="runs/sentiment",
    recipe=recipe, config="tiny",  # or init_from="runs/zh_small": a pre-trained encoder
))
metrics["train_steps"]  # 64 examples in batches of 32, one epoch  # -> 2
metrics["test"]  # about chance: random weights, two steps  # -> {'accuracy': ..., 'loss': ...}
```
"""

import dataclasses
import functools
import json
import logging
import random

import keras
import tensorflow as tf

from electra_tf import tokenization
from electra_tf.config import ElectraConfig, FinetuneConfig
from electra_tf.data import corpora, tasks
from electra_tf.data.mixing import mix_tasks
from electra_tf.models import encoders
from electra_tf.models import model_dir as model_dirs
from electra_tf.models.classification.classifier import ElectraClassifier
from electra_tf.models.model_dir import LOGS_DIRNAME
from electra_tf.models.multitask.multitask import ElectraMultiTask
from electra_tf.models.tagging.tagger import ElectraTagger
from electra_tf.optimizers import create_finetuning_optimizer
from electra_tf.training.distribute import shard_input, strategy_from_name, worker_dir
from electra_tf.training.guards import StopOnNonFiniteLoss
from electra_tf.precision import compute_dtype_line
from electra_tf.training.summaries import StepSummaries

TASKS = ("classification", "ner", "multitask")
BUILTIN_DATASETS = {"chinese_sentiment": "classification", "peoples_daily_ner": "ner"}
METRICS_FILENAME = "metrics.json"
# Dev and test subsets are drawn with this seed, not the run's: runs that differ in
# seed (or in anything else) are scored on the same examples.
EVALUATION_SUBSET_SEED = 0

log = logging.getLogger(__name__)


@dataclasses.dataclass
class FinetuneSpec:
    """What to fine-tune on, from where, into where; `recipe` says how."""

    task: str
    model_dir: str
    # A built-in name (multitask: comma-separated names, default all built-ins),
    # or give the files below.
    dataset: str | None = None
    train_file: str | None = None
    dev_file: str | None = None
    test_file: str | None = None
    init_from: str | None = None  # model dir or keras-hub preset; None = random
    config: str = "zh_small"  # sizes for random init (ignored with init_from)
    vocab_file: str | None = None  # random init: the vocabulary (else learnt from train)
    vocab_size: int = 8000
    seed: int = 0
    recipe: FinetuneConfig = dataclasses.field(default_factory=FinetuneConfig)


def load_splits(spec):
    """`{"train", "dev", "test"}` of `ClassificationData` or `TaggingData` (test may be absent)."""
    if spec.dataset:
        if BUILTIN_DATASETS.get(spec.dataset) != spec.task:
            raise ValueError(
                f"--dataset {spec.dataset!r} is not a {spec.task} dataset; built-in: "
                f"{BUILTIN_DATASETS}."
            )
        splits = getattr(corpora, spec.dataset)()
    else:
        if not spec.train_file or not spec.dev_file:
            raise ValueError("give --dataset, or --train_file and --dev_file (--test_file optional).")
        read = tasks.read_classification_tsv if spec.task == "classification" else tasks.read_conll
        splits = {"train": read(spec.train_file)}
        names = splits["train"].label_names if spec.task == "classification" else splits["train"].tag_names
        for split, path in (("dev", spec.dev_file), ("test", spec.test_file)):
            if path:
                splits[split] = read(path, names)
    recipe = spec.recipe
    limits = {"train": (recipe.max_train_examples, spec.seed),
              "dev": (recipe.max_dev_examples, EVALUATION_SUBSET_SEED),
              "test": (recipe.max_test_examples, EVALUATION_SUBSET_SEED)}
    return {split: _subsample(data, *limits[split]) if limits[split][0] else data
            for split, data in splits.items()}


def _subsample(data, limit, seed):
    fields = [f.name for f in dataclasses.fields(data) if isinstance(getattr(data, f.name), list)
              and f.name not in ("label_names", "tag_names")]
    size = len(getattr(data, fields[0]))
    keep = sorted(random.Random(seed).sample(range(size), min(limit, size)))
    return dataclasses.replace(data, **{f: [getattr(data, f)[i] for i in keep] for f in fields})


def build_model(spec, splits):
    """`(model, encoder config)`: the task model of `spec`, under its recipe's dtype policy."""
    recipe = spec.recipe
    kwargs = {"sequence_length": recipe.sequence_length, "dropout": recipe.dropout}
    if spec.task == "classification":
        cls, kwargs = ElectraClassifier, {**kwargs, "label_names": splits["train"].label_names,
                                          "head": recipe.head}
    else:
        cls, kwargs = ElectraTagger, {**kwargs, "tag_names": splits["train"].tag_names}
    if spec.init_from:
        model = cls.from_model_dir(spec.init_from, dtype_policy=recipe.dtype_policy, **kwargs)
        return model, _encoder_config(spec.init_from, None)
    config, vocabulary = _random_encoder_recipe(spec, [splits["train"]])
    return cls.from_scratch(config, vocabulary, **kwargs), config


def _random_encoder_recipe(spec, train_sets):
    """`(ElectraConfig, vocabulary)` for random initialisation, under the recipe's dtype
    policy."""
    config = ElectraConfig.from_preset(spec.config).replace(dtype_policy=spec.recipe.dtype_policy)
    if spec.recipe.dropout is not None:
        config = config.replace(dropout=spec.recipe.dropout)
    if spec.vocab_file:
        return config, tokenization.load_vocabulary(spec.vocab_file)
    texts = [text for data in train_sets for text in _texts(data)]
    return config, tokenization.build_vocabulary(texts, spec.vocab_size, config.lowercase)


def _encoder_config(init_from, fallback):
    """The pre-training config of `init_from` if it is a pre-training run, else `fallback`."""
    if model_dirs.is_pretraining_dir(init_from):
        return model_dirs.pretraining_config(init_from)
    return fallback


def _texts(data):
    if isinstance(data, tasks.ClassificationData):
        return data.texts + (data.texts_b or [])
    return [" ".join(words) for words in data.tokens]


def _dataset(model, data, batch_size, seed=None):
    if isinstance(model, ElectraTagger):
        return model.dataset(data.tokens, data.tags, batch_size=batch_size, shuffle_seed=seed)
    return data.dataset(batch_size, shuffle_seed=seed)


def _steps(model, data, batch_size):
    size = len(model.windows(data.tokens)) if isinstance(model, ElectraTagger) else len(data.labels)
    return max(1, -(-size // batch_size))


def compile_for_finetuning(model, recipe, config, train_steps, **compile_options):
    """Compiles `model` with the optimizer of `recipe` for `train_steps`, as `run_finetuning` does.

    The recipe gives the learning rate, layer-wise decay, warmup and Adam's bias
    correction; `config` (an `ElectraConfig`; its defaults when None) the weight
    decay, epsilon and clipping; the encoder itself its depth. `compile_options`
    (`run_eagerly`, `jit_compile`) go to `compile` as given: how the step runs,
    which `benchmarks/finetune_step.py` varies with the update left as fine-tuning's.
    """
    depth_config = (config or ElectraConfig()).replace(num_layers=model.backbone.num_layers)
    model.compile(optimizer=create_finetuning_optimizer(
        depth_config, train_steps, learning_rate=recipe.learning_rate,
        layer_decay=recipe.layer_decay, warmup_fraction=recipe.warmup_fraction,
        bias_correction=recipe.adam_bias_correction,
    ), **compile_options)


def run_finetuning(spec: FinetuneSpec, strategy=None) -> dict:
    """Trains, evaluates on dev and test, saves the model dir with `metrics.json`.

    `strategy` (a `tf.distribute.Strategy` or its name, see
    `training.distribute`; made before any other TensorFlow op) spreads each batch (`recipe.batch_size` is the global
    batch) over its replicas; under a multi-worker strategy only the chief
    writes `spec.model_dir`.
    """
    if spec.task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {spec.task!r}.")
    strategy = (strategy_from_name(strategy) if isinstance(strategy, str)
                else strategy or tf.distribute.get_strategy())
    keras.utils.set_random_seed(spec.seed)
    if spec.task == "multitask":
        return run_multitask(spec, strategy)
    recipe = spec.recipe
    splits = load_splits(spec)
    with strategy.scope():
        model, config = build_model(spec, splits)
        train_steps = recipe.epochs * _steps(model, splits["train"], recipe.batch_size)
        compile_for_finetuning(model, recipe, config, train_steps)
    log.info(compute_dtype_line(model.backbone.dtype_policy))
    return _fit_evaluate_save(
        spec, strategy, model, train_steps,
        shard_input(_dataset(model, splits["train"], recipe.batch_size, seed=spec.seed), (),
                    strategy),
        validation=_dataset(model, splits["dev"], recipe.batch_size),
        evaluation={split: functools.partial(_dataset, model, splits[split], recipe.batch_size)
                    for split in ("dev", "test") if split in splits},
        monitor=("val_sparse_categorical_accuracy" if spec.task == "classification"
                 else "val_entity_f1"),
    )


def _fit_evaluate_save(spec, strategy, model, train_steps, train, *, validation, evaluation,
                       steps_per_epoch=None, monitor=None):
    """The ending single-task and multi-task runs share: fit, score, save, `metrics.json`.

    Fits `model` on `train` (already shared out among the workers) for the
    recipe's epochs, validating on `validation`; scores it on each split of
    `evaluation` (split name -> function that builds its dataset); saves it as
    a preset in the run folder with `metrics.json` beside it (under a
    multi-worker strategy only the chief's folder is kept) and returns the
    metrics. Early stopping watches `monitor` (higher is better) and the
    metrics then say which epoch's weights were kept; without a `monitor` it
    watches the validation loss.
    """
    recipe = spec.recipe
    watched = {"monitor": monitor, "mode": "max"} if monitor else {}
    with worker_dir(spec.model_dir, strategy) as model_dir:
        history = model.fit(
            train, steps_per_epoch=steps_per_epoch, validation_data=validation,
            epochs=recipe.epochs, shuffle=False,  # The dataset shuffles; Keras would warn.
            callbacks=finetuning_callbacks(recipe.early_stopping_patience, **watched,
                                           log_dir=model_dir / LOGS_DIRNAME,
                                           start_epoch=recipe.early_stopping_start_epoch),
            verbose=2,
        )
        metrics = _metrics(spec, train_steps, history)
        if monitor:
            metrics.update(_epochs(history, monitor, recipe))
        for split, dataset in evaluation.items():
            results = model.evaluate(dataset(), verbose=0, return_dict=True)
            metrics[split] = {_short(k): float(v) for k, v in results.items()}
        model.save_to_preset(str(model_dir))
        (model_dir / METRICS_FILENAME).write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def spec_record(spec):
    """`spec` as `metrics.json` records it: plain JSON values, the recipe as a dict."""
    return {**dataclasses.asdict(spec), "recipe": spec.recipe.to_dict()}


def _metrics(spec, train_steps, history):
    return {"spec": spec_record(spec),
            "train_steps": train_steps,
            "history": {k: [float(v) for v in vs] for k, vs in history.history.items()}
            if history else {}}


def _epochs(history, monitor, recipe):
    """`epochs_trained`, and `best_epoch` (1-based): the epoch whose weights the model keeps.

    With early stopping that is the best dev score's epoch among those it
    watched (the first wins a tie, as Keras keeps it); without, the last.
    """
    scores = history.history.get(monitor, [])
    start = recipe.early_stopping_start_epoch
    best = len(scores)
    if recipe.early_stopping_patience is not None and len(scores) > start:
        watched = scores[start:]
        best = start + watched.index(max(watched)) + 1
    return {"epochs_trained": len(scores), "best_epoch": best}


def multitask_datasets(spec):
    """The built-in datasets a multi-task run mixes (`--dataset a,b`; default all)."""
    if spec.train_file or spec.dev_file or spec.test_file:
        raise ValueError(
            "--task multitask reads built-in datasets only: give --dataset "
            f"{','.join(BUILTIN_DATASETS)} (or a subset of two) instead of files."
        )
    names = spec.dataset.split(",") if spec.dataset else list(BUILTIN_DATASETS)
    unknown = [n for n in names if n not in BUILTIN_DATASETS]
    if unknown or len(set(names)) < 2:
        raise ValueError(
            f"--task multitask needs at least two different built-in datasets from "
            f"{list(BUILTIN_DATASETS)}, comma-separated; got {spec.dataset!r}."
        )
    return names


def run_multitask(spec: FinetuneSpec, strategy=None) -> dict:
    """One shared encoder, one head per built-in dataset, task batches mixed by sampling.

    Logs and `metrics.json` hold per-task numbers (`<dataset>_accuracy`,
    `<dataset>_entity_f1`, ...). Each epoch draws as many batches as the
    training sets hold together.
    """
    recipe = spec.recipe
    strategy = strategy or tf.distribute.get_strategy()
    names = multitask_datasets(spec)
    splits = {name: load_splits(dataclasses.replace(spec, task=BUILTIN_DATASETS[name], dataset=name))
              for name in names}
    with strategy.scope():
        if spec.init_from:
            (backbone, tokenizer), config = (
                encoders.pretrained_encoder(spec.init_from, recipe.dtype_policy),
                _encoder_config(spec.init_from, None))
        else:
            config, vocabulary = _random_encoder_recipe(spec, [s["train"] for s in splits.values()])
            backbone, tokenizer = encoders.random_encoder(config, vocabulary)
        model = ElectraMultiTask(backbone, {
            name: {"kind": "classification" if BUILTIN_DATASETS[name] == "classification"
                   else "tagging",
                   "labels": _names(splits[name]["train"]), "weight": recipe.task_weight(name)}
            for name in names
        }, uncertainty_weighting=recipe.uncertainty_weighting, dropout=recipe.dropout,
           tokenizer=tokenizer, sequence_length=recipe.sequence_length)
    log.info(compute_dtype_line(backbone.dtype_policy))
    batches = {name: _task_batches(model, name, splits[name], recipe.batch_size, spec.seed)
               for name in names}
    steps_per_epoch = sum(count for _, count in (b["train"] for b in batches.values()))
    sizes = {name: _size(splits[name]["train"]) for name in names}
    train = mix_tasks({name: b["train"][0] for name, b in batches.items()}, sizes,
                      temperature=recipe.sampling_temperature, seed=spec.seed)
    train_steps = recipe.epochs * steps_per_epoch
    with strategy.scope():
        compile_for_finetuning(model, recipe, config, train_steps)
    return _fit_evaluate_save(
        spec, strategy, model, train_steps, shard_input(train, (), strategy),
        steps_per_epoch=steps_per_epoch,
        validation=_concatenate([b["dev"] for b in batches.values()]),
        # Task names are built-in dataset names: `_short` leaves their metrics' names alone.
        evaluation={split: functools.partial(_concatenate, [b[split] for b in batches.values()])
                    for split in ("dev", "test") if all(split in b for b in batches.values())},
    )


def _names(data):
    return data.label_names if isinstance(data, tasks.ClassificationData) else data.tag_names


def _size(data):
    return len(data.labels if isinstance(data, tasks.ClassificationData) else data.tokens)


def _task_batches(model, name, splits, batch_size, seed):
    """Per split: the task's preprocessed batches in the shared multi-task structure."""
    preprocessor = model.preprocessor(name)
    if model.tasks[name]["kind"] == "classification":
        raw = {split: data.dataset(batch_size, shuffle_seed=seed if split == "train" else None)
               for split, data in splits.items()}
    else:
        raw = {split: preprocessor.tagging_dataset(
                   data.tokens, data.tags, model.tasks[name]["labels"], batch_size=batch_size,
                   shuffle_seed=seed if split == "train" else None)
               for split, data in splits.items()}
    result = {split: model.task_batches(name, ds.map(preprocessor, num_parallel_calls=tf.data.AUTOTUNE))
              for split, ds in raw.items()}
    # The training pipeline repeats inside the mix; an epoch is one pass's batch count.
    result["train"] = (result["train"], int(raw["train"].cardinality()))
    return result


def _concatenate(datasets):
    combined = datasets[0]
    for ds in datasets[1:]:
        combined = combined.concatenate(ds)
    return combined.prefetch(tf.data.AUTOTUNE)


def _short(name):
    return {"sparse_categorical_accuracy": "accuracy"}.get(name, name)


def finetuning_callbacks(early_stopping_patience=None, monitor="val_loss", mode="auto",
                         log_dir=None, start_epoch=0):
    """A stop at the first non-finite loss; TensorBoard scalars under `log_dir`, when one
    is given (`summaries.StepSummaries`: metrics as training went, learning rate, epoch
    means, validation at the step it was measured); early stopping that restores the best
    epoch's weights, when a patience is given, watching `monitor` from epoch `start_epoch` + 1
    on."""
    callbacks = [StopOnNonFiniteLoss()]
    if log_dir is not None:
        callbacks.append(StepSummaries(log_dir))
    if early_stopping_patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=early_stopping_patience,
            restore_best_weights=True, start_from_epoch=start_epoch))
    return callbacks
