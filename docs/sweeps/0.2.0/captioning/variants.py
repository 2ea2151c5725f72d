import json, sys, time
import keras, numpy as np
from electra_tf import tokenization
from electra_tf.data.captioning import DIGIT_NAMES, digit_captions
from electra_tf.models.captioning.backbone import ImageCaptionBackbone
from electra_tf.models.captioning.captioner import ImageCaptioner
from electra_tf.models.captioning.preprocessor import ImageCaptionPreprocessor

language, train, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
variants = json.loads(sys.argv[4])
images, captions = digit_captions(train, 2, language, "train", 0)
if len(sys.argv) > 5 and sys.argv[5] == "jitter":
    rng = np.random.default_rng(0)
    slots = []
    for i in range(2):
        slot = images[:, :, 8 * i:8 * (i + 1)]
        padded = np.pad(slot, ((0, 0), (1, 1), (1, 1), (0, 0)))
        dy, dx = rng.integers(0, 3, (2, len(slot)))
        slots.append(np.stack([p[y:y + 8, x:x + 8] for p, y, x in zip(padded, dy, dx)]))
    images = np.concatenate(slots, axis=2)
test_images, test_captions = digit_captions(1000, 2, language, "test", 1)
for variant in variants:
    keras.utils.set_random_seed(0)
    tokenizer = tokenization.make_tokenizer(list(tokenization.SPECIAL_TOKENS) + DIGIT_NAMES[language])
    backbone = ImageCaptionBackbone(image_shape=images.shape[1:], vocabulary_size=tokenizer.vocabulary_size(),
                                    hidden_dim=128, num_decoder_layers=2, max_target_length=4, **variant)
    captioner = ImageCaptioner(backbone, ImageCaptionPreprocessor(tokenizer, decoder_sequence_length=4))
    captioner.compile(optimizer=keras.optimizers.Adam(1e-3), sampler="greedy")
    began = time.perf_counter()
    captioner.fit({"images": images, "captions": captions}, epochs=epochs, batch_size=32, verbose=0)
    seconds = time.perf_counter() - began
    outputs = list(captioner.generate(test_images, max_length=4))
    exact = float(np.mean([o == c for o, c in zip(outputs, test_captions)]))
    split = (lambda c: c.split()) if language == "en" else list
    digit = float(np.mean([a == b for o, c in zip(outputs, test_captions) for a, b in zip(split(o) + ["?"] * 2, split(c))]))
    print(json.dumps({**variant, "language": language, "train_images": train, "epochs": epochs, "data": sys.argv[5] if len(sys.argv) > 5 else "plain",
                      "exact_match": exact, "digit_accuracy": digit, "fit_seconds": seconds}), flush=True)
