"""Fine-tuning runs: data, starting point, recipe, model directory, metrics.json.

`scripts/finetune.py` is a thin flag parser over `run_finetuning`, and
`scripts/finetune_results.py` calls it for the README table.

Example:
```python
from electra_tf.training.finetune import FinetuneSpec, run_finetuning

metrics = run_finetuning(FinetuneSpec(
    task="classification", dataset="chinese_sentiment", init_from="runs/zh_small",
    model_dir="runs/sentiment", epochs=1, max_train_examples=2000,
))
metrics["test"]["accuracy"]
```
"""

import dataclasses
import json
import pathlib
import random

import keras

from electra_tf import tokenization
from electra_tf.config import ElectraConfig
from electra_tf.data import corpora, tasks
from electra_tf.models import encoders
from electra_tf.models.classifier import ElectraClassifier
from electra_tf.models.tagger import ElectraTagger
from electra_tf.models.pretrainer import CONFIG_FILENAME
from electra_tf.training.optimization import create_finetuning_optimizer, finetuning_callbacks

TASKS = ("classification", "ner")
BUILTIN_DATASETS = {"chinese_sentiment": "classification", "peoples_daily_ner": "ner"}
METRICS_FILENAME = "metrics.json"


@dataclasses.dataclass
class FinetuneSpec:
    task: str
    model_dir: str
    dataset: str | None = None  # a built-in name, or give the files below
    train_file: str | None = None
    dev_file: str | None = None
    test_file: str | None = None
    init_from: str | None = None  # model dir or keras-hub preset; None = random
    config: str = "zh_small"  # sizes for random init (ignored with init_from)
    vocab_file: str | None = None  # random init: the vocabulary (else learnt from train)
    vocab_size: int = 8000
    sequence_length: int = 128
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 1e-4
    layer_decay: float = 0.8
    warmup_fraction: float = 0.1
    dropout: float | None = None
    head: str = "electra"
    early_stopping_patience: int | None = None
    max_train_examples: int | None = None  # a small budget for quick runs
    seed: int = 0


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
    if spec.max_train_examples:
        splits["train"] = _subsample(splits["train"], spec.max_train_examples, spec.seed)
    return splits


def _subsample(data, limit, seed):
    fields = [f.name for f in dataclasses.fields(data) if isinstance(getattr(data, f.name), list)
              and f.name not in ("label_names", "tag_names")]
    size = len(getattr(data, fields[0]))
    keep = sorted(random.Random(seed).sample(range(size), min(limit, size)))
    return dataclasses.replace(data, **{f: [getattr(data, f)[i] for i in keep] for f in fields})


def build_model(spec, splits):
    kwargs = {"sequence_length": spec.sequence_length, "dropout": spec.dropout}
    if spec.task == "classification":
        cls, kwargs = ElectraClassifier, {**kwargs, "label_names": splits["train"].label_names,
                                          "head": spec.head}
    else:
        cls, kwargs = ElectraTagger, {**kwargs, "tag_names": splits["train"].tag_names}
    if spec.init_from:
        return cls.from_model_dir(spec.init_from, **kwargs), _encoder_config(spec.init_from, None)
    config = ElectraConfig.from_preset(spec.config)
    if spec.dropout is not None:
        config = config.replace(dropout=spec.dropout)
    vocabulary = tokenization.load_vocabulary(spec.vocab_file) if spec.vocab_file else (
        tokenization.build_vocabulary(_texts(splits["train"]), spec.vocab_size, config.lowercase)
    )
    return cls.from_scratch(config, vocabulary, **kwargs), config


def _encoder_config(init_from, fallback):
    path = pathlib.Path(init_from) / CONFIG_FILENAME
    return ElectraConfig.load(path) if path.is_file() else fallback


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


def run_finetuning(spec: FinetuneSpec) -> dict:
    """Trains, evaluates on dev and test, saves the model dir with `metrics.json`."""
    if spec.task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {spec.task!r}.")
    keras.utils.set_random_seed(spec.seed)
    splits = load_splits(spec)
    model, config = build_model(spec, splits)
    train_steps = spec.epochs * _steps(model, splits["train"], spec.batch_size)
    # Depth for the layer-wise decay comes from the encoder itself.
    depth_config = (config or ElectraConfig()).replace(num_layers=model.backbone.num_layers)
    model.compile(optimizer=create_finetuning_optimizer(
        depth_config, train_steps, learning_rate=spec.learning_rate,
        layer_decay=spec.layer_decay, warmup_fraction=spec.warmup_fraction,
    ))
    monitor = "val_sparse_categorical_accuracy" if spec.task == "classification" else "val_entity_f1"
    history = model.fit(
        _dataset(model, splits["train"], spec.batch_size, seed=spec.seed),
        validation_data=_dataset(model, splits["dev"], spec.batch_size),
        epochs=spec.epochs,
        callbacks=finetuning_callbacks(spec.early_stopping_patience, monitor=monitor, mode="max"),
        verbose=2,
    )
    metrics = {"spec": dataclasses.asdict(spec), "train_steps": train_steps,
               "history": {k: [float(v) for v in vs] for k, vs in history.history.items()}}
    for split in ("dev", "test"):
        if split in splits:
            results = model.evaluate(_dataset(model, splits[split], spec.batch_size),
                                     verbose=0, return_dict=True)
            metrics[split] = {_short(k): float(v) for k, v in results.items()}
    model_dir = pathlib.Path(spec.model_dir)
    model.save_to_preset(str(model_dir))
    (model_dir / METRICS_FILENAME).write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def _short(name):
    return {"sparse_categorical_accuracy": "accuracy"}.get(name, name)


def compare_initialisations(pretrained_dir, output_dir, **budget):
    """Pre-trained vs random init on both built-in Chinese tasks, with one budget.

    The random encoder has the pre-trained one's sizes and vocabulary, so the
    weights are the only difference. `budget` sets `FinetuneSpec` fields
    (epochs, max_train_examples, batch_size, ...). Returns table rows.
    """
    pretrained_dir, output_dir = pathlib.Path(pretrained_dir), pathlib.Path(output_dir)
    rows = []
    for dataset, task in BUILTIN_DATASETS.items():
        for start in ("pre-trained", "random"):
            spec = FinetuneSpec(
                task=task, dataset=dataset, model_dir=str(output_dir / f"{dataset}-{start}"),
                init_from=str(pretrained_dir) if start == "pre-trained" else None,
                config=str(pretrained_dir / CONFIG_FILENAME),
                vocab_file=str(pretrained_dir / tokenization.VOCAB_FILENAME),
                **budget,
            )
            test = run_finetuning(spec)["test"]
            score = test["accuracy"] if task == "classification" else test["entity_f1"]
            rows.append({"dataset": dataset, "start": start, "score": score,
                         "metric": "accuracy" if task == "classification" else "entity F1",
                         "train_examples": spec.max_train_examples, "epochs": spec.epochs})
    return rows


def results_table(rows):
    """The README's Markdown table: one line per dataset, pre-trained vs random."""
    lines = ["| test set | metric | pre-trained | random init |", "|---|---|---|---|"]
    for dataset in BUILTIN_DATASETS:
        scores = {r["start"]: r for r in rows if r["dataset"] == dataset}
        if scores:
            metric = next(iter(scores.values()))["metric"]
            lines.append(f"| {dataset} | {metric} | "
                         f"{scores['pre-trained']['score']:.3f} | {scores['random']['score']:.3f} |")
    return "\n".join(lines) + "\n"
