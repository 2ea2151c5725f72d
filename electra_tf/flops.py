"""Analytic FLOPs of a pre-training or fine-tuning step, or of a classifier's forward pass,
counted the way the ELECTRA paper counts them.

The paper compares ELECTRA with BERT at equal compute (its Table 1 and
appendix); google-research/electra's `flops_computation.py` holds the count.
This module follows its conventions, applied to the layers this package
builds:

- A FLOP is one mathematical operation: a matrix multiply of an `m`-vector by
  an `m x n` matrix is `2mn`; an add, multiply or `exp` is one. Per element,
  LayerNorm costs 5, GELU 8 (its tanh form; the exact one is counted alike),
  a softmax 5, dropout 4 (only when the config's dropout is on: Keras skips
  a dropout of rate 0).
- Embedding lookups are counted as one-hot matrix multiplies (`2 x width x
  rows`), as the paper does, so the input embedding costs as much as the
  tied output layer.
- The backward pass is counted as costly as the forward pass, as the paper
  does (`TRAINING_PASSES = 2`); true of the matrix multiplies, which dominate.
  (Counting backward as twice the forward, as scaling-law papers do, gives
  1.5 x these numbers.)

What one step of `config.batch_size` sequences of `config.sequence_length`
tokens (padding included: it is computed) trains:

- `"electra"`: the generator (the shared embeddings looked up again, its own
  projection to its width, its layers), its `MaskedLMHead` on the
  `num_masked_predictions` slots of every sequence (padded slots included),
  the discriminator (embeddings, projection, layers) and the replaced-token
  head on every token.
- `"mlm"`: the full-width encoder trained as a BERT-style masked LM, with a
  `MaskedLMHead` tied to its word embeddings on the masked slots; no
  generator and no replaced-token head.

One fine-tuning step of a sentence classifier (`finetuning_flops_per_step`)
trains the encoder on every token and the classification head (dropout and
one dense layer, `ElectraClassifier`'s `head="electra"`) on each sequence's
first token. At inference (`inference_flops_per_step`) the classifier
runs forward only, without dropout (the identity there) and without a loss:
the encoder on every token, then the logits on each first token.

With `normalize_first` (pre-LayerNorm blocks) each layer does the same
operations in another order, and each tower adds a final LayerNorm on every
token.

Not counted (as in the paper): masking, Gumbel sampling, the loss
reductions, attention's padding mask, the encoder's unused pooled output,
the optimizer's update and the input pipeline. Compared with the original
script, this count has the per-layer LayerNorm cost per element
(the script counts 5 per token for the attention's, a slip), the output
layer's bias, the replaced-token logit's bias, and the MLM head on the
configured number of masked slots (the script takes 15.625% of the tokens).

Example:
```python
from electra_tf import ElectraConfig
from electra_tf.flops import pretraining_flops_per_step

config = ElectraConfig.from_preset("small")
parts = pretraining_flops_per_step(config, vocabulary_size=30522)
parts["total"] * config.train_steps  # as the paper's script counts ELECTRA-Small
# -> 1.29e+18
parts["encoder"] / parts["total"]  # the discriminator's share
# -> 0.73
```
"""

from electra_tf.config import ElectraConfig

# Per-element costs, as the paper's `flops_computation.py`.
LAYER_NORM_FLOPS = 5  # mean, variance (square and sum), scale, shift
ACTIVATION_FLOPS = 8  # GELU's tanh form
SOFTMAX_FLOPS = 5  # max and subtract (for stability), exp, sum, divide
DROPOUT_FLOPS = 4  # random draw, compare, mask, rescale
# Forward + a backward counted as costly as the forward, as the paper.
TRAINING_PASSES = 2
# Token types of keras-hub's ElectraBackbone (segments A and B).
NUM_SEGMENTS = 2


def layer_flops_per_token(hidden_size, intermediate_size, num_heads, sequence_length,
                          dropout=True):
    """Forward FLOPs of one Transformer encoder layer, per token.

    Attention reads all `sequence_length` positions, so its cost per token
    grows with the length.

    Example:
    ```python
    layer_flops_per_token(256, 1024, 4, 128)  # -> 1724672
    ```
    """
    h, i, s = hidden_size, intermediate_size, sequence_length
    dropout_flops = DROPOUT_FLOPS if dropout else 0
    # Dropout, residual add and LayerNorm close both sub-blocks.
    closing = (dropout_flops + 1 + LAYER_NORM_FLOPS) * h
    attention = (
        3 * (2 * h * h + h)  # query, key and value projections with their biases
        + 2 * h * s  # scores: the query against every key
        # softmax, dropout and the 1 / sqrt(head size) scale of every score of every head
        + (SOFTMAX_FLOPS + dropout_flops + 1) * s * num_heads
        + 2 * h * s  # the score-weighted sum of the values
        + 2 * h * h + h  # output projection and bias
        + closing
    )
    feedforward = (2 * h * i + i + ACTIVATION_FLOPS * i) + (2 * i * h + h) + closing
    return attention + feedforward


