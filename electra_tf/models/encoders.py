"""Where a fine-tuned model's encoder comes from.

Every task head starts from an `ElectraBackbone` and its `ElectraTokenizer`,
taken from one of three places:

* an `electra_tf` pre-training model directory (`ElectraPretrainer.save_to_preset`
  makes its discriminator the preset's backbone),
* any keras-hub preset holding an `ElectraBackbone` and tokenizer (a local
  directory, or a name such as `"electra_small_discriminator_uncased_en"`),
* random initialisation from an `ElectraConfig` and a vocabulary (the
  baseline that shows what pre-training buys).

`ElectraEncoderTask` gives a task head the two starting points as
constructors, `from_model_dir` and `from_scratch`.

Example:
```python
from electra_tf import ElectraConfig, tokenization
from electra_tf.models import encoders

vocab = tokenization.build_vocabulary(["今天天气很好", "明天也很好"], 40)
backbone, tokenizer = encoders.random_encoder(ElectraConfig.from_preset("tiny"), vocab)
backbone.hidden_dim, tokenizer.vocabulary_size()  # 5 special tokens, 7 characters  # -> (64, 12)
```
"""

import pathlib

import keras_hub

from electra_tf import tokenization
from electra_tf.compat.multi_worker import MultiWorkerKerasSteps
from electra_tf.config import ElectraConfig
from electra_tf.models import model_dir
from electra_tf.models.backbone import ElectraBackbone
from electra_tf.models.task_presets import ElectraTaskPresets


def build_encoder(config: ElectraConfig, vocabulary_size: int, name="discriminator"):
    """The encoder `config` describes: keras-hub's `ElectraBackbone` with the config's GELU
    and block order.

    ELECTRA's discriminator, the masked-LM baseline's encoder and every
    fine-tuning head's randomly initialised encoder are this network.
    """
    return ElectraBackbone(
        vocab_size=vocabulary_size,
        num_layers=config.num_layers,
        num_heads=config.num_heads,
        hidden_dim=config.hidden_size,
        embedding_dim=config.embedding_size,
        intermediate_dim=config.intermediate_size,
        dropout=config.dropout,
        max_sequence_length=config.max_position_embeddings,
        activation=config.activation,
        normalize_first=config.normalize_first,
        dtype=config.dtype_policy,
        name=name,
    )


def default_sequence_length(init_from, backbone, fallback=128) -> int:
    """The pre-training length of an `electra_tf` model directory, else `fallback`
    capped at the number of positions `backbone` has."""
    if model_dir.is_pretraining_dir(init_from):
        return model_dir.pretraining_config(init_from).sequence_length
    return min(fallback, backbone.max_sequence_length)


def check_sequence_length(backbone, sequence_length):
    """Raises if examples of `sequence_length` tokens need more positions than `backbone` has.

    Without this check the first batch fails deep inside the position embedding.
    """
    positions = backbone.max_sequence_length
    if sequence_length is not None and sequence_length > positions:
        raise ValueError(
            f"sequence_length={sequence_length} exceeds the encoder's {positions} position "
            f"embeddings (max_position_embeddings in its config): use a sequence_length of at "
            f"most {positions}, or an encoder with more positions."
        )


def pretrained_encoder(init_from, dtype_policy=None):
    """`(backbone, tokenizer)` from a pre-training model dir or a keras-hub preset.

    `dtype_policy` (a Keras dtype policy name, e.g. `"mixed_bfloat16"`) is the
    policy the encoder computes under; `None` leaves it to keras-hub, which
    loads the weights under the global policy (float32 unless changed).
    """
    preset = model_dir.encoder_preset(init_from)
    with model_dir.reading(preset):
        backbone = ElectraBackbone.from_preset(preset, dtype=dtype_policy)
        tokenizer = keras_hub.models.ElectraTokenizer.from_preset(preset)
    return backbone, tokenizer


