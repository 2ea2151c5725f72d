"""Recipe probe: pre-train a config for N steps, report held-out metrics + sklearn AUC + time."""
import preln
import json, pathlib, sys, time, os
import numpy as np
import tensorflow as tf
from sklearn.metrics import roc_auc_score
from electra_tf import ElectraConfig, tokenization
from electra_tf.data import corpora, pretraining as pdata
from electra_tf.training.pretrain import run_pretraining
from electra_tf.models.pretraining.electra_pretrainer import ElectraPretrainer

root = pathlib.Path("/work/scratch")
corpus = root / "corpus"
if not (corpus / "heldout.txt").exists():
    corpora.write_default_pretraining_corpus(corpus)
train = sorted(str(p) for p in corpus.glob("train-*.txt"))
heldout = [str(corpus / "heldout.txt")]

def auc(pretrainer, tokenizer, config, batches=20):
    ds = pdata.pretraining_dataset(heldout, tokenizer, sequence_length=config.sequence_length,
                                   batch_size=config.batch_size, seed=123, repeat=False)
    ps, ls, ws = [], [], []
    for b in ds.take(batches):
        out = pretrainer(b, training=False)
        ps.append(tf.sigmoid(out["rtd_logits"]).numpy().ravel())
        ls.append(out["rtd_labels"].numpy().ravel()); ws.append(out["padding_weights"].numpy().ravel())
    p, l, w = map(np.concatenate, (ps, ls, ws)); keep = w > 0
    return float(roc_auc_score(l[keep], p[keep]))

def main(name, steps, **over):
    base = over.pop("base", "zh_mini")
    config = ElectraConfig.from_preset(base).replace(train_steps=steps, **over)
    if config.warmup_steps >= steps: config = config.replace(warmup_steps=steps // 10)
    d = root / "runs" / name
    t = time.time()
    r = run_pretraining(config, train, d, heldout_files=heldout, vocab_file=str(root / "vocab.txt") if (root/"vocab.txt").exists() else None,
                        vocab_size=None if (root/"vocab.txt").exists() else 8000, checkpoint_steps=steps, eval_steps=30, verbose=0)
    secs = time.time() - t
    if not (root / "vocab.txt").exists():
        tokenization.save_vocabulary(tokenization.load_vocabulary(d / "vocab.txt"), root)
    a = auc(r.pretrainer, r.tokenizer, config)
    res = {"name": name, "steps": steps, "over": over, "base": base, "seconds": secs, "auc": a, **r.eval_metrics}
    print(json.dumps(res))
    with open(root / "probe_results.jsonl", "a") as f: f.write(json.dumps(res) + "\n")

if __name__ == "__main__":
    name, steps = sys.argv[1], int(sys.argv[2])
    over = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    main(name, steps, **over)
