"""Decoder-free generation: iterative mask-predict with ELECTRA's two towers.

Fill every `[MASK]` slot with the generator's most likely token, then ask the
discriminator which filled tokens look replaced and mask those again; repeat.
After iteration t of T, the `n * (T - t) / T` filled slots with the highest
"replaced" logit are re-masked (Mask-Predict's linear schedule, Ghazvininejad
et al. 2019, with the discriminator instead of the generator's own
confidence choosing what to redo). The last iteration keeps every fill.

Example:
```python
from electra_tf import ElectraConfig, ElectraPretrainer, tokenization
from electra_tf.models.pretraining.mask_predict import fill_masks

tokenizer = tokenization.make_tokenizer(tokenization.build_vocabulary(["今天天气很好"], 40))
pretrainer = ElectraPretrainer(ElectraConfig.from_preset("tiny"), tokenizer.vocabulary_size(),
                               tokenization.special_token_ids(tokenizer))
# or a trained one: pretrainer = ElectraPretrainer.from_preset("runs/zh_small")
filled = fill_masks(pretrainer, tokenizer, ["今天[MASK][MASK]很好"], iterations=2)
filled[0][:2], filled[0][4:]  # two characters in between, '天气' once trained  # -> ('今天', '很好')
```
"""

import numpy as np

from electra_tf import tokenization


def mask_predict(pretrainer, token_ids, padding_mask, iterations=4):
    """Fills the `[MASK]` ids of `token_ids` (`[batch, length]` ints); returns new ids.

    Tokens that are not `[MASK]` are never changed. `iterations=1` is a
    single greedy fill by the generator.
    """
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}.")
    mask_id = pretrainer.special_token_ids[tokenization.MASK]
    ids = np.array(token_ids, dtype="int32")
    padding_mask = np.array(padding_mask, dtype="int32")
    slots = ids == mask_id
    num_slots = slots.sum(axis=1)
    batch, length = ids.shape
    inputs = {"segment_ids": np.zeros_like(ids), "padding_mask": padding_mask}
    all_positions = np.tile(np.arange(length, dtype="int32"), (batch, 1))
    # The generator may predict special tokens; a fill must be a word.
    word_only = np.zeros(pretrainer.vocabulary_size, "float32")
    word_only[list(pretrainer.special_token_ids.values())] = -1e9
    for step in range(1, iterations + 1):
        logits = pretrainer.generator({**inputs, "token_ids": ids,
                                       "mask_positions": all_positions}).numpy()
        ids = np.where(ids == mask_id, np.argmax(logits + word_only, axis=-1), ids)
        if step == iterations:
            break
        hidden = pretrainer.discriminator({**inputs, "token_ids": ids})["sequence_output"]
        replaced = pretrainer.rtd_head(hidden).numpy()
        replaced = np.where(slots, replaced, -np.inf)
        order = np.argsort(-replaced, axis=1)
        for row in range(batch):
            redo = int(num_slots[row] * (iterations - step) / iterations)
            ids[row, order[row, :redo]] = mask_id
    return ids


def fill_masks(pretrainer, tokenizer, texts, iterations=4):
    """`mask_predict` on strings with `[MASK]` written in them; returns strings."""
    mask_id = tokenizer.token_to_id(tokenization.MASK)
    rows = []
    for text in texts:
        parts = text.split(tokenization.MASK)
        row = [tokenizer.token_to_id(tokenization.CLS)]
        for index, part in enumerate(parts):
            row += list(tokenizer(part)) if part.strip() else []
            if index < len(parts) - 1:
                row.append(mask_id)
        rows.append(row + [tokenizer.token_to_id(tokenization.SEP)])
    length = max(len(r) for r in rows)
    ids = np.zeros((len(rows), length), "int32")
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    filled = mask_predict(pretrainer, ids, (ids != 0).astype("int32"), iterations)
    specials = set(pretrainer.special_token_ids.values())
    words = [[t for t in row.tolist() if t not in specials] for row in filled]
    return [tokenization.join_cjk(tokenizer.detokenize(w)).numpy().decode("utf-8") if w else "" for w in words]
