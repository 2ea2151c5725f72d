"""The document's Chinese text-generation example, runnable: continue a poem or a sentence.

Data: Tang and Song poems from Debian's fortunes-zh (first line → the rest),
or with `--corpus peoples_daily` People's Daily (sentence → next sentence).

    python examples/chinese_text_generation.py [--fortunes_dir DIR] [--tiny]
"""

import argparse

from keras.layers import Input
from keras.losses import SparseCategoricalCrossentropy
from keras.optimizers import Adam

from electra_tf import tokenization
from electra_tf.data import parallel
from electra_tf.models.seq2seq.document import ELECTRA_model, greedy_generate, make_training_arrays


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=("poems", "peoples_daily"), default="poems")
    parser.add_argument("--fortunes_dir", help="where tang300 and song100 are")
    parser.add_argument("--tiny", action="store_true", help="a tiny model on a tiny slice")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)

    if args.corpus == "poems":
        pairs = parallel.poem_pairs(args.fortunes_dir)
    else:
        pairs = parallel.peoples_daily_pairs()
    pairs = pairs[:64] if args.tiny else pairs
    texts = [text for pair in pairs for text in pair]
    tokenizer = tokenization.make_tokenizer(
        tokenization.build_vocabulary(texts, 600 if args.tiny else 6000)
    )
    hidden_size, num_layers, length = (32, 1, 24) if args.tiny else (256, 4, 64)
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
