"""The Hugging Face PyTorch ELECTRA the benchmarks compare against.

For pre-training, `ElectraForMaskedLM` as the generator and
`ElectraForPreTraining` as the discriminator, sharing one embedding module
(and so the generator's tied output matrix) as ELECTRA does; for fine-tuning,
`ElectraForSequenceClassification`. Each is sized and regularised by an
electra_tf config. Needs `torch` and `transformers`, which no install of this
package brings.
"""


def hf_config(config, vocabulary_size, hidden_size, num_heads, intermediate_size, **more):
    """A `transformers.ElectraConfig` of `config`'s depth, embeddings, positions and dropout,
    with a tower of the given width (`more`: further fields, e.g. `num_labels`)."""
    import transformers

    return transformers.ElectraConfig(
        vocab_size=vocabulary_size, embedding_size=config.embedding_size,
        num_hidden_layers=config.num_layers,
        max_position_embeddings=config.max_position_embeddings,
        hidden_dropout_prob=config.dropout, attention_probs_dropout_prob=config.dropout,
        hidden_size=hidden_size, num_attention_heads=num_heads,
        intermediate_size=intermediate_size, **more)


def hf_electra(config, vocabulary_size):
    """`(generator, discriminator)` for `config` (an `ElectraConfig`)."""
    import transformers

    generator = transformers.ElectraForMaskedLM(hf_config(
        config, vocabulary_size, config.generator_hidden_size, config.generator_num_heads,
        config.generator_intermediate_size))
    discriminator = transformers.ElectraForPreTraining(hf_config(
        config, vocabulary_size, config.hidden_size, config.num_heads, config.intermediate_size))
    discriminator.electra.embeddings = generator.electra.embeddings  # shared
    return generator, discriminator


def hf_classifier(config, vocabulary_size, num_labels):
    """`ElectraForSequenceClassification` of `config`'s encoder with `num_labels` classes.

    Its head is Hugging Face's (dense + GELU, then the logits, on `[CLS]`), one
    `hidden x hidden` product per sequence more than the original head: next to
    the encoder's products on every token, nothing.
    """
    import transformers

    return transformers.ElectraForSequenceClassification(hf_config(
        config, vocabulary_size, config.hidden_size, config.num_heads, config.intermediate_size,
        num_labels=num_labels))
