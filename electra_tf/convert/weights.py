"""One table between Hugging Face ELECTRA tensor names and this package's variables.

Each `Entry` names a Hugging Face tensor, the Keras variable that holds it here
and how the layouts differ, and serves both directions: `load` (Hugging Face
→ Keras) and `dump` (Keras → Hugging Face). Original TF1 checkpoints are first
renamed to Hugging Face's names (`electra_tf.convert.tf1`), so they share it.

Layouts: PyTorch's `Linear.weight` is `[out, in]`; Keras' `Dense` kernel is
`[in, out]`, and keras-hub's attention projections are `EinsumDense` kernels
`[hidden, heads, head_dim]` (query, key, value) and `[heads, head_dim, hidden]`
(output), with biases `[heads, head_dim]`.

`load` checks every name and shape before it assigns anything, so a model is
never half-loaded: a missing, unexpected or misshapen tensor raises
`ConversionError` listing all of them.
"""

import dataclasses

import numpy as np

from electra_tf import compat

# Tensors that carry no weights: a buffer older Hugging Face checkpoints saved.
IGNORED_SUFFIXES = ("position_ids",)


class ConversionError(ValueError):
    """Weights and model do not fit; the message lists every offending name and shape."""


def refuse_pre_layer_norm(normalize_first, target, alternative):
    """Raises for a pre-LayerNorm model (`normalize_first`): `target`'s ELECTRA is
    post-LayerNorm only, so nothing written there would compute what the model does."""
    if normalize_first:
        raise ConversionError(
            "this model has pre-LayerNorm blocks and a final LayerNorm (normalize_first=True); "
            f"{target} is post-LayerNorm only, so no such file computes what it does. "
            f"{alternative}")


@dataclasses.dataclass(frozen=True)
class Entry:
    name: str  # Hugging Face tensor name
    variable: object  # the Keras variable
    # "copy": same layout (embeddings, LayerNorm, biases; reshaped to the
    # variable's shape); "linear": PyTorch `[out, in]` ↔ Keras kernel whose
    # first `in_axes` axes are the input.
    kind: str = "copy"
    in_axes: int = 1

    def to_keras(self, tensor):
        tensor = np.asarray(tensor, dtype="float32")
        if self.kind == "linear":
            tensor = tensor.T
        return tensor.reshape(self.variable.shape)

    def to_hugging_face(self):
        value = np.asarray(self.variable.numpy(), dtype="float32")
        if self.kind == "linear":
            rows = int(np.prod(value.shape[: self.in_axes]))
            return np.ascontiguousarray(value.reshape(rows, -1).T)
        if value.ndim > 1 and not self.name.endswith("embeddings.weight"):
            return value.reshape(-1)  # attention biases [heads, head_dim]
        return value

    def expected_shape(self):
        return self.to_hugging_face().shape


def dense(name, layer, in_axes=1):
    """A `Dense` / `EinsumDense` layer ↔ a PyTorch `Linear` called `name`."""
    return [Entry(f"{name}.weight", layer.kernel, "linear", in_axes),
            Entry(f"{name}.bias", layer.bias)]


def layer_norm(name, layer):
    return [Entry(f"{name}.weight", layer.gamma), Entry(f"{name}.bias", layer.beta)]


def embedding_entries(backbone, prefix="electra."):
    """The embedding block: tables, LayerNorm; shared by both towers in pre-training."""
    e = f"{prefix}embeddings."
    return [
        Entry(f"{e}word_embeddings.weight", backbone.token_embedding.embeddings),
        Entry(f"{e}position_embeddings.weight", backbone.position_embedding.position_embeddings),
        Entry(f"{e}token_type_embeddings.weight", backbone.segment_embedding.embeddings),
        *layer_norm(f"{e}LayerNorm", backbone.embeddings_layer_norm),
    ]


def tower_entries(projection, transformer_layers, prefix="electra."):
    """The projection to the tower's width (when it has one) and its Transformer layers."""
    entries = dense(f"{prefix}embeddings_project", projection) if projection is not None else []
    for i, layer in enumerate(transformer_layers):
        parts, p = compat.transformer_encoder_parts(layer), f"{prefix}encoder.layer.{i}."
        attention = parts.self_attention
        entries += [
            *dense(f"{p}attention.self.query", attention.query_dense),
            *dense(f"{p}attention.self.key", attention.key_dense),
            *dense(f"{p}attention.self.value", attention.value_dense),
            *dense(f"{p}attention.output.dense", attention.output_dense, in_axes=2),
            *layer_norm(f"{p}attention.output.LayerNorm", parts.self_attention_layer_norm),
            *dense(f"{p}intermediate.dense", parts.intermediate_dense),
            *dense(f"{p}output.dense", parts.output_dense),
            *layer_norm(f"{p}output.LayerNorm", parts.output_layer_norm),
        ]
    return entries


def backbone_entries(backbone, prefix="electra."):
    """An `ElectraBackbone` ↔ Hugging Face's `ElectraModel` (its unused tanh pooler is not one)."""
    projection = getattr(backbone, "embeddings_projection", None)
    return embedding_entries(backbone, prefix) + tower_entries(
        projection, backbone.transformer_layers, prefix)


def generator_entries(generator):
    """An `ElectraGenerator`'s own variables ↔ `ElectraForMaskedLM` (minus the shared embeddings)."""
    return (tower_entries(generator.embeddings_projection, generator.transformer_layers)
            + mlm_head_entries(generator.mlm_head))


def mlm_head_entries(head):
    """keras-hub's `MaskedLMHead` (tied to the word embeddings) ↔ the generator's head."""
    parts = compat.masked_lm_head_parts(head)
    return [
        *dense("generator_predictions.dense", parts.intermediate_dense),
        *layer_norm("generator_predictions.LayerNorm", parts.intermediate_layer_norm),
        Entry("generator_lm_head.bias", parts.bias),
    ]


def rtd_head_entries(head):
    return [*dense("discriminator_predictions.dense", head.dense),
            *dense("discriminator_predictions.dense_prediction", head.logit)]


def load(entries, tensors, source, ignore=()):
    """Assigns `tensors` (name → array) to `entries`' variables, all or nothing.

    `ignore` names tensors that are checked elsewhere (tied copies).
    """
    missing, misshapen, values = [], [], []
    for entry in entries:
        if entry.name not in tensors:
            missing.append(f"{entry.name} {tuple(entry.expected_shape())}")
            continue
        tensor = np.asarray(tensors[entry.name])
        if tensor.shape != entry.expected_shape():
            misshapen.append(f"{entry.name}: {source} has {tensor.shape}, the model needs "
                             f"{tuple(entry.expected_shape())}")
            continue
        values.append(entry.to_keras(tensor))
    used = {entry.name for entry in entries} | set(ignore)
    extra = sorted(name for name in tensors
                   if name not in used and not name.endswith(IGNORED_SUFFIXES))
    if missing or misshapen or extra:
        problems = [("missing from the checkpoint", missing), ("of another shape", misshapen),
                    ("not used by the model (unknown tensors)", extra)]
        lines = [f"  {what}: " + "; ".join(names) for what, names in problems if names]
        raise ConversionError(
            f"{source} does not fit the model; nothing was loaded.\n" + "\n".join(lines)
            + "\nCheck that the config matches the weights (sizes, layers, vocabulary) and "
            "that the architecture is the one converted.")
    for entry, value in zip(entries, values):
        entry.variable.assign(value)


def dump(entries):
    """`{Hugging Face name: float32 array}` of `entries`."""
    return {entry.name: entry.to_hugging_face() for entry in entries}