def embedding_flops_per_token(embedding_size, hidden_size, vocabulary_size, sequence_length,
                              dropout=True):
    """Forward FLOPs of the embedding block per token: word, position and segment lookups
    (as one-hot matrix multiplies), their sum, LayerNorm, dropout, and the projection to
    `hidden_size` when it differs from `embedding_size`.

    Example:
    ```python
    embedding_flops_per_token(128, 256, 30522, 128)  # -> 7914112
    ```
    """
    e = embedding_size
    flops = (
        2 * e * vocabulary_size
        + 2 * e * (sequence_length + NUM_SEGMENTS)
        + 2 * e  # adding the three
        + (LAYER_NORM_FLOPS + (DROPOUT_FLOPS if dropout else 0)) * e
    )
    if hidden_size != embedding_size:
        flops += 2 * e * hidden_size + hidden_size
    return flops


def masked_lm_head_flops_per_prediction(hidden_size, embedding_size, vocabulary_size):
    """Forward FLOPs of keras-hub's `MaskedLMHead` tied to the word embeddings, per masked
    slot: dense(`embedding_size`) + bias + GELU + LayerNorm, logits against the embedding
    table + bias, and the softmax cross-entropy (softmax, then the target's log-probability
    picked by a one-hot product, as the paper counts it).

    Example:
    ```python
    masked_lm_head_flops_per_prediction(64, 128, 30522)  # -> 8075984
    ```
    """
    e, v = embedding_size, vocabulary_size
    transform = 2 * hidden_size * e + e + ACTIVATION_FLOPS * e + LAYER_NORM_FLOPS * e
    return transform + (2 * e * v + v) + (SOFTMAX_FLOPS * v + 2 * v)


def rtd_head_flops_per_token(hidden_size):
    """Forward FLOPs of the replaced-token detection head per token: dense(hidden) + bias +
    GELU, then one logit + bias.

    Example:
    ```python
    rtd_head_flops_per_token(256)  # -> 133889
    ```
    """
    h = hidden_size
    return (2 * h * h + h + ACTIVATION_FLOPS * h) + (2 * h + 1)


def pretraining_flops_per_step(config: ElectraConfig, vocabulary_size=None) -> dict:
    """Training FLOPs (forward + backward) of one pre-training step of `config`, by part.

    `vocabulary_size` defaults to `config.vocab_size`. Returns integers:
    `generator` (its embeddings, projection and layers; 0 for `"mlm"`),
    `encoder` (the full-width encoder: the discriminator under `"electra"`),
    `mlm_head` (the generator's under `"electra"`, the encoder's under
    `"mlm"`), `rtd_head` (0 for `"mlm"`) and `total`, their sum. Forward alone
    is `total / TRAINING_PASSES`. What is and is not counted: the module
    docstring.

    Example:
    ```python
    from electra_tf import ElectraConfig

    config = ElectraConfig.from_preset("tiny")
    parts = pretraining_flops_per_step(config, vocabulary_size=300)
    parts["total"] == sum(v for k, v in parts.items() if k != "total")  # -> True
    ```
    """
    vocabulary_size = _vocabulary_size(config, vocabulary_size)
    tokens = config.batch_size * config.sequence_length
    predictions = config.batch_size * config.num_masked_predictions

    encoder = _tower_forward_flops(config, vocabulary_size, config.hidden_size,
                                   config.intermediate_size, config.num_heads)
    if config.objective == "mlm":
        forward = {
            "generator": 0,
            "encoder": encoder,
            "mlm_head": predictions * masked_lm_head_flops_per_prediction(
                config.hidden_size, config.embedding_size, vocabulary_size),
            "rtd_head": 0,
        }
    else:
        forward = {
            "generator": _tower_forward_flops(
                config, vocabulary_size, config.generator_hidden_size,
                config.generator_intermediate_size, config.generator_num_heads),
            "encoder": encoder,
            "mlm_head": predictions * masked_lm_head_flops_per_prediction(
                config.generator_hidden_size, config.embedding_size, vocabulary_size),
            "rtd_head": tokens * rtd_head_flops_per_token(config.hidden_size),
        }
    parts = {name: TRAINING_PASSES * flops for name, flops in forward.items()}
    parts["total"] = sum(parts.values())
    return parts


def classification_head_flops_per_example(hidden_size, num_labels, dropout=True):
    """Forward FLOPs of `ElectraClassifier`'s original head (`head="electra"`) per sequence:
    dropout on the first token's vector, the logits (dense + bias), and the softmax
    cross-entropy counted as the masked-LM head's is (softmax, then the target's
    log-probability picked by a one-hot product).

    Example:
    ```python
    classification_head_flops_per_example(256, 2)  # -> 2064
    ```
    """
    n = num_labels
    return (DROPOUT_FLOPS * hidden_size if dropout else 0) + (2 * hidden_size * n + n) + (
        SOFTMAX_FLOPS * n + 2 * n)


