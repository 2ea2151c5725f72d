"""Captions images of handwritten digits (scikit-learn's load_digits) in English or Chinese.

Images are 2 digits side by side; held-out images are composed from digit
scans never seen in training. Prints exact-match accuracy on them.

    python examples/captioning.py --language zh          # ~10 min on 2 busy cores: 0.91 exact match
    python examples/captioning.py --tiny                 # seconds: a smoke test
"""

import argparse
import time

import keras
import numpy as np

from electra_tf import tokenization
from electra_tf.data.captioning import DIGIT_NAMES, digit_captions
from electra_tf.models.captioning.backbone import ImageCaptionBackbone
from electra_tf.models.captioning.captioner import ImageCaptioner
from electra_tf.models.captioning.preprocessor import ImageCaptionPreprocessor


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", choices=("en", "zh"), default="en")
    parser.add_argument("--digits", type=int, default=2, help="digits per image")
    parser.add_argument("--tiny", action="store_true", help="a tiny model on a tiny slice")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--train_images", type=int, default=20000)
    parser.add_argument("--test_images", type=int, default=1000)
    parser.add_argument("--shift", type=int, default=1,
                        help="training digits move up to this many pixels in their slots")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def make_data(args):
    """(train images, train captions, test images, test captions) for `args`."""
    num_train, num_test = (256, 16) if args.tiny else (args.train_images, args.test_images)
    images, captions = digit_captions(num_train, args.digits, args.language, "train", args.seed,
                                      shift=args.shift)
    test_images, test_captions = digit_captions(num_test, args.digits, args.language, "test",
                                                args.seed + 1)
    return images, captions, test_images, test_captions


def run(args, callbacks=()):
    """Trains a captioner on `make_data(args)` (Keras `callbacks` passed to `fit`); returns
    (outputs, test captions, train seconds)."""
    keras.utils.set_random_seed(args.seed)
    images, captions, test_images, test_captions = make_data(args)
    tokenizer = tokenization.make_tokenizer(
        list(tokenization.SPECIAL_TOKENS) + DIGIT_NAMES[args.language]
    )
    length = args.digits + 2
    backbone = ImageCaptionBackbone(
        image_shape=images.shape[1:], vocabulary_size=tokenizer.vocabulary_size(),
        hidden_dim=32 if args.tiny else 128, num_decoder_layers=1 if args.tiny else 2,
        max_target_length=length,
    )
    captioner = ImageCaptioner(backbone, ImageCaptionPreprocessor(
        tokenizer, decoder_sequence_length=length))
    epochs, batch_size = (1 if args.tiny else args.epochs), 32
    # Decaying to zero at the last step: at a constant 1e-3 held-out exact match wandered
    # between 0.85 and 0.87 from epoch 5 to 15 (docs/sweeps/0.2.0/captioning).
    learning_rate = keras.optimizers.schedules.PolynomialDecay(
        1e-3, decay_steps=epochs * -(-len(images) // batch_size), end_learning_rate=0.0)
    captioner.compile(optimizer=keras.optimizers.Adam(learning_rate), sampler="greedy")
    began = time.perf_counter()
    captioner.fit({"images": images, "captions": captions}, epochs=epochs,
                  batch_size=batch_size, verbose=2, callbacks=list(callbacks))
    seconds = time.perf_counter() - began
    return list(captioner.generate(test_images, max_length=length)), test_captions, seconds


def main(argv=None):
    args = parse_args(argv)
    outputs, test_captions, _ = run(args)
    exact = float(np.mean([o == c for o, c in zip(outputs, test_captions)]))
    for output, caption in list(zip(outputs, test_captions))[:5]:
        print(f"{caption} → {output}")
    print(f"exact match on {len(test_captions)} held-out images: {exact:.3f}")
    return exact


if __name__ == "__main__":
    main()
