import pytest

from electra_tf.data import corpora, tasks


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_tsv_single_texts_with_header_and_empty_lines(tmp_path):
    path = write(tmp_path / "train.tsv", "label\ttext\npos\t很好\n\nneg\t很差\npos\t不错\n\n")
    data = tasks.read_classification_tsv(path)
    assert data.label_names == ["neg", "pos"]
    assert data.texts == ["很好", "很差", "不错"] and data.labels == [1, 0, 1]
    assert data.texts_b is None and data.skipped_lines == 2
    # Without a header line nothing is dropped; header=False keeps a "label" row as data.
    path = write(tmp_path / "plain.tsv", "label\tx\npos\ty\n")
    assert tasks.read_classification_tsv(path, header=False).texts == ["x", "y"]


def test_tsv_pairs_and_known_labels(tmp_path):
    path = write(tmp_path / "pairs.tsv", "1\t今天\t晴天\n0\t下雨\t晴天\n")
    data = tasks.read_classification_tsv(path, label_names=["0", "1"])
    assert data.texts_b == ["晴天", "晴天"] and data.labels == [1, 0]
    first, second = data.inputs
    assert first.shape == (2,) and second.shape == (2,)
    batch = next(iter(data.dataset(batch_size=2)))
    assert batch[0][1].shape == (2,) and batch[1].numpy().tolist() == [1, 0]


def test_tsv_errors_name_the_file_and_line(tmp_path):
    path = write(tmp_path / "dev.tsv", "pos\ta\nneutral\tb\n")
    with pytest.raises(tasks.DataFormatError, match=r"dev.tsv:2: unknown label 'neutral'"):
        tasks.read_classification_tsv(path, label_names=["neg", "pos"])
    path = write(tmp_path / "mixed.tsv", "pos\ta\npos\ta\tb\n")
    with pytest.raises(tasks.DataFormatError, match=r"mixed.tsv:2: 3 fields"):
        tasks.read_classification_tsv(path)
    path = write(tmp_path / "one.tsv", "pos a\n")
    with pytest.raises(tasks.DataFormatError, match=r"one.tsv:1: expected label<TAB>text"):
        tasks.read_classification_tsv(path)
    with pytest.raises(tasks.DataFormatError, match="no examples"):
        tasks.read_classification_tsv(write(tmp_path / "empty.tsv", "\n\n"))
    with pytest.raises(FileNotFoundError, match="missing.tsv"):
        tasks.read_classification_tsv(tmp_path / "missing.tsv")


def test_conll_sentences_and_errors(tmp_path):
    path = write(tmp_path / "ner.conll", "John\tB-PER\nlives\tO\n\n\nParis\tB-LOC\nx\tPOS\tO\n")
    data = tasks.read_conll(path)
    assert data.tokens == [["John", "lives"], ["Paris", "x"]]
    assert data.tags == [["B-PER", "O"], ["B-LOC", "O"]]
    assert data.tag_names == ["B-LOC", "B-PER", "O"]
    with pytest.raises(tasks.DataFormatError, match=r"bad.conll:2: expected token<TAB>tag"):
        tasks.read_conll(write(tmp_path / "bad.conll", "John\tB-PER\nlives\n"))
    with pytest.raises(tasks.DataFormatError, match=r"ner.conll:5: unknown tag 'B-LOC'"):
        tasks.read_conll(path, tag_names=["O", "B-PER"])
    with pytest.raises(tasks.DataFormatError, match="sentence 1 has 2 tokens but 1 tags"):
        tasks.check_tagging_data([["a"], ["b", "c"]], [["O"], ["O"]])


def test_chinese_sentiment_deduplicates_and_drops_conflicts(tmp_path):
    positives = [f"好评{i}" for i in range(40)]
    negatives = [f"差评{i}" for i in range(40)]
    write(tmp_path / "pos.txt", "\n".join(positives * 3 + ["一般"]) + "\n")
    write(tmp_path / "neg.txt", "\n".join(negatives * 2 + ["一般", ""]) + "\n")
    splits = corpora.chinese_sentiment(root=tmp_path)
    assert [len(splits[s].texts) for s in ("train", "dev", "test")] == [64, 8, 8]
    texts = [t for s in splits.values() for t in s.texts]
    assert len(set(texts)) == 80 and "一般" not in texts
    for split in splits.values():
        for text, label in zip(split.texts, split.labels):
            assert split.label_names[label] == ("pos" if text.startswith("好") else "neg")
    # The split is fixed: the same call gives the same test set.
    assert corpora.chinese_sentiment(root=tmp_path)["test"].texts == splits["test"].texts


def test_peoples_daily_ner_entities_and_sentence_cuts(tmp_path):
    paragraph = "江/nr  泽民/nr  会见/v  克林顿/nr  。/w  新华社/nt  北京/ns  电/n  。/w\n"
    long_paragraph = "  ".join(["我们/r"] * 30 + ["，/w"] + ["北京/ns"] * 4) + "\n"
    write(tmp_path / "tag.txt", paragraph * 8 + long_paragraph * 2)
    splits = corpora.peoples_daily_ner(max_chars=64, path=tmp_path / "tag.txt")
    data = [s for split in splits.values() for s in zip(split.tokens, split.tags)]
    assert len(data) == 8 * 2 + 2 * 2
    chars, tags = next(d for d in data if d[0][0] == "江")
    assert "".join(chars) == "江泽民会见克林顿。"
    assert tags == ["B-PER", "I-PER", "I-PER", "O", "O", "B-PER", "I-PER", "I-PER", "O"]
    chars, tags = next(d for d in data if d[0][0] == "新")
    assert tags == ["B-ORG", "I-ORG", "I-ORG", "B-LOC", "I-LOC", "O", "O"]
    # The 69-character paragraph is cut after the comma, inside the limit.
    cuts = [d for d in data if d[0][0] in "我北"]
    assert sorted(len(c) for c, _ in cuts) == [8, 8, 61, 61]
    assert all(t[0] != "I-LOC" for _, t in cuts)
    assert splits["train"].tag_names == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


def test_long_sentences_never_cut_inside_an_entity():
    chars = list("ab北京市c")
    tags = ["O", "O", "B-LOC", "I-LOC", "I-LOC", "O"]
    pieces = corpora._cut_long(chars, tags, max_chars=4)
    assert ["".join(c) for c, _ in pieces] == ["ab", "北京市c"]
