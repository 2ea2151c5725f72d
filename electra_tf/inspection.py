"""What ELECTRA sees: a batch's masks, the generator's samples and the discriminator's guesses.

`replaced_token_view` runs an `ElectraPretrainer` on raw sentences and returns,
token by token, the original text, which positions were masked, the text the
discriminator read (the generator's samples at the masked positions) and the
discriminator's probability that each token was replaced. `to_html` renders
that as coloured text for a notebook, `to_markdown` as text for TensorBoard.

Example:
```python
from electra_tf import ElectraConfig, ElectraPretrainer, inspection, tokenization

vocabulary = tokenization.build_vocabulary(["今天天气很好", "明天也很好"], 30)
tokenizer = tokenization.make_tokenizer(vocabulary)
pretrainer = ElectraPretrainer(ElectraConfig.from_preset("tiny"), len(vocabulary),
                               tokenization.special_token_ids(tokenizer), seed=0)
view = inspection.replaced_token_view(pretrainer, tokenizer, ["今天天气很好"])
view[0].tokens
# -> ['[CLS]', '今', '天', '天', '气', '很', '好', '[SEP]']
view[0].masked  # max(1, round(0.15 x 6)) = 1 position masked for the generator
# -> [False, False, False, True, False, False, False, False]
view[0].read  # what the discriminator read: here the generator sampled the original back
# -> ['[CLS]', '今', '天', '天', '气', '很', '好', '[SEP]']
[round(p, 2) for p in view[0].replaced_probability]  # untrained: no opinion yet
# -> [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
html = inspection.to_html(view)  # IPython.display.HTML(html) in a notebook
html.count("<tr>")  # original, what the discriminator read, P(replaced)  # -> 3
```
"""

import contextlib
import dataclasses
import html

import tensorflow as tf

from electra_tf import compat, tokenization
from electra_tf.layers.seed_stream import SeedStream
from electra_tf.models.pretraining.electra_pretrainer import ElectraPretrainer


@dataclasses.dataclass
class TokenView:
    """One sentence as the pre-trainer saw it; lists run over its real tokens."""

    tokens: list  # the original tokens, [CLS] and [SEP] included
    masked: list  # whether the position was masked for the generator
    read: list  # the tokens the discriminator read (samples where masked)
    replaced: list  # whether the read token differs from the original
    replaced_probability: list  # the discriminator's P(replaced)


def replaced_token_view(pretrainer, tokenizer, sentences, sequence_length=None):
    """Runs `pretrainer` on `sentences` and returns a `TokenView` for each.

    The pre-trainer masks and samples with its own random streams; their
    positions are put back afterwards, so looking at a model in the middle of
    training does not change the masks training draws next.
    """
    if not isinstance(pretrainer, ElectraPretrainer):
        raise TypeError(
            f"replaced_token_view shows what an ElectraPretrainer's discriminator read; a "
            f"{type(pretrainer).__name__} has no discriminator.")
    if isinstance(sentences, str) or not len(sentences):
        raise ValueError("sentences must be a non-empty list of strings.")
    sequence_length = sequence_length or pretrainer.electra_config.sequence_length
    packer = tokenization.segment_packer(tokenizer, sequence_length)
    token_ids, segment_ids = packer(tokenizer(tf.constant(list(sentences))))
    padding_mask = tf.cast(token_ids != tokenizer.pad_token_id, tf.int32)
    with _streams_put_back(pretrainer):
        outputs = pretrainer(
            {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask},
            training=False,
        )
    lengths = padding_mask.numpy().sum(axis=1)
    original = token_ids.numpy()
    read = outputs["corrupted_ids"].numpy()
    masked = outputs["masked_token_ids"].numpy() == tokenizer.token_to_id(tokenization.MASK)
    probability = tf.sigmoid(outputs["rtd_logits"]).numpy()
    return [
        TokenView(
            tokens=[tokenizer.id_to_token(int(i)) for i in original[row, :n]],
            masked=[bool(m) for m in masked[row, :n]],
            read=[tokenizer.id_to_token(int(i)) for i in read[row, :n]],
            replaced=[bool(r) for r in (read[row, :n] != original[row, :n])],
            replaced_probability=[float(p) for p in probability[row, :n]],
        )
        for row, n in enumerate(lengths)
    ]


def to_html(views):
    """An HTML table per sentence: original (masked tokens underlined), what the
    discriminator read (green: the generator restored the original, red: it
    replaced it) and the discriminator's P(replaced) as a blue background."""
    return "".join(_sentence_html(view) for view in views)


def _sentence_html(view):
    def cell(text, style=""):
        return f'<td style="padding:2px 4px;{style}">{html.escape(text)}</td>'

    original = [cell(t, "text-decoration:underline" if m else "")
                for t, m in zip(view.tokens, view.masked)]
    read = [
        cell(t, ("color:#c00;font-weight:bold" if r else "color:#080") if m else "")
        for t, m, r in zip(view.read, view.masked, view.replaced)
    ]
    guessed = [cell(f"{p:.2f}", f"background:rgba(30,90,200,{p:.2f})")
               for p in view.replaced_probability]
    rows = (("original", original), ("discriminator reads", read), ("P(replaced)", guessed))
    body = "".join(f"<tr><th style='text-align:left'>{name}</th>{''.join(cells)}</tr>"
                   for name, cells in rows)
    return f'<table style="margin-bottom:1em;font-family:monospace">{body}</table>'


def to_markdown(views):
    """Markdown for TensorBoard's text dashboard, one paragraph per sentence.

    The discriminator's input token by token: a replaced token is bold with
    the original struck through after it (`**样**~~天~~`); a `?` follows every
    token the discriminator calls replaced (P > 0.5), so a line shows hits,
    misses and false alarms at a glance.
    """
    return "\n\n".join(_sentence_markdown(view) for view in views)


def _sentence_markdown(view):
    tokens = []
    for original, read, replaced, probability in zip(
            view.tokens, view.read, view.replaced, view.replaced_probability):
        token = f"**{_escape(read)}**~~{_escape(original)}~~" if replaced else _escape(read)
        tokens.append(token + ("?" if probability > 0.5 else ""))
    return " ".join(tokens)


def _escape(token):
    # Markdown would read [CLS] as a link label and ## (word-piece) as a heading.
    return "".join("\\" + c if c in "\\`*_{}[]()#+-.!~|<>" else c for c in token)


@contextlib.contextmanager
def _streams_put_back(model):
    """Restores the counters of every `SeedStream` inside `model` on exit."""
    counters = [layer.counter for layer in compat.flatten_layers(model)
                if isinstance(layer, SeedStream)]
    saved = [counter.numpy() for counter in counters]
    try:
        yield
    finally:
        for counter, value in zip(counters, saved):
            counter.assign(value)
