"""Validated configs: `ElectraConfig` (model sizes and pre-training recipe) and
`FinetuneConfig` (the fine-tuning recipe).

Presets are JSON files shipped in the package as `electra_tf/presets/` (the
repository's `configs/` links to it): the paper's `small`, `base` and `large`,
a `tiny` for tests and a Chinese `zh_small`; fine-tuning recipes in
`presets/finetune/`.

Example:
```python
from electra_tf import ElectraConfig
from electra_tf.config import FinetuneConfig

config = ElectraConfig.from_preset("tiny")
config = config.replace(train_steps=100, batch_size=8)
config.train_steps, config.hidden_size  # -> (100, 64)
config.generator_hidden_size  # width of the generator tower: 64 x 0.5  # -> 32
baseline = config.for_objective("mlm")  # BERT-style masked LM, 80/10/10 masking
baseline.mask_token_rate, baseline.random_token_rate  # -> (0.8, 0.1)
recipe = FinetuneConfig.from_preset("paper_small").replace(epochs=2)
recipe.layer_decay, recipe.epochs  # -> (0.8, 2)
```
"""

import dataclasses
import json
import math
import pathlib

from electra_tf.precision import AUTO, DTYPE_POLICIES, resolve_dtype_policy

PRESET_DIR = pathlib.Path(__file__).resolve().parent / "presets"

# "gelu": exact (erf), as Google's and Hugging Face's checkpoints; "gelu_approximate":
# the tanh form keras-hub's ElectraBackbone hard-codes (electra_tf.layers.activations).
ACTIVATIONS = ("gelu", "gelu_approximate")
# "electra": generator + discriminator, replaced-token detection (the paper's);
# "mlm": the encoder alone trained as a BERT-style masked LM (the baseline the
# paper compares against at equal compute).
OBJECTIVES = ("electra", "mlm")
# The masking `ElectraConfig.for_objective` gives each: ELECTRA's 85% [MASK] /
# 15% unchanged, and BERT's 80% [MASK] / 10% random / 10% unchanged. (The
# original code's own BERT baseline kept ELECTRA's 85/15; set those two rates
# to train that one.)
OBJECTIVE_MASKING = {
    "electra": {"mask_token_rate": 0.85, "random_token_rate": 0.0},
    "mlm": {"mask_token_rate": 0.8, "random_token_rate": 0.1},
}


class ConfigError(ValueError):
    """A configuration value or file is invalid; the message says how to fix it."""


def default_num_heads(hidden_size: int) -> int:
    """ELECTRA's attention heads for a width: one per 64 units, at least one
    (the original's rule for its generators; Small, Base and Large follow it too)."""
    return max(1, hidden_size // 64)


def feedforward_size(hidden_size: int) -> int:
    """ELECTRA's feed-forward width for a Transformer width: 4 x."""
    return 4 * hidden_size


class _JsonConfig:
    """Replace / dict / JSON file / preset conversions shared by the frozen config dataclasses.

    Subclasses set `PRESETS` (their preset folder) and `KIND` (named in errors).
    """

    PRESETS = PRESET_DIR
    KIND = "config"

    def replace(self, **changes):
        """A copy with `changes` applied (and validated); unknown keys raise."""
        return self.from_dict({**self.to_dict(), **changes})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict, source: str = "config"):
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: expected a JSON object, got {type(values).__name__}.")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"{source}: unknown key(s) {unknown}. Valid keys: {sorted(known)}."
            )
        try:
            return cls(**values)
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None

    def save(self, path) -> None:
        pathlib.Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path):
        path = pathlib.Path(path)
        if not path.is_file():
            raise ConfigError(f"{cls.KIND} file {path} does not exist.")
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{cls.KIND} file {path} is not valid JSON: {error}.") from None
        return cls.from_dict(values, source=str(path))

    @classmethod
    def from_preset(cls, name_or_path: str):
        """A preset name (see `preset_names`) or a JSON path."""
        candidate = cls.PRESETS / f"{name_or_path}.json"
        if candidate.is_file():
            return cls.load(candidate)
        path = pathlib.Path(name_or_path)
        if path.suffix == ".json" or path.exists():
            return cls.load(path)
        raise ConfigError(
            f"unknown {cls.KIND} {name_or_path!r}: give a JSON file or one of "
            f"{preset_names(cls.PRESETS)}."
        )


