"""The document's text-generation example, runnable: continue an English sentence.

Data: the English messages of the gettext catalogs on this machine; the model
learns to write the second half of a message from its first half.

    python examples/text_generation.py            # a few minutes on 2 CPU cores
    python examples/text_generation.py --tiny     # seconds: a smoke test
"""

import argparse
import random

from keras.layers import Input
from keras.losses import SparseCategoricalCrossentropy
from keras.optimizers import Adam

from electra_tf import tokenization
from electra_tf.data import parallel
from electra_tf.models.seq2seq.document import ELECTRA_model, greedy_generate, make_training_arrays


def halves(text):
    words = text.split()
    return " ".join(words[: len(words) // 2]), " ".join(words[len(words) // 2:])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a tiny model on a tiny slice")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)

    sources = [s for s, _ in parallel.gettext_pairs()["train"] if len(s.split()) >= 4]
    random.Random(0).shuffle(sources)
    sources = sources[:64] if args.tiny else sources[:20000]
    pairs = [halves(s) for s in sources]
    tokenizer = tokenization.make_tokenizer(
        tokenization.build_vocabulary(sources, 300 if args.tiny else 8000)
    )
    hidden_size, num_layers, length = (32, 1, 16) if args.tiny else (256, 4, 32)
    epochs = 1 if args.tiny else args.epochs

    input_ids = Input(shape=(length,), dtype="int32", name="input_ids")
    input_mask = Input(shape=(length,), dtype="int32", name="input_mask")
    model = ELECTRA_model(input_ids, input_mask, hidden_size=hidden_size, num_layers=num_layers,
                          dropout_rate=0.1, vocab_size=tokenizer.vocabulary_size())
    x_train, y_train = make_training_arrays(
        model, [p[0] for p in pairs], [p[1] for p in pairs], tokenizer
    )
    model.compile(optimizer=Adam(1e-4), loss=SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_train, y_train, epochs=epochs, batch_size=32)

    prompts = [p[0] for p in pairs[:5]]
    outputs = greedy_generate(model, prompts, tokenizer)
    for prompt, output in zip(prompts, outputs):
        print(f"{prompt} → {output}")
    return outputs


if __name__ == "__main__":
    main()