def random_encoder(config: ElectraConfig, vocabulary):
    """`(backbone, tokenizer)` freshly initialised with `config`'s sizes, dropout and
    dtype policy."""
    tokenizer = tokenization.make_tokenizer(vocabulary, lowercase=config.lowercase)
    return build_encoder(config, tokenizer.vocabulary_size()), tokenizer


def output_dtype_policy(backbone):
    """The dtype policy of a task's output layer on `backbone`: under a mixed policy the
    logits are computed in float32 (the variables' dtype), as Keras advises for
    mixed precision, so that losses and predictions are float32; otherwise the
    backbone's own policy."""
    policy = backbone.dtype_policy
    return policy.variable_dtype if policy.compute_dtype != policy.variable_dtype else policy


def saved_mixed_policy(preset):
    """The mixed dtype policy (`"mixed_bfloat16"`, `"mixed_float16"`) a local preset's
    backbone was saved under, else `None`.

    keras-hub's task loader resolves a saved plain dtype ("float32") but fails on
    a mixed policy's name ("Invalid dtype: mixed_bfloat16"); given explicitly, the
    policy loads. Any folder this cannot read is left for the loader to describe.
    """
    try:
        # The reader every check uses: a command reads config.json once (model_dir.read_once).
        config = model_dir.read_json(pathlib.Path(str(preset)) / "config.json")
        name = config["config"]["dtype"]["config"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return name if name in ("mixed_bfloat16", "mixed_float16") else None


class ElectraEncoderTask(MultiWorkerKerasSteps, ElectraTaskPresets):
    """Task mixin: `from_model_dir` and `from_scratch`, a new head on an encoder from above.

    Each builds the encoder and the task's `preprocessor_cls` around its
    tokenizer, then calls the task's constructor with them and `kwargs`
    (`label_names`, `tag_names`, `head`, ...). `from_preset` (a saved task)
    comes from `ElectraTaskPresets`; `fit` under a multi-worker strategy from
    `MultiWorkerKerasSteps`.
    """

    def _set_encoder(self, backbone, preprocessor):
        """`self.backbone` and `self.preprocessor`, checked to fit each other.

        The backbone's pooled (tanh) layer, which no released checkpoint
        trains and no head here reads, is frozen so that every trainable
        variable gets a gradient.
        """
        if preprocessor is not None:
            check_sequence_length(backbone, preprocessor.sequence_length)
        backbone.pooled_dense.trainable = False
        self.backbone = backbone
        self.preprocessor = preprocessor

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """A saved task model; one saved under a mixed dtype policy reloads under it
        (`dtype=` chooses another)."""
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = saved_mixed_policy(preset)
        return super().from_preset(preset, load_weights, **kwargs)

    @classmethod
    def from_model_dir(cls, init_from, sequence_length=None, dtype_policy=None, **kwargs):
        """Starts from pre-trained weights: an `electra_tf` model dir or a keras-hub preset.

        A pre-training directory contributes its discriminator; `sequence_length`
        defaults to its pre-training length (for other presets 128, or their
        number of positions if smaller). `dtype_policy` (e.g. `"mixed_bfloat16"`)
        is the Keras dtype policy the model computes under; `None` keeps
        keras-hub's (the global policy, float32 unless changed).
        """
        backbone, tokenizer = pretrained_encoder(init_from, dtype_policy)
        sequence_length = sequence_length or default_sequence_length(init_from, backbone)
        return cls(backbone, preprocessor=cls.preprocessor_cls(
            tokenizer, sequence_length=sequence_length), **kwargs)

    @classmethod
    def from_scratch(cls, config, vocabulary, sequence_length=None, **kwargs):
        """Random weights with `config`'s sizes: the baseline without pre-training. The
        model computes under `config.dtype_policy`."""
        backbone, tokenizer = random_encoder(config, vocabulary)
        return cls(backbone, preprocessor=cls.preprocessor_cls(
            tokenizer, sequence_length=sequence_length or config.sequence_length), **kwargs)