@dataclasses.dataclass(frozen=True)
class ElectraConfig(_JsonConfig):
    """Model sizes, masking, loss weighting and optimisation recipe.

    Defaults are ELECTRA-Small's, as in the original `configure_pretraining.py`.
    `vocab_size=None` means "take the size of the vocabulary the model is built
    with"; a number must then equal the vocabulary's size.
    """

    name: str = "small"
    # Discriminator (the encoder every fine-tuning head uses).
    vocab_size: int | None = None
    embedding_size: int = 128
    hidden_size: int = 256
    num_layers: int = 12
    num_heads: int = 4
    intermediate_size: int = 1024
    dropout: float = 0.1
    max_position_embeddings: int = 512
    # GELU of every Transformer layer and head: exact "gelu" (the original's and
    # Hugging Face's) or keras-hub's "gelu_approximate" (the default, so that
    # the discriminator is a plain keras-hub preset).
    activation: str = "gelu_approximate"
    # Block order of both towers: false keeps ELECTRA's post-LayerNorm blocks
    # (released checkpoints, keras-hub, Hugging Face); true gives pre-LayerNorm
    # blocks plus a final LayerNorm before the heads, which small-budget
    # pre-training ("cramming", Geiping & Goldstein 2022) uses because it
    # tolerates higher learning rates. A pre-LN model is saved in electra_tf's
    # ElectraBackbone class and cannot be written as keras-hub or Hugging Face.
    normalize_first: bool = False
    # Generator: same depth, width = fraction x discriminator hidden size,
    # heads = max(1, width / 64), FFN = 4 x width, as the original's generators.
    generator_hidden_fraction: float = 0.25
    # Data.
    sequence_length: int = 128
    lowercase: bool = True
    # Masking (dynamic, in the graph).
    mask_probability: float = 0.15
    mask_token_rate: float = 0.85
    random_token_rate: float = 0.0
    max_predictions_per_seq: int | None = None
    whole_word_masking: bool = False
    # Objective.
    objective: str = "electra"
    discriminator_loss_weight: float = 50.0
    sampling_temperature: float = 1.0
    # Optimisation.
    learning_rate: float = 5e-4
    warmup_steps: int = 10_000
    train_steps: int = 1_000_000
    # The global batch of one update; with gradient_accumulation_steps N, each
    # update averages the gradients of N micro-batches of batch_size / N, so a
    # small machine follows a recipe written for a large batch. Steps count updates.
    batch_size: int = 128
    gradient_accumulation_steps: int = 1
    weight_decay: float = 0.01
    adam_epsilon: float = 1e-6
    clip_norm: float = 1.0
    # Execution.
    jit_compile: bool = False
    # The Keras dtype policy of pre-training; "auto" becomes "mixed_bfloat16" on a
    # CPU with AVX512_BF16 or AMX and "float32" elsewhere (electra_tf.precision).
    dtype_policy: str = "float32"

    def __post_init__(self):
        self._validate()

    def for_objective(self, objective: str):
        """A copy trained by `objective` ("electra" or "mlm"), with its masking.

        Switching objective also switches `mask_token_rate` and
        `random_token_rate` to that objective's recipe (`OBJECTIVE_MASKING`):
        "mlm" gets BERT's 80/10/10. A config already of `objective` comes
        back unchanged, so a recipe that chose its own rates keeps them.
        """
        if objective == self.objective:
            return self
        return self.replace(objective=objective, **OBJECTIVE_MASKING.get(objective, {}))

    # ------------------------------------------------------------------ derived
    @property
    def generator_hidden_size(self) -> int:
        return max(1, int(round(self.hidden_size * self.generator_hidden_fraction)))

    @property
    def generator_num_heads(self) -> int:
        return default_num_heads(self.generator_hidden_size)

    @property
    def generator_intermediate_size(self) -> int:
        return feedforward_size(self.generator_hidden_size)

    @property
    def micro_batch_size(self) -> int:
        """Examples per forward pass: batch_size / gradient_accumulation_steps."""
        return self.batch_size // self.gradient_accumulation_steps

    @property
    def num_masked_predictions(self) -> int:
        """Cap on masked slots per sequence: int((p + 0.005) x length), as the original."""
        if self.max_predictions_per_seq is not None:
            return self.max_predictions_per_seq
        return max(1, int((self.mask_probability + 0.005) * self.sequence_length))

    # --------------------------------------------------------------- validation
    def _validate(self):
        """Checks each section of the config in the order the fields are declared; the first
        invalid value raises `ConfigError` saying how to fix it."""
        self._validate_network()
        self._validate_sequence()
        self._validate_masking()
        self._validate_objective()
        self._validate_optimisation()
        _resolve_dtype_policy(self)

    def _validate_network(self):
        """The discriminator's and the generator's sizes, dropout, activation and block order."""
        _check_positive_ints(self, ("embedding_size", "hidden_size", "num_layers", "num_heads",
                                    "intermediate_size", "max_position_embeddings"))
        if self.vocab_size is not None and (
            not isinstance(self.vocab_size, int) or self.vocab_size < 6
        ):
            raise ConfigError(
                f"vocab_size must be null (taken from the vocabulary) or an integer "
                f">= 6 (five special tokens and one word), got {self.vocab_size!r}."
            )
        if self.hidden_size % self.num_heads:
            raise ConfigError(
                f"hidden_size ({self.hidden_size}) must be divisible by num_heads "
                f"({self.num_heads}); choose e.g. num_heads={default_num_heads(self.hidden_size)}."
            )
        if self.generator_hidden_size % self.generator_num_heads:
            raise ConfigError(
                f"the generator's width {self.generator_hidden_size} (hidden_size x "
                f"generator_hidden_fraction) must be divisible by its head count "
                f"{self.generator_num_heads}; pick a fraction giving a multiple of 64."
            )
        _check_unit_interval(self, ("dropout",))
        if not 0.0 < self.generator_hidden_fraction <= 1.0:
            raise ConfigError(
                "generator_hidden_fraction must be in (0, 1], got "
                f"{self.generator_hidden_fraction!r} (the paper uses 0.25 or 1/3)."
            )
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"activation must be one of {ACTIVATIONS} (exact or tanh-approximated GELU), "
                f"got {self.activation!r}."
            )
        if not isinstance(self.normalize_first, bool):
            raise ConfigError(
                "normalize_first must be true (pre-LayerNorm blocks and a final LayerNorm) or "
                f"false (post-LayerNorm, ELECTRA's), got {self.normalize_first!r}.")

    def _validate_sequence(self):
        """The sequence length: room for a pair of segments, within the position embeddings."""
        _check_positive_ints(self, ("sequence_length",))
        if self.sequence_length > self.max_position_embeddings:
            raise ConfigError(
                f"sequence_length ({self.sequence_length}) exceeds max_position_embeddings "
                f"({self.max_position_embeddings}); raise max_position_embeddings or "
                "shorten the sequences."
            )
        if self.sequence_length < 8:
            raise ConfigError(
                f"sequence_length must be at least 8 ([CLS] A [SEP] B [SEP] needs room), "
                f"got {self.sequence_length}."
            )

    def _validate_masking(self):
        """How many tokens are chosen, and what the chosen ones become."""
        _check_unit_interval(self, ("mask_probability", "mask_token_rate", "random_token_rate"))
        if self.mask_probability == 0:
            raise ConfigError("mask_probability must be > 0: with no masks nothing is learned.")
        if self.mask_token_rate + self.random_token_rate > 1.0 + 1e-9:
            raise ConfigError(
                f"mask_token_rate + random_token_rate must be <= 1 (the rest stays "
                f"unchanged), got {self.mask_token_rate} + {self.random_token_rate}."
            )
        if self.mask_token_rate + self.random_token_rate == 0:
            raise ConfigError(
                "mask_token_rate and random_token_rate are both 0: every chosen token stays "
                "as it is, so the masked LM only learns to copy its input. Use 0.85 / 0 "
                "(ELECTRA's) or 0.8 / 0.1 (BERT's).")
        if self.max_predictions_per_seq is not None and not (
            0 < self.max_predictions_per_seq <= self.sequence_length
        ):
            raise ConfigError(
                "max_predictions_per_seq must be null or in [1, sequence_length], got "
                f"{self.max_predictions_per_seq!r}."
            )

    def _validate_objective(self):
        """The objective, the generator's sampling temperature and the discriminator's weight."""
        _check_positive_finite(self, ("sampling_temperature",))
        if self.discriminator_loss_weight < 0:
            raise ConfigError(
                f"discriminator_loss_weight must be >= 0, got {self.discriminator_loss_weight}."
            )
        if self.objective not in OBJECTIVES:
            raise ConfigError(
                f"objective must be one of {OBJECTIVES} (replaced-token detection, or a "
                f"BERT-style masked LM baseline), got {self.objective!r}."
            )

    def _validate_optimisation(self):
        """Steps, batch and its micro-batches, warmup, and AdamW's settings."""
        _check_positive_ints(self, ("train_steps", "batch_size", "gradient_accumulation_steps"))
        if self.batch_size % self.gradient_accumulation_steps:
            raise ConfigError(
                f"batch_size {self.batch_size} is not a multiple of gradient_accumulation_steps "
                f"{self.gradient_accumulation_steps}: every update averages that many "
                "micro-batches of equal size."
            )
        if self.warmup_steps < 0 or not isinstance(self.warmup_steps, int):
            raise ConfigError(f"warmup_steps must be an integer >= 0, got {self.warmup_steps!r}.")
        _check_unit_interval(self, ("weight_decay",))
        _check_positive_finite(self, ("learning_rate", "adam_epsilon", "clip_norm"))


