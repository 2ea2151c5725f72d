"""The document's translation example, runnable: English → Chinese with separate vocabularies.

Data: the gettext catalogs on this machine (`/usr/share/locale/zh_CN`),
split by catalog; the examples translated at the end are short UI messages
of unseen programs (the test split holds no place or language names:
`parallel.gettext_pairs` keeps the iso-codes catalogs apart).

    python examples/translation.py [--tiny]
"""

import argparse

from keras.losses import SparseCategoricalCrossentropy
from keras.optimizers import Adam

from electra_tf import tokenization
from electra_tf.data import parallel
from electra_tf.models.seq2seq.document import ELECTRA_model, greedy_generate, make_training_arrays


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a tiny model on a tiny slice")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)

    splits = parallel.gettext_pairs()
    train = splits["train"][:64] if args.tiny else splits["train"]
    source_tokenizer = tokenization.make_tokenizer(
        tokenization.build_vocabulary([s for s, _ in train], 300 if args.tiny else 8000)
    )
    target_tokenizer = tokenization.make_tokenizer(
        tokenization.build_vocabulary([t for _, t in train], 300 if args.tiny else 6000)
    )
    hidden_size, num_layers, length = (32, 1, 16) if args.tiny else (256, 4, 48)
    epochs = 1 if args.tiny else args.epochs

    model = ELECTRA_model(
        source_input_ids=True, target_input_ids=True, hidden_size=hidden_size,
        num_layers=num_layers, dropout_rate=0.1,
        source_vocab_size=source_tokenizer.vocabulary_size(),
        target_vocab_size=target_tokenizer.vocabulary_size(), sequence_length=length,
    )
    x_train, y_train = make_training_arrays(
        model, [s for s, _ in train], [t for _, t in train], source_tokenizer, target_tokenizer
    )
    model.compile(optimizer=Adam(1e-4), loss=SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_train, y_train, epochs=epochs, batch_size=32)

    tests = parallel.showcase_pairs(splits["test"], count=5)
    outputs = greedy_generate(model, [s for s, _ in tests], source_tokenizer, target_tokenizer)
    for (source, reference), output in zip(tests, outputs):
        print(f"{source} → {output}   (reference: {reference})")
    return outputs


if __name__ == "__main__":
    main()
