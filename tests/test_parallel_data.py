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
