"""The bad-file corpus (generated here, nothing committed): each case is that file's error with
its line where there is one, every other file still syncs, and nothing already stored is lost."""

from __future__ import annotations

import io
import json
import os
import threading
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from bot.config import Settings
from bot.errors import DianxiaoerError, KnowledgeFileError
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.readers import read_file
from bot.knowledge.sync import scan

GOOD = "问题,答案\n包邮吗？,满 99 元包邮。\n几天能到？,一般 2–4 天。\n"
OTHER = "问题,答案\n能开发票吗？,可以开电子发票。\n有门店吗？,杭州龙井路 18 号。\n"


@pytest.fixture(scope="module")
def embedder():
    from bot.knowledge.embeddings import E5Embeddings

    return E5Embeddings()


@pytest.fixture
def kdir(tmp_path):
    path = tmp_path / "knowledge"
    path.mkdir()
    (path / "good.csv").write_text(GOOD, encoding="utf-8")
    (path / "other.csv").write_text(OTHER, encoding="utf-8")
    return path


@pytest.fixture
def make_kb(tmp_path, kdir, embedder):
    def make(**overrides) -> KnowledgeBase:
        settings = Settings(data_dir=tmp_path / "data", knowledge_dir=kdir, _env_file=None, **overrides)
        return KnowledgeBase(settings, embedder=embedder)

    return make


def questions(kb: KnowledgeBase) -> set[str]:
    return {str(e["question"]) for e in kb.lexical.entries.values()}


def truncated_xlsx() -> bytes:
    """A valid zip whose sheet XML stops half-way, as a copy cut short leaves it."""
    book = Workbook()
    sheet = book.active
    sheet.append(["问题", "答案"])
    for n in range(200):
        sheet.append([f"问题{n}", f"答案{n}"])
    buffer = io.BytesIO()
    book.save(buffer)
    damaged = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as src, zipfile.ZipFile(damaged, "w") as out:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]
            out.writestr(item, data)
    return damaged.getvalue()


# --- item 5: any exception while reading one file is that file's error ------------------------


@pytest.mark.parametrize(
    "name,data,reason",
    [
        ("cut.xlsx", truncated_xlsx(), "Excel"),
        ("deep.json", b"[" * 100_000 + b"]" * 100_000, "嵌套"),
    ],
    ids=["truncated-xlsx", "deeply-nested-json"],
)
def test_a_file_that_breaks_its_parser_is_its_own_error_and_the_rest_syncs(make_kb, kdir, name, data, reason):
    kb = make_kb()
    kb.sync()
    (kdir / name).write_bytes(data)
    report = kb.sync()
    assert [e.path for e in report.errors] == [name]
    assert reason in report.errors[0].reason
    assert questions(kb) >= {"包邮吗？", "能开发票吗？"}


def test_a_truncated_xlsx_keeps_the_rows_before_the_damage(tmp_path):
    (tmp_path / "cut.xlsx").write_bytes(truncated_xlsx())
    try:
        result = read_file(tmp_path / "cut.xlsx", tmp_path)
    except KnowledgeFileError as exc:  # if openpyxl cannot even open it, that is the file's error
        assert exc.path == "cut.xlsx" and "Excel" in exc.reason
        return
    assert result.entries and result.entries[0].question == "问题0"
    [error] = result.errors
    assert error.line == len(result.entries) + 2 and "Excel" in error.reason


def test_an_unexpected_exception_in_a_reader_is_that_files_error(make_kb, kdir, monkeypatch):
    from bot.knowledge import readers

    real = readers._rows_to_entries

    def explode(source, rows):
        if source == "other.csv":
            raise ValueError("a reader bug")
        return real(source, rows)

    monkeypatch.setattr(readers, "_rows_to_entries", explode)
    found = scan(kdir)
    assert [(e.path, "ValueError" in e.reason) for e in found.errors] == [("other.csv", True)]
    assert {e.question for e in found.entries.values()} == {"包邮吗？", "几天能到？"}


# --- items 6 and 7: links, unreadable files, an empty folder ----------------------------------