def _check_positive_ints(config, fields):
    """Raises unless each of `fields` of `config` is an int > 0 (not a bool)."""
    for field in fields:
        value = getattr(config, field)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"{field} must be a positive integer, got {value!r}.")


def _check_positive_finite(config, fields):
    """Raises unless each of `fields` of `config` is a finite number > 0."""
    for field in fields:
        value = getattr(config, field)
        if not isinstance(value, (int, float)) or not value > 0 or math.isinf(value):
            raise ConfigError(f"{field} must be a positive finite number, got {value!r}.")


def _check_unit_interval(config, fields):
    """Raises unless each of `fields` of `config` is a number in [0, 1]."""
    for field in fields:
        value = getattr(config, field)
        if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ConfigError(f"{field} must be a number in [0, 1], got {value!r}.")


def _resolve_dtype_policy(config):
    """Checks `config.dtype_policy` (one of `DTYPE_POLICIES` or "auto") and replaces "auto"
    with the policy it picks on this CPU, so a saved config names what its run computed in."""
    name = config.dtype_policy
    if name not in (*DTYPE_POLICIES, AUTO):
        raise ConfigError(f"dtype_policy must be one of {(*DTYPE_POLICIES, AUTO)}, got {name!r} "
                          f'("{AUTO}": mixed_bfloat16 on a CPU with bfloat16 instructions, '
                          "else float32).")
    # The dataclass is frozen: this is its own constructor finishing the field.
    object.__setattr__(config, "dtype_policy", resolve_dtype_policy(name))