def finetuning_flops_per_step(config: ElectraConfig, num_labels, vocabulary_size=None) -> dict:
    """Training FLOPs (forward + backward) of one fine-tuning step of a sentence classifier
    of `config`'s encoder with `num_labels` classes, by part.

    The step is `config.batch_size` sequences of `config.sequence_length`
    tokens; the head's dropout rate is the encoder's (`config.dropout`), as
    `ElectraClassifier` sets it by default. Returns integers: `encoder` (its
    embeddings, projection and layers on every token), `classifier_head`, and
    `total`, their sum. `vocabulary_size` defaults to `config.vocab_size`.

    Example:
    ```python
    from electra_tf import ElectraConfig

    config = ElectraConfig.from_preset("small").replace(batch_size=32)
    parts = finetuning_flops_per_step(config, num_labels=2, vocabulary_size=30522)
    parts["total"]  # -> 2.34e+11
    parts["classifier_head"]  # one row per sequence: next to nothing  # -> 132096
    # The encoder costs what the discriminator's does in pre-training.
    parts["encoder"] == pretraining_flops_per_step(config, 30522)["encoder"]  # -> True
    ```
    """
    vocabulary_size = _vocabulary_size(config, vocabulary_size)
    forward = {
        "encoder": _tower_forward_flops(config, vocabulary_size, config.hidden_size,
                                        config.intermediate_size, config.num_heads),
        "classifier_head": config.batch_size * classification_head_flops_per_example(
            config.hidden_size, num_labels, config.dropout > 0),
    }
    parts = {name: TRAINING_PASSES * flops for name, flops in forward.items()}
    parts["total"] = sum(parts.values())
    return parts


def inference_flops_per_step(config: ElectraConfig, num_labels, vocabulary_size=None) -> dict:
    """Forward FLOPs of a sentence classifier of `config`'s encoder with `num_labels` classes
    on one batch of `config.batch_size` sequences at inference, by part.

    The forward pass `finetuning_flops_per_step` counts, without dropout (the
    identity at inference) and without the loss. Returns integers: `encoder`
    (its embeddings, projection and layers on every token), `classifier_head`
    (the logits, dense + bias, on each sequence's first token), and `total`,
    their sum. `vocabulary_size` defaults to `config.vocab_size`.

    Example:
    ```python
    from electra_tf import ElectraConfig

    config = ElectraConfig.from_preset("small").replace(batch_size=32)
    parts = inference_flops_per_step(config, num_labels=2, vocabulary_size=30522)
    parts["total"]  # -> 1.17e+11
    parts["classifier_head"]  # 32 x (2 x 256 x 2 + 2)  # -> 32832
    ```
    """
    vocabulary_size = _vocabulary_size(config, vocabulary_size)
    h, n = config.hidden_size, num_labels
    parts = {
        "encoder": _tower_forward_flops(config.replace(dropout=0.0), vocabulary_size, h,
                                        config.intermediate_size, config.num_heads),
        "classifier_head": config.batch_size * (2 * h * n + n),
    }
    parts["total"] = sum(parts.values())
    return parts


def _tower_forward_flops(config, vocabulary_size, hidden_size, intermediate_size, num_heads):
    """Forward FLOPs of one Transformer tower of `config`'s depth and the given width on a
    step's `batch_size x sequence_length` tokens: embeddings, projection, layers, and the
    final LayerNorm of pre-LayerNorm blocks."""
    dropout = config.dropout > 0
    per_token = embedding_flops_per_token(
        config.embedding_size, hidden_size, vocabulary_size, config.sequence_length, dropout
    ) + config.num_layers * layer_flops_per_token(
        hidden_size, intermediate_size, num_heads, config.sequence_length, dropout
    )
    if config.normalize_first:
        per_token += LAYER_NORM_FLOPS * hidden_size  # the final LayerNorm
    return config.batch_size * config.sequence_length * per_token


def _vocabulary_size(config, vocabulary_size):
    if vocabulary_size is None:
        if config.vocab_size is None:
            raise ValueError(
                "the FLOPs depend on the vocabulary size, which the config leaves open "
                "(vocab_size null): pass vocabulary_size= (e.g. tokenizer.vocabulary_size()).")
        return config.vocab_size
    if config.vocab_size is not None and config.vocab_size != vocabulary_size:
        raise ValueError(
            f"the config says vocab_size={config.vocab_size} but vocabulary_size is "
            f"{vocabulary_size}; pass the size of the vocabulary the model is built with.")
    return int(vocabulary_size)