@pytest.mark.parametrize("kind", ["dangling", "loop"])
def test_a_broken_link_is_an_error_and_its_entries_are_kept(make_kb, kdir, kind):
    (kdir / "shared").mkdir()
    (kdir / "other.csv").rename(kdir / "shared" / "faq.csv")
    os.symlink(kdir / "shared" / "faq.csv", kdir / "other.csv")
    kb = make_kb()
    kb.sync()
    assert {e["source"] for e in kb.lexical.entries.values()} >= {"other.csv", "shared/faq.csv"}
    (kdir / "other.csv").unlink()
    if kind == "dangling":  # where it pointed is gone (a share not mounted)
        os.symlink(kdir / "shared" / "gone.csv", kdir / "other.csv")
    else:
        os.symlink(kdir / "loop.csv", kdir / "other.csv")
        os.symlink(kdir / "other.csv", kdir / "loop.csv")
    report = kb.sync()
    assert [e.path for e in report.errors if e.path == "other.csv"] == ["other.csv"]
    assert all("不存在或成环" in e.reason for e in report.errors)
    assert report.removed == [] and report.kept_despite_errors == 2
    assert "other.csv" in {e["source"] for e in kb.lexical.entries.values()}


def test_a_link_to_a_dead_folder_keeps_the_entries_below_it(make_kb, kdir, tmp_path):
    share = tmp_path / "mnt"
    (share / "faq").mkdir(parents=True)
    (share / "faq" / "more.csv").write_text("问题,答案\n有礼盒吗？,有。\n", encoding="utf-8")
    (kdir / "sub").mkdir()
    (kdir / "sub" / "more.csv").write_text("问题,答案\n有礼盒吗？,有。\n", encoding="utf-8")
    kb = make_kb()
    kb.sync()
    (kdir / "sub" / "more.csv").unlink()
    (kdir / "sub").rmdir()
    os.symlink(tmp_path / "unmounted", kdir / "sub")
    report = kb.sync()
    assert [e.path for e in report.errors] == ["sub"] and report.removed == []
    assert "有礼盒吗？" in questions(kb)


def test_an_unreadable_file_is_an_error_and_its_entries_are_kept(make_kb, kdir, monkeypatch):
    kb = make_kb()
    kb.sync()
    real = Path.read_bytes

    def denied(self):
        if self.name == "other.csv":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    report = kb.sync()
    assert [(e.path, "Permission denied" in e.reason) for e in report.errors] == [("other.csv", True)]
    assert report.removed == [] and "能开发票吗？" in questions(kb)


