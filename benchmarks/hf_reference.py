"""The Hugging Face PyTorch ELECTRA the benchmarks compare against.

`ElectraForMaskedLM` as the generator and `ElectraForPreTraining` as the
discriminator, sized and regularised by an electra_tf config, sharing one
embedding module (and so the generator's tied output matrix) as ELECTRA does.
Needs `torch` and `transformers`, which no install of this package brings.
"""


def hf_electra(config, vocabulary_size):
    """`(generator, discriminator)` for `config` (an `ElectraConfig`)."""
    import transformers

    common = dict(vocab_size=vocabulary_size, embedding_size=config.embedding_size,
                  num_hidden_layers=config.num_layers,
                  max_position_embeddings=config.max_position_embeddings,
                  hidden_dropout_prob=config.dropout, attention_probs_dropout_prob=config.dropout)
    generator = transformers.ElectraForMaskedLM(transformers.ElectraConfig(
        hidden_size=config.generator_hidden_size, num_attention_heads=config.generator_num_heads,
        intermediate_size=config.generator_intermediate_size, **common))
    discriminator = transformers.ElectraForPreTraining(transformers.ElectraConfig(
        hidden_size=config.hidden_size, num_attention_heads=config.num_heads,
        intermediate_size=config.intermediate_size, **common))
    discriminator.electra.embeddings = generator.electra.embeddings  # shared
    return generator, discriminator