# What fixes the network's shape and numbers: a run continued from a checkpoint
# (`run_pretraining(init_from=...)`) keeps these; the other fields are its recipe.
ARCHITECTURE_FIELDS = (
    "vocab_size", "embedding_size", "hidden_size", "num_layers", "num_heads",
    "intermediate_size", "max_position_embeddings", "activation", "normalize_first",
    "generator_hidden_fraction", "lowercase", "objective",
)

HEADS = ("electra", "hf")


@dataclasses.dataclass(frozen=True)
class FinetuneConfig(_JsonConfig):
    """The fine-tuning recipe: optimiser, schedule, budget, head, multi-task mixing.

    Defaults are ELECTRA-Small's GLUE recipe (`configure_finetuning.py`): LR 3e-4,
    layer-wise decay 0.8, 10% warmup, 3 epochs of batch 32 at length 128, the
    original head (dropout + one dense layer on `[CLS]`). Weight decay and
    clipping come from the encoder's `ElectraConfig`. Presets are in
    `configs/finetune/`; `scripts/finetune.py --recipe` loads one and its flags
    override single values.

    Example:
    ```python
    from electra_tf.config import FinetuneConfig

    recipe = FinetuneConfig.from_preset("paper_small").replace(learning_rate=1e-4)
    recipe.save("my_recipe.json")
    FinetuneConfig.load("my_recipe.json").learning_rate  # -> 0.0001
    ```
    """

    name: str = "paper_small"
    learning_rate: float = 3e-4
    # Layer i (0-based) of L gets decay^(L + 1 - i) of the rate, embeddings
    # decay^(L + 2), heads the full rate; 1.0 turns it off.
    layer_decay: float = 0.8
    warmup_fraction: float = 0.1
    # Keras' Adam divides by 1 - beta^t; the original does not, so its early
    # updates are larger (x3.2 at step 1, x1.26 at step 1,000). The paper
    # recipes set false (the original's update).
    adam_bias_correction: bool = True
    epochs: int = 3
    batch_size: int = 32
    sequence_length: int = 128
    # Head dropout (and the encoder's, when it starts from random weights);
    # null keeps the encoder's rate.
    dropout: float | None = None
    head: str = "electra"
    # Stop after this many epochs without a better dev score and keep the best
    # weights; null trains every epoch.
    early_stopping_patience: int | None = None
    # Epochs trained before early stopping watches the dev score: a random
    # encoder's NER F1 stays 0 for its first epochs, which would otherwise stop it.
    early_stopping_start_epoch: int = 0
    # A random subset of the training set (null: all of it), for small budgets;
    # drawn with the run's seed.
    max_train_examples: int | None = None
    # Random subsets of dev and test (null: all), drawn with a fixed seed whatever
    # the run's seed, so every run of a comparison scores the same examples.
    max_dev_examples: int | None = None
    max_test_examples: int | None = None
    # Multi-task: static loss weight per task name (absent names weigh 1.0),
    # Kendall et al.'s learned weighting on top, and the sampling temperature
    # (1 proportional to task size, larger flatter).
    task_weights: dict = dataclasses.field(default_factory=dict)
    uncertainty_weighting: bool = False
    sampling_temperature: float = 1.0
    # The Keras dtype policy the model trains and predicts under: "mixed_bfloat16"
    # computes in bfloat16 with float32 variables (and float32 logits); whether it
    # is faster depends on the CPU (AVX512_BF16 or AMX): "auto" picks it where the
    # CPU has them and "float32" elsewhere (electra_tf.precision).
    dtype_policy: str = "float32"

    PRESETS = PRESET_DIR / "finetune"
    KIND = "fine-tuning recipe"

    def __post_init__(self):
        _check_positive_ints(self, ("epochs", "batch_size", "sequence_length"))
        for field in ("early_stopping_patience", "max_train_examples", "max_dev_examples",
                      "max_test_examples"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise ConfigError(f"{field} must be null or a positive integer, got {value!r}.")
        start = self.early_stopping_start_epoch
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            raise ConfigError(f"early_stopping_start_epoch must be an integer >= 0, got {start!r}.")
        if self.sequence_length < 3:
            raise ConfigError(
                f"sequence_length must be at least 3 ([CLS], a token, [SEP]), got "
                f"{self.sequence_length}."
            )
        _check_positive_finite(self, ("learning_rate", "sampling_temperature"))
        if not isinstance(self.layer_decay, (int, float)) or not 0.0 < self.layer_decay <= 1.0:
            raise ConfigError(
                f"layer_decay must be in (0, 1] (1 turns it off; the paper uses 0.8), "
                f"got {self.layer_decay!r}."
            )
        if not isinstance(self.warmup_fraction, (int, float)) or not 0.0 <= self.warmup_fraction < 1.0:
            raise ConfigError(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction!r}.")
        if self.dropout is not None and not (
            isinstance(self.dropout, (int, float)) and 0.0 <= self.dropout < 1.0
        ):
            raise ConfigError(f"dropout must be null or in [0, 1), got {self.dropout!r}.")
        if not isinstance(self.adam_bias_correction, bool):
            raise ConfigError(
                f"adam_bias_correction must be true or false, got {self.adam_bias_correction!r}.")
        if self.head not in HEADS:
            raise ConfigError(f"head must be one of {HEADS}, got {self.head!r}.")
        if not isinstance(self.task_weights, dict) or not all(
            isinstance(w, (int, float)) and w >= 0 for w in self.task_weights.values()
        ):
            raise ConfigError(
                "task_weights must map task names to weights >= 0, e.g. "
                f'{{"chinese_sentiment": 1.0, "peoples_daily_ner": 0.5}}, got {self.task_weights!r}.'
            )
        _resolve_dtype_policy(self)

    def task_weight(self, task: str) -> float:
        return float(self.task_weights.get(task, 1.0))


def preset_names(folder=PRESET_DIR) -> list[str]:
    """Preset names in `folder` (default: the `ElectraConfig` presets)."""
    return sorted(p.stem for p in pathlib.Path(folder).glob("*.json"))
