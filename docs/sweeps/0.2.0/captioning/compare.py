"""Side by side: the captioner with and without patch positions, same data, seed, steps."""
import json, sys, time
import keras, numpy as np
from electra_tf import tokenization
from electra_tf.data.captioning import DIGIT_NAMES, digit_captions
from electra_tf.models.captioning.backbone import ImageCaptionBackbone
from electra_tf.models.captioning.captioner import ImageCaptioner
from electra_tf.models.captioning.preprocessor import ImageCaptionPreprocessor

language, train, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
images, captions = digit_captions(train, 2, language, "train", 0)
test_images, test_captions = digit_captions(1000, 2, language, "test", 1)
rows = []
for positions in [p == "1" for p in (sys.argv[4] if len(sys.argv) > 4 else "10")]:
    keras.utils.set_random_seed(0)
    tokenizer = tokenization.make_tokenizer(list(tokenization.SPECIAL_TOKENS) + DIGIT_NAMES[language])
    backbone = ImageCaptionBackbone(image_shape=images.shape[1:], vocabulary_size=tokenizer.vocabulary_size(),
                                    hidden_dim=128, num_decoder_layers=2, max_target_length=4,
                                    patch_positions=positions)
    captioner = ImageCaptioner(backbone, ImageCaptionPreprocessor(tokenizer, decoder_sequence_length=4))
    captioner.compile(optimizer=keras.optimizers.Adam(1e-3), sampler="greedy")
    began = time.perf_counter()
    captioner.fit({"images": images, "captions": captions}, epochs=epochs, batch_size=32, verbose=2)
    seconds = time.perf_counter() - began
    outputs = list(captioner.generate(test_images, max_length=4))
    exact = float(np.mean([o == c for o, c in zip(outputs, test_captions)]))
    rows.append({"patch_positions": positions, "language": language, "train_images": train,
                 "epochs": epochs, "exact_match": exact, "fit_seconds": seconds,
                 "samples": list(zip(test_captions[:5], outputs[:5]))})
    print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
