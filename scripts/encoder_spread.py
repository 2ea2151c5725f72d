"""How spread out an encoder's token vectors are: pre-trained vs random initialisation.

A discriminator that has learned only the prior of replaced-token detection
maps every token towards one direction; this prints, over a few Chinese
sentences, the mean pairwise cosine of the real tokens' output vectors and the
mean per-dimension standard deviation, and the per-dimension standard deviation
of the first ([CLS]) vector across the sentences (what the classifier head
sees), for each model directory and for random weights of the first one's
sizes and vocabulary.

  python scripts/encoder_spread.py runs/zh_mini_2500 runs/zh_small
"""

import sys

import keras
import numpy as np
import tensorflow as tf

from electra_tf import tokenization
from electra_tf.models import encoders
from electra_tf.models.classification.preprocessor import ElectraTextClassifierPreprocessor
from electra_tf.models.model_dir import pretraining_config, vocabulary_file

FORMAT = "cosine %.3f  std %.3f  [CLS] std across sentences %.3f"
TEXTS = ["这本书很好看，值得一读", "质量太差了，再也不买", "江泽民在北京会见克林顿", "物流很快，包装完好"]


def spread(backbone, tokenizer):
    """`(mean pairwise cosine, mean per-dimension std, [CLS] std across sentences)`."""
    x = ElectraTextClassifierPreprocessor(tokenizer, sequence_length=32)(tf.constant(TEXTS))
    sequence_output = backbone(x)["sequence_output"].numpy()
    vectors = sequence_output[x["padding_mask"].numpy().astype(bool)]
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosine = unit @ unit.T
    return (float(cosine[~np.eye(len(unit), dtype=bool)].mean()), float(vectors.std(0).mean()),
            float(sequence_output[:, 0].std(0).mean()))


def main(model_dirs):
    keras.utils.set_random_seed(0)
    for model_dir in model_dirs:
        print(model_dir, FORMAT % spread(*encoders.pretrained_encoder(model_dir)))
    config = pretraining_config(model_dirs[0])
    vocabulary = tokenization.load_vocabulary(vocabulary_file(model_dirs[0]))
    print("random init", FORMAT % spread(*encoders.random_encoder(config, vocabulary)))


if __name__ == "__main__":
    main(sys.argv[1:] or ["runs/zh_small"])
