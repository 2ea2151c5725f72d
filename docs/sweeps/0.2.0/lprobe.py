"""Quick linear probe: mean-pooled discriminator features -> logistic regression on 1000 sentiment labels."""
import preln
import json, sys, pathlib, random
import numpy as np, tensorflow as tf
from sklearn.linear_model import LogisticRegression
from electra_tf import tokenization
from electra_tf.data import corpora
from electra_tf.models.pretraining.electra_pretrainer import ElectraPretrainer
from electra_tf.config import ElectraConfig

splits = corpora.chinese_sentiment()
rng = random.Random(0)
tr = rng.sample(range(len(splits["train"].texts)), 1000)
te = random.Random(1).sample(range(len(splits["test"].texts)), 1500)

def feats(backbone, tokenizer, texts, L=64):
    packer_ids = []
    out = []
    for i in range(0, len(texts), 100):
        ids = tokenizer(tf.constant(texts[i:i+100]))
        if isinstance(ids, list): ids = tf.ragged.constant(ids, dtype=tf.int32)
        ids = ids[:, :L-2]
        cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
        ids = tf.concat([tf.fill([ids.nrows(), 1], cls), ids, tf.fill([ids.nrows(), 1], sep)], 1)
        dense = ids.to_tensor(0, shape=[None, L])
        mask = tf.cast(dense != 0, tf.int32)
        seq = backbone({"token_ids": dense, "segment_ids": tf.zeros_like(dense), "padding_mask": mask})["sequence_output"]
        m = tf.cast(mask, tf.float32)[..., None]
        mean = tf.reduce_sum(seq * m, 1) / tf.reduce_sum(m, 1)
        out.append(np.concatenate([mean.numpy(), seq[:, 0].numpy()], 1))
    return np.concatenate(out)

def probe(backbone, tokenizer):
    Xtr = feats(backbone, tokenizer, [splits["train"].texts[i] for i in tr]); ytr = [splits["train"].labels[i] for i in tr]
    Xte = feats(backbone, tokenizer, [splits["test"].texts[i] for i in te]); yte = [splits["test"].labels[i] for i in te]
    mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-6
    res = {}
    for C in (0.01, 0.1, 1.0):
        clf = LogisticRegression(C=C, max_iter=2000).fit((Xtr - mu) / sd, ytr)
        res[C] = float(clf.score((Xte - mu) / sd, yte))
    return res

if __name__ == "__main__":
    d = sys.argv[1]
    if d.startswith("random:"):
        _, base, seed = d.split(":")
        vocab = tokenization.load_vocabulary("/work/scratch/vocab.txt")
        tok = tokenization.make_tokenizer(vocab)
        tf.random.set_seed(int(seed)); import keras; keras.utils.set_random_seed(int(seed))
        p = ElectraPretrainer(ElectraConfig.from_preset(base), len(vocab), tokenization.special_token_ids(tok))
        backbone = p.discriminator
    elif d.startswith("gen:"):
        import keras
        p = ElectraPretrainer.from_preset(d[4:]); tok = p.tokenizer; g = p.generator
        inner = keras.Model({k: g.input[k] for k in ("token_ids", "segment_ids", "padding_mask")}, g.transformer_layers[-1].output)
        backbone = lambda x: {"sequence_output": inner(x)}
    else:
        p = ElectraPretrainer.from_preset(d); tok = p.tokenizer; backbone = p.discriminator
    r = probe(backbone, tok)
    print(json.dumps({"model": d, "probe": r}))
    with open("/work/scratch/lprobe_results.jsonl", "a") as f: f.write(json.dumps({"model": d, "probe": r}) + "\n")
