"""Does Hugging Face's ELECTRA learn replaced-token detection faster on the same data?

Trains the PyTorch reference of `pretrain_step.py` (`hf_reference.hf_electra`:
`ElectraForMaskedLM` generator + `ElectraForPreTraining` discriminator, shared
embeddings) on the batches of an
electra_tf model directory's own corpus, masked by electra_tf's `DynamicMasking`,
with that directory's config and recipe (AdamW, weight decay skipping LayerNorm
and biases, warmup then linear decay, global-norm clipping, loss = MLM + weight
x RTD). Then prints the held-out figures `scripts/pretrain.py` writes to
`pretraining_summary.json`, next to the RTD loss of always answering "original"
(the prior). If the reference also stays near the prior, the budget is why our
discriminator does; if it leaves the prior, our model or step differs.

  python benchmarks/rtd_reference.py --model_dir runs/zh_mini_2500 --train_steps 600

Needs `torch` and `transformers` (`pip install torch==2.13.0 transformers`), kept
out of the package's installs like the benchmark reference.
"""

import math
import os
import pathlib

import numpy as np
from absl import app, flags

from electra_tf import ElectraConfig, tokenization
from electra_tf.data.masking import DynamicMasking
from electra_tf.data.pretraining import pretraining_dataset
from hf_reference import hf_electra

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "An electra_tf model directory (config, vocab, corpus/).")
flags.DEFINE_integer("train_steps", 600, "Steps to train; the schedule decays to 0 at the last.")
flags.DEFINE_integer("warmup_steps", None, "Overrides the config's warmup_steps.")
flags.DEFINE_integer("eval_steps", 50, "Held-out batches to evaluate on.")
flags.DEFINE_integer("seed", 0, "Seed for data order, masks, samples and weights.")
flags.mark_flag_as_required("model_dir")


def torch_batch(batch, masking, torch):
    masked = masking(batch)
    ids = batch["token_ids"].numpy()
    rows, slots = np.nonzero(masked["mask_weights"].numpy() > 0)
    is_masked = np.zeros(ids.shape, bool)
    is_masked[rows, masked["mask_positions"].numpy()[rows, slots]] = True
    return {
        "ids": torch.tensor(ids, dtype=torch.long),
        "masked_ids": torch.tensor(masked["token_ids"].numpy(), dtype=torch.long),
        "is_masked": torch.tensor(is_masked),
        "segments": torch.tensor(batch["segment_ids"].numpy(), dtype=torch.long),
        "attention": torch.tensor(batch["padding_mask"].numpy(), dtype=torch.long),
    }


def forward(generator, discriminator, b, weight, torch):
    labels = b["ids"].masked_fill(~b["is_masked"], -100)
    generated = generator(input_ids=b["masked_ids"], token_type_ids=b["segments"],
                          attention_mask=b["attention"], labels=labels)
    with torch.no_grad():
        uniform = torch.rand_like(generated.logits).clamp_min(1e-9)
        sampled = (generated.logits - torch.log(-torch.log(uniform))).argmax(-1)
    corrupted = torch.where(b["is_masked"], sampled, b["ids"])
    replaced = ((corrupted != b["ids"]) & (b["attention"] > 0)).long()
    discriminated = discriminator(input_ids=corrupted, token_type_ids=b["segments"],
                                  attention_mask=b["attention"], labels=replaced)
    loss = generated.loss + weight * discriminated.loss
    return loss, discriminated, replaced


def main(argv):
    del argv
    import tensorflow as tf
    import torch

    torch.manual_seed(FLAGS.seed)
    tf.random.set_seed(FLAGS.seed)
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    model_dir = pathlib.Path(FLAGS.model_dir)
    config = ElectraConfig.load(model_dir / "electra_config.json")
    tokenizer = tokenization.make_tokenizer(model_dir, lowercase=config.lowercase)
    ids = tokenization.special_token_ids(tokenizer)
    masking = DynamicMasking(
        mask_token_id=ids[tokenization.MASK], special_token_ids=sorted(ids.values()),
        vocab_size=tokenizer.vocabulary_size(), max_predictions=config.num_masked_predictions,
        mask_probability=config.mask_probability, mask_token_rate=config.mask_token_rate,
        random_token_rate=config.random_token_rate, seed=FLAGS.seed)
    generator, discriminator = hf_electra(config, tokenizer.vocabulary_size())

    parameters = {}
    for model in (generator, discriminator):
        parameters.update(dict(model.named_parameters()))
    no_decay = [p for n, p in parameters.items() if "LayerNorm" in n or n.endswith("bias")]
    decay = [p for n, p in parameters.items() if not ("LayerNorm" in n or n.endswith("bias"))]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate, eps=config.adam_epsilon)
    steps = FLAGS.train_steps
    warmup = config.warmup_steps if FLAGS.warmup_steps is None else FLAGS.warmup_steps
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: (
        max(0.0, 1.0 - step / steps) * (min(1.0, step / warmup) if warmup else 1.0)))

    train = pretraining_dataset(
        sorted(str(p) for p in (model_dir / "corpus").glob("train-*.txt")), tokenizer,
        sequence_length=config.sequence_length, batch_size=config.batch_size, seed=FLAGS.seed)
    generator.train()
    discriminator.train()
    for step, batch in enumerate(train.take(steps), 1):
        loss, _, _ = forward(generator, discriminator, torch_batch(batch, masking, torch),
                             config.discriminator_loss_weight, torch)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(parameters.values()), config.clip_norm)
        optimizer.step()
        schedule.step()
        if step % 100 == 0:
            print(f"step {step}: loss {loss.item():.3f}", flush=True)

    heldout = pretraining_dataset(
        [str(model_dir / "corpus" / "heldout.txt")], tokenizer,
        sequence_length=config.sequence_length, batch_size=config.batch_size, seed=FLAGS.seed,
        repeat=False, drop_remainder=False)
    generator.eval()
    discriminator.eval()
    totals = dict(loss=0.0, tokens=0, replaced=0, true_positive=0, predicted=0)
    with torch.no_grad():
        for batch in heldout.take(FLAGS.eval_steps):
            b = torch_batch(batch, masking, torch)
            _, discriminated, replaced = forward(
                generator, discriminator, b, config.discriminator_loss_weight, torch)
            real = b["attention"] > 0
            logits = discriminated.logits[real]
            labels = replaced[real].float()
            totals["loss"] += torch.nn.functional.binary_cross_entropy_with_logits(
                logits, labels, reduction="sum").item()
            totals["tokens"] += int(real.sum())
            totals["replaced"] += int(labels.sum())
            predicted = logits > 0
            totals["predicted"] += int(predicted.sum())
            totals["true_positive"] += int((predicted & (labels > 0)).sum())
    rate = totals["replaced"] / totals["tokens"]
    prior = -(rate * math.log(rate) + (1 - rate) * math.log(1 - rate))
    print(f"Hugging Face reference, {steps} steps of {config.name}: held-out rtd_loss "
          f"{totals['loss'] / totals['tokens']:.4f} (prior {prior:.4f}), replaced_rate {rate:.4f}, "
          f"rtd_precision {totals['true_positive'] / max(1, totals['predicted']):.4f}, "
          f"rtd_recall {totals['true_positive'] / max(1, totals['replaced']):.4f}")


if __name__ == "__main__":
    app.run(main)