def test_links_out_of_the_knowledge_folder_are_not_followed(make_kb, kdir, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("root:x:0:0:root:/root:/bin/bash 这是机密", encoding="utf-8")
    os.symlink(outside / "secret.txt", kdir / "passwd.txt")
    os.symlink(outside, kdir / "elsewhere")
    report = make_kb().sync()
    assert sorted(e.path for e in report.errors) == ["elsewhere", "passwd.txt"]
    assert all("之外" in e.reason for e in report.errors)
    assert all("机密" not in e.answer for e in report.added)


def test_a_link_inside_the_folder_is_followed(make_kb, kdir):
    (kdir / "sub").mkdir()
    (kdir / "sub" / "real.csv").write_text("问题,答案\n有礼盒吗？,有。\n", encoding="utf-8")
    os.symlink(kdir / "sub" / "real.csv", kdir / "alias.csv")
    os.symlink(kdir / "sub", kdir / "subdir-link")
    report = make_kb().sync()
    assert report.errors == []
    assert {e.source for e in report.added} >= {"alias.csv", "sub/real.csv"}
    assert not any(e.source.startswith("subdir-link/") for e in report.added)


def test_a_named_pipe_is_refused_not_waited_on(kdir):
    os.mkfifo(kdir / "pipe.csv")
    done = threading.Event()
    result: list = []
    thread = threading.Thread(target=lambda: (result.append(scan(kdir)), done.set()), daemon=True)
    thread.start()
    assert done.wait(20), "scan blocked on a named pipe"
    assert [e.path for e in result[0].errors] == ["pipe.csv"]


def test_an_empty_folder_does_not_delete_everything_without_being_told(make_kb, kdir):
    kb = make_kb()
    kb.sync()
    for path in kdir.iterdir():
        path.unlink()  # the share is not mounted
    with pytest.raises(DianxiaoerError, match="--allow-mass-delete") as refused:
        kb.sync()
    assert "没有找到任何知识文件" in str(refused.value) and "4 条中的 4 条" in str(refused.value)
    assert len(questions(make_kb())) == 4
    dry = kb.sync(dry_run=True)
    assert len(dry.removed) == 4 and any("--allow-mass-delete" in w for w in dry.warnings)
    assert len(kb.sync(allow_mass_delete=True).removed) == 4


def test_deleting_half_or_less_needs_no_permission(make_kb, kdir):
    kb = make_kb()
    kb.sync()
    (kdir / "other.csv").unlink()
    assert len(kb.sync().removed) == 2


def test_the_cli_refuses_a_mass_delete_in_one_line(tmp_path, kdir, make_kb, monkeypatch):
    from click.testing import CliRunner

    from bot.cli import cli

    make_kb().sync()
    for path in kdir.iterdir():
        path.unlink()
    for name in [n for n in os.environ if n.startswith("DIANXIAOER_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIANXIAOER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DIANXIAOER_KNOWLEDGE_DIR", str(kdir))
    result = CliRunner().invoke(cli, ["index"])
    assert result.exit_code == 1
    assert "--allow-mass-delete" in result.output and "Traceback" not in result.output


# --- item 8: CSV quotes -----------------------------------------------------------------------


def test_an_unclosed_quote_keeps_rows_before_and_after_and_old_entries(make_kb, kdir):
    rows = [f"问题{n},答案{n}" for n in range(2, 22)]
    (kdir / "quote.csv").write_text("问题,答案\n" + "\n".join(rows) + "\n", encoding="utf-8")
    kb = make_kb()
    kb.sync()
    rows[2] = '问题4,"答案4改了但引号没闭合'
    (kdir / "quote.csv").write_text("问题,答案\n" + "\n".join(rows) + "\n", encoding="utf-8")
    report = kb.sync()
    assert [(e.path, e.line) for e in report.errors] == [("quote.csv", 4)]
    assert report.removed == [] and report.kept_despite_errors == 1
    assert {f"问题{n}" for n in range(2, 22)} <= questions(kb)


def test_a_quote_opened_mid_file_is_resynchronised_on_the_next_line(tmp_path):
    text = '问题,答案\n问题2,答案2\n问题3,答"案3\n"问题4,答案4\n问题5,答案5\n问题6,"答案6"\n'
    (tmp_path / "q.csv").write_text(text, encoding="utf-8")
    result = read_file(tmp_path / "q.csv", tmp_path)
    # a quote inside a field is text; a field that opens with one must close it
    assert [(e.line, "第 4 行的引号没有闭合" in e.reason) for e in result.errors] == [(4, True)]
    assert [(e.question, e.line) for e in result.entries] == [("问题2", 2), ("问题3", 3), ("问题5", 5), ("问题6", 6)]


# --- item 9: size, linear scanning, small files first -----------------------------------------


def test_a_file_over_the_size_limit_is_refused_with_the_setting_named(make_kb, kdir):
    (kdir / "novel.txt").write_text("很长的小说。" * 2000, encoding="utf-8")
    report = make_kb(knowledge_max_file_mb=0.01).sync()
    [error] = report.errors
    assert error.path == "novel.txt" and "KNOWLEDGE_MAX_FILE_MB" in error.reason and "MB" in error.reason
    assert {e.source for e in report.added} == {"good.csv", "other.csv"}


def test_smaller_files_are_read_and_embedded_first(kdir):
    (kdir / "a_big.csv").write_text("问题,答案\n" + "".join(f"大{n},答{n}\n" for n in range(50)), encoding="utf-8")
    sources = [e.source for e in scan(kdir).entries.values()]
    assert sources.index("a_big.csv") > max(sources.index("good.csv"), sources.index("other.csv"))


def test_passage_line_numbers_are_right_deep_into_a_long_text(tmp_path):
    paragraphs = [f"第{n}段：" + "茶园开放参观，欢迎预约。" * 12 for n in range(400)]
    (tmp_path / "long.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")
    entries = read_file(tmp_path / "long.txt", tmp_path).entries
    lines = (tmp_path / "long.txt").read_text(encoding="utf-8").split("\n")
    for entry in entries[::37]:
        assert entry.answer[:10] in lines[entry.line - 1]


# --- item 10: JSON positions and UTF-16 ------------------------------------------------------


def test_json_items_that_are_not_objects_are_named_by_position_and_line(tmp_path):
    text = (
        '{"entries": [\n'
        '  {"question": "包邮吗？", "answer": "满 99 元包邮", "extra": {"nested": [1, {"x": 2}]}},\n'
        '  "一句话",\n'
        '  {"question": "几天到？",\n   "answer": "2–4 天"},\n'
        "  [1, 2]\n"
        "]}\n"
    )
    result = read_file(_write(tmp_path, "faq.json", text.encode()), tmp_path)
    assert [(e.question, e.line) for e in result.entries] == [("包邮吗？", 2), ("几天到？", 4)]
    assert [(e.line, "第 2 项" in e.reason or "第 4 项" in e.reason) for e in result.errors] == [(3, True), (6, True)]
    assert "字符串" in result.errors[0].reason and "数组" in result.errors[1].reason


def test_json_positions_of_a_top_level_array(tmp_path):
    items = [{"question": f"问{n}", "answer": "答"} for n in range(5)]
    text = "[\n" + ",\n".join(json.dumps(i, ensure_ascii=False) for i in items) + "\n]"
    entries = read_file(_write(tmp_path, "faq.json", text.encode()), tmp_path).entries
    assert [e.line for e in entries] == [2, 3, 4, 5, 6]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_read(tmp_path, encoding):
    path = _write(tmp_path, "faq.csv", GOOD.encode(encoding))
    assert [e.question for e in read_file(path, tmp_path).entries] == ["包邮吗？", "几天能到？"]


def _write(directory: Path, name: str, data: bytes) -> Path:
    (directory / name).write_bytes(data)
    return directory / name


def test_renaming_files_is_not_a_mass_delete(make_kb, kdir):
    kb = make_kb()
    kb.sync()
    (kdir / "good.csv").rename(kdir / "faq-2025.csv")
    (kdir / "other.csv").rename(kdir / "more.csv")
    report = kb.sync()  # four ids deleted, the same four contents added under new ones
    assert len(report.removed) == 4 and len(report.added) == 4
    assert questions(kb) == {"包邮吗？", "几天能到？", "能开发票吗？", "有门店吗？"}


def test_an_edit_is_embedded_before_a_new_big_file(make_kb, kdir, monkeypatch):
    kb = make_kb()
    kb.sync()
    (kdir / "good.csv").write_text(GOOD.replace("99", "199"), encoding="utf-8")
    (kdir / "a_manual.txt").write_text("使用说明。" * 400, encoding="utf-8")
    order: list[str] = []
    real = kb.store.upsert_passages

    def record(entries, progress=None):
        order.extend(e.source for e in entries)
        return real(entries, progress)

    monkeypatch.setattr(kb.store, "upsert_passages", record)
    kb.sync()
    assert order[0] == "good.csv" and order[-1] == "a_manual.txt"


def test_a_spreadsheet_that_unpacks_to_gigabytes_is_refused(tmp_path):
    from bot.knowledge import readers

    (tmp_path / "bomb.xlsx").write_bytes(truncated_xlsx())
    readers.XLSX_MAX_UNPACKED, saved = 1000, readers.XLSX_MAX_UNPACKED
    try:
        with pytest.raises(KnowledgeFileError, match="解压后"):
            read_file(tmp_path / "bomb.xlsx", tmp_path)
    finally:
        readers.XLSX_MAX_UNPACKED = saved


def test_a_deeply_nested_jsonl_line_is_that_lines_error(tmp_path):
    text = '{"question": "a", "answer": "b"}\n' + "[" * 100_000 + "]" * 100_000 + '\n{"question": "c", "answer": "d"}\n'
    result = read_file(_write(tmp_path, "x.jsonl", text.encode()), tmp_path)
    assert [e.question for e in result.entries] == ["a", "c"]
    assert [(e.line, "嵌套" in e.reason) for e in result.errors] == [(2, True)]
