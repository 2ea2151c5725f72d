"""`digit_captions`: a small captioning dataset, digits side by side with captions naming them.

Images are composed from scikit-learn's bundled `load_digits` (8x8 digits)
with English or Chinese captions; `electra_tf.models.captioning` learns to
write them.

Example:
```python
from electra_tf.data.captioning import digit_captions

images, captions = digit_captions(num_examples=4, language="zh")
images.shape  # -> (4, 8, 16, 1)
captions  # -> ['五零', '九八', '零零', '六四']
```
"""

import numpy as np

DIGIT_NAMES = {
    "en": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
    "zh": list("零一二三四五六七八九"),
}


def digit_captions(num_examples=1000, digits_per_image=2, language="en", split="train",
                   seed=0, shift=0):
    """Images of `digits_per_image` digits side by side, and their captions.

    The `load_digits` images (1,797) are split in two halves so `split="test"`
    composes only digit images never seen in training. Pixels are scaled to
    [0, 1]; captions name the digits left to right ("three five" / "三五").
    `shift` moves each digit by up to that many pixels up or down and left or
    right within its 8x8 slot (zeros fill in): the training half holds only
    898 scans, which a captioner memorises; shifted copies make it learn the
    digits instead. The captions and the digits drawn do not depend on it.
    """
    from sklearn.datasets import load_digits  # pip install electra_tf[generation]

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    digits = load_digits()
    half = len(digits.images) // 2
    pool = slice(0, half) if split == "train" else slice(half, None)
    images, labels = digits.images[pool] / 16.0, digits.target[pool]
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(images), (num_examples, digits_per_image))
    slots = [images[picks[:, i]] for i in range(digits_per_image)]
    if shift:
        slots = [_shifted(slot, shift, rng) for slot in slots]
    composed = np.concatenate(slots, axis=2)
    separator = " " if language == "en" else ""
    names = DIGIT_NAMES[language]
    captions = [separator.join(names[d] for d in labels[row]) for row in picks]
    return composed[..., None].astype("float32"), captions


def _shifted(images, shift, rng):
    """Each of `images` `[n, 8, 8]` moved by a random offset in [-shift, shift]² (zeros fill
    in)."""
    size = images.shape[1]
    padded = np.pad(images, ((0, 0), (shift, shift), (shift, shift)))
    rows, columns = rng.integers(0, 2 * shift + 1, (2, len(images)))
    return np.stack([image[r:r + size, c:c + size]
                     for image, r, c in zip(padded, rows, columns)])
