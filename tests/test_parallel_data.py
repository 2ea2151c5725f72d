import pytest

from electra_tf.data import parallel

POEM_FILE = (
    "\x1b[32m《送别》\x1b[m\n\x1b[33m作者：王维\x1b[m\n下马饮君酒，问君何所之。\n"
    "君言不得意，归卧南山陲。\n%\n\x1b[32m题目:《二首》\x1b[m\n\x1b[33m作者:某\x1b[m\n\n"
    "            其一\n\n两株桃杏映篱斜，妆点商山副使家，\n"
)


def test_messages_are_cleaned_and_filtered():
    assert parallel.clean_message("_Open  File…") == "Open File…"
    assert parallel.clean_message("打开文件(_O)") == "打开文件"
    assert parallel.usable_pair("Open File", "打开文件")
    assert not parallel.usable_pair("Open File", "Open File")  # untranslated
    assert not parallel.usable_pair("%s: %d of %d %s", "%s：%d/%d %s")  # placeholders
    assert not parallel.usable_pair("", "空")
    assert not parallel.usable_pair("42", "四十二")  # no English


def test_gettext_split_keeps_test_catalogs_unseen():
    splits = parallel.gettext_pairs()
    assert len(splits["train"]) > 1000 and len(splits["test"]) > 100
    assert len(splits["test"]) <= 0.2 * (len(splits["train"]) + len(splits["test"]))
    train_sources = {s for s, _ in splits["train"]}
    assert not train_sources & {s for s, _ in splits["test"]}
    assert not [name for name in splits["test_catalogs"] if name.startswith("iso_")]


def fake_catalogs():
    """Six programs of 10 messages and two name catalogs, one of them huge."""
    catalogs = [(f"program{i}", [(f"Message {i}.{j}", f"消息{i}.{j}") for j in range(10)])
                for i in range(6)]
    catalogs.append(("iso_3166-2", [(f"Place {j}", f"地方{j}") for j in range(500)]))
    catalogs.append(("iso_639-3", [("English", "英语"), ("French", "法语")]))
    catalogs.append(("program6", [("English", "英语"), ("Quit", "退出")]))
    return catalogs


@pytest.mark.parametrize("seed", range(5))
def test_name_catalogs_stay_out_of_train_and_test(seed):
    splits = parallel.split_catalogs(fake_catalogs(), test_fraction=0.3, seed=seed)
    assert splits["name_catalogs"] == ["iso_3166-2", "iso_639-3"]
    assert not [c for c in splits["test_catalogs"] if c.startswith("iso_")]
    kept = splits["train"] + splits["test"]
    assert not [s for s, _ in kept if s.startswith("Place") or s == "French"]
    # Messages only: 62 pairs, of which test holds at most 30 %, by whole catalog.
    assert len(kept) == 62 and 0 < len(splits["test"]) <= 0.3 * 62
    catalogs = dict(fake_catalogs())
    assert set(splits["test"]) == {p for name in splits["test_catalogs"] for p in catalogs[name]}
    # Names are reported apart, without the one a program translates too.
    assert ("French", "法语") in splits["names"] and len(splits["names"]) == 501
    assert ("English", "英语") in kept and ("English", "英语") not in splits["names"]


def test_name_catalog_patterns_are_a_parameter():
    splits = parallel.split_catalogs(fake_catalogs(), test_fraction=0.3,
                                     name_catalogs=("iso_639*",))
    assert splits["name_catalogs"] == ["iso_639-3"]
    assert len(splits["train"]) + len(splits["test"]) == 562


def test_showcase_pairs_are_short_messages_from_across_the_split():
    pairs = [(f"Message {i} of the list", f"消息{i}") for i in range(100)]
    pairs += [("%s: %d files", "%s：%d 个文件"), ("Quit", "退出")]
    picks = parallel.showcase_pairs(pairs, count=5)
    assert picks == [pairs[i] for i in (0, 20, 40, 60, 80)]
    assert parallel.showcase_pairs(pairs[-2:]) == []


def test_poems_reader(tmp_path):
    for name in parallel.POEM_FILES:
        (tmp_path / name).write_text(POEM_FILE, encoding="utf-8")
    poems = parallel.poems(tmp_path)
    assert poems[0] == ["下马饮君酒，问君何所之。", "君言不得意，归卧南山陲。"]
    assert poems[1] == ["两株桃杏映篱斜，妆点商山副使家，"]
    assert parallel.poem_pairs(tmp_path)[0] == ("下马饮君酒，问君何所之。", "君言不得意，归卧南山陲。")


def test_poems_found_through_the_environment(tmp_path, monkeypatch):
    for name in parallel.POEM_FILES:
        (tmp_path / name).write_text(POEM_FILE, encoding="utf-8")
    monkeypatch.setenv("FORTUNES_ZH_DIR", str(tmp_path))
    assert len(parallel.poems()) == 4  # two poems in each of the two files


def test_missing_poems_say_how_to_install(tmp_path, monkeypatch):
    monkeypatch.delenv("FORTUNES_ZH_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="apt-get download fortunes-zh"):
        parallel.poems(tmp_path)


def test_tsv_reader(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("hello\t你好\n\nbye\t再见\n", encoding="utf-8")
    assert parallel.read_tsv(path) == [("hello", "你好"), ("bye", "再见")]
    path.write_text("no tab here\n", encoding="utf-8")
    with pytest.raises(ValueError, match="pairs.tsv:1"):
        parallel.read_tsv(path)


def test_peoples_daily_split_holds_out_whole_paragraphs(monkeypatch):
    from electra_tf.training import generation

    paragraphs = [f"第{i}段第一句。第{i}段第二句。第{i}段第三句。" for i in range(40)]
    monkeypatch.setattr(parallel.corpora, "peoples_daily_lines", lambda path=None: paragraphs)
    assert parallel.peoples_daily_paragraphs()[0] == [
        ("第0段第一句。", "第0段第二句。"), ("第0段第二句。", "第0段第三句。")]
    splits = generation.builtin_dataset("peoples_daily")
    assert (len(splits["train"]), len(splits["test"])) == (76, 4)  # paragraphs 0 and 20 held out
    train_sentences = {sentence for pair in splits["train"] for sentence in pair}
    assert not train_sentences & {sentence for pair in splits["test"] for sentence in pair}
