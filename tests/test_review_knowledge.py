"""Review of reading and syncing the knowledge folder: files a real merchant produces."""

import re
from pathlib import Path

import pytest

from bot.knowledge.readers import decode, read_file


def write(tmp_path: Path, name: str, data: str | bytes, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


def test_markdown_with_categories_at_level_two_and_questions_at_level_three(tmp_path):
    # A merchant who titles the document with `#` puts the sections at `##` and the questions
    # at `###`: the sections must not become questions with every real question in their answer.
    text = (
        "# 小店常见问题\n\n## 售后\n\n### 怎么退货？\n七天无理由退货。\n\n### 运费谁出？\n质量问题我们出。\n"
        "## 物流\n### 发什么快递？\n默认顺丰。\n"
    )
    entries = read_file(write(tmp_path, "faq.md", text), tmp_path).entries
    assert [(e.question, e.answer, e.category, e.line) for e in entries] == [
        ("怎么退货？", "七天无理由退货。", "售后", 5),
        ("运费谁出？", "质量问题我们出。", "售后", 8),
        ("发什么快递？", "默认顺丰。", "物流", 11),
    ]


def test_markdown_subheadings_inside_an_answer_stay_in_the_answer(tmp_path):
    # The documented layout (`#` category, `##` question) keeps a `###` inside an answer as text,
    # even when one question starts straight with such a subheading.
    text = "# 售后\n## 怎么退货？\n### 步骤\n联系客服寄回。\n## 运费谁出？\n质量问题我们出。\n### 注意\n保留包装。\n"
    entries = read_file(write(tmp_path, "faq.md", text), tmp_path).entries
    assert [(e.question, e.answer, e.category) for e in entries] == [
        ("怎么退货？", "### 步骤\n联系客服寄回。", "售后"),
        ("运费谁出？", "质量问题我们出。\n### 注意\n保留包装。", "售后"),
    ]


def test_markdown_closing_hashes_are_not_part_of_the_question(tmp_path):
    # `## 运费多少？ ##` is a Markdown heading like `## 运费多少？` (closing sequence, CommonMark).
    text = "# 物流 #\n## 运费多少？ ##\n满 99 元包邮。\n## C# 教程包邮吗\n包邮。\n"
    entries = read_file(write(tmp_path, "faq.md", text), tmp_path).entries
    assert [(e.question, e.category) for e in entries] == [("运费多少？", "物流"), ("C# 教程包邮吗", "物流")]


def test_gbk_text_indented_with_full_width_spaces_is_read_as_gbk_not_big5(tmp_path):
    # Chinese paragraphs start with two ideographic spaces (U+3000). Counted as "not text", they
    # made a GBK file fail the GB18030 check and be decoded as Big5: every character garbled.
    paragraph = "　　本店所有茶叶均为当季新茶，产地直发，支持七天无理由退换货。\r\n"
    text = "关于我们\r\n" + paragraph * 3
    assert decode(text.encode("gbk"), "关于我们.txt") == text
    [entry] = read_file(write(tmp_path, "关于我们.txt", text, "gbk"), tmp_path).entries
    assert entry.answer.startswith("关于我们") and "当季新茶" in entry.answer


def test_table_headers_with_inner_spaces_full_width_letters_or_a_line_break_are_recognised(tmp_path):
    # Excel headers as merchants type them: padded for alignment (问 题), typed with the IME in
    # full-width mode (Ｑｕｅｓｔｉｏｎ), or wrapped with Alt+Enter ("相似\n问题").
    text = 'Ｑｕｅｓｔｉｏｎ,答 案,"相似\r\n问题",分\u3000类\r\n包邮吗？,满 99 元包邮。,运费多少,物流\r\n'
    result = read_file(write(tmp_path, "faq.csv", text), tmp_path)
    assert not result.errors
    [entry] = result.entries
    assert (entry.question, entry.answer, entry.similar, entry.category) == ("包邮吗？", "满 99 元包邮。", ("运费多少",), "物流")


def test_json_keys_are_matched_like_table_headers(tmp_path):
    data = '[{"Ｑｕｅｓｔｉｏｎ": "包邮吗？", "答 案": "满 99 元包邮。"}]'
    [entry] = read_file(write(tmp_path, "faq.json", data), tmp_path).entries
    assert (entry.question, entry.answer) == ("包邮吗？", "满 99 元包邮。")


def test_similar_questions_one_per_line_in_the_cell_or_split_by_a_full_width_bar(tmp_path):
    # In Excel a merchant lists similar questions one per line (Alt+Enter) or types the bar with
    # the Chinese IME (｜): each must become its own phrasing, not one long joined phrasing.
    text = '问题,答案,相似问题\r\n包邮吗？,满 99 元包邮。,"运费多少\n要运费吗"\r\n几天到？,一般 2–4 天。,多久到｜什么时候到\r\n'
    first, second = read_file(write(tmp_path, "faq.csv", text, "gbk"), tmp_path).entries
    assert first.similar == ("运费多少", "要运费吗")
    assert second.similar == ("多久到", "什么时候到")


def test_a_workbook_with_questions_on_a_second_sheet_says_that_sheet_was_not_read(tmp_path):
    # Merchants keep one sheet per category. Only the first sheet is read: the others were
    # dropped without a word, so their questions were never answered and nobody knew why.
    from openpyxl import Workbook

    from bot.knowledge.sync import scan

    book = Workbook()
    first = book.active
    first.title = "售后"
    first.append(["问题", "答案"])
    first.append(["怎么退货？", "七天无理由退货。"])
    second = book.create_sheet("物流")
    second.append(["问题", "答案"])
    second.append(["发什么快递？", "默认顺丰。"])
    book.create_sheet("空白")
    book.save(tmp_path / "faq.xlsx")
    found = scan(tmp_path)
    assert [e.question for e in found.entries.values()] == ["怎么退货？"]
    [warning] = found.warnings
    assert "faq.xlsx" in warning and "「物流」" in warning and "空白" not in warning


@pytest.mark.parametrize(
    "row",
    ['怎么退款,"申请退款"按钮在订单页', '"怎么退款"？,在订单页', "短问题," + "很长" * 70000],
    ids=["answer-opens-with-a-quote", "question-opens-with-a-quote", "cell-over-the-limit"],
)
def test_csv_errors_are_in_chinese_and_say_what_to_do(tmp_path, row):
    # A hand-typed answer that opens with a quoted phrase is a malformed CSV record; the merchant
    # was shown Python's "',' expected after '\"'" (or "field larger than field limit").
    text = f"问题,答案\n{row}\n运费多少,满 99 元包邮。\n"
    result = read_file(write(tmp_path, "faq.csv", text), tmp_path)
    assert [e.question for e in result.entries] == ["运费多少"]
    [error] = result.errors
    assert (error.path, error.line) == ("faq.csv", 2)
    assert not re.search(r"[A-Za-z]{3,}", re.sub(r"CSV|Excel|\.txt|\.md", "", error.reason)), error.reason


def _encrypted_xlsx() -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600 + "EncryptedPackage".encode("utf-16-le")


@pytest.mark.parametrize(
    "data,hint",
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, ".xls"),  # an old Excel file renamed
        (_encrypted_xlsx(), "密码"),  # Excel keeps a workbook with an opening password in the same OLE wrapper
        ("问题,答案\n包邮吗？,满 99 元包邮。\n".encode("gbk"), "CSV"),  # a CSV renamed
    ],
    ids=["xls-renamed", "password", "csv-renamed"],
)
def test_a_file_named_xlsx_that_is_not_one_gets_a_chinese_error(tmp_path, data, hint):
    # Renaming faq.xls or faq.csv to faq.xlsx is how merchants "convert" it; they were told
    # "无法打开 Excel 文件：File is not a zip file".
    from bot.errors import KnowledgeFileError

    with pytest.raises(KnowledgeFileError) as caught:
        read_file(write(tmp_path, "faq.xlsx", data), tmp_path)
    assert caught.value.path == "faq.xlsx" and hint in caught.value.reason
    assert "zip" not in caught.value.reason


def test_an_office_file_the_sync_cannot_read_is_named_not_skipped_in_silence(tmp_path):
    # "常见问题.xls" (WPS's and old Excel's default) or a Word document was skipped without a word:
    # the merchant saw "0 个文件" and a bot that knew nothing.
    from bot.knowledge.sync import scan

    (tmp_path / "常见问题.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "店铺介绍.docx").write_bytes(b"PK\x03\x04")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG")
    (tmp_path / "~$常见问题.xls").write_bytes(b"")  # Office's lock file while the workbook is open
    write(tmp_path, "faq.csv", "问题,答案\n包邮吗？,满 99 元包邮。\n")
    found = scan(tmp_path)
    assert len(found.entries) == 1 and found.files == 1 and not found.errors
    assert len(found.warnings) == 2
    xls, docx = sorted(found.warnings)
    assert "docs/店铺介绍.docx" in xls + docx and "常见问题.xls" in xls + docx
    assert all("没有读取" in w for w in found.warnings)


@pytest.mark.parametrize("name", ["茶叶.md", "关于我们.txt", "faq.jsonl"])
def test_a_file_saved_empty_keeps_what_it_held_like_an_empty_csv_does(tmp_path, name):
    # A save that crashed, or a cloud-drive placeholder, leaves a 0-byte file. An empty CSV was
    # an error (its entries kept); an empty .md/.txt/.jsonl deleted every entry it held, silently.
    from bot.knowledge.sync import plan, scan

    contents = {
        "茶叶.md": "# 茶\n## 龙井保质期多久？\n冷藏 18 个月。\n",
        "关于我们.txt": "本店创立于 2010 年，专营西湖龙井。\n",
        "faq.jsonl": '{"question": "包邮吗？", "answer": "满 99 元包邮。"}\n',
    }
    write(tmp_path, name, contents[name])
    before = scan(tmp_path)
    stored = {e.id: (e.content_hash, e.source) for e in before.entries.values()}
    assert stored
    for empty in (b"", b"\r\n  \n"):
        write(tmp_path, name, empty)
        after = scan(tmp_path)
        report = plan(after, stored)
        assert report.removed == [] and report.kept_despite_errors == len(stored)
        [error] = report.errors
        assert error.path == name and "空" in error.reason


@pytest.mark.parametrize(
    "name,text,line",
    [
        ("faq.json", '[\n{"question": "包邮吗？", "answer": "满 99 元包邮。"}，\n{"question": "几天到？", "answer": "2–4 天"}\n]', 2),
        ("faq.json", '[\n{"question": "包邮吗？", "answer": "满 99 元包邮。",}\n]', 2),
        ("faq.json", '[\n{“question”: "包邮吗？", "answer": "满 99 元包邮。"}\n]', 2),
        ("faq.json", '[\n{"question": "包邮吗？" "answer": "满 99 元包邮。"}\n]', 2),
        ("faq.jsonl", '{"question": "包邮吗？", "answer": "满 99 元包邮。}\n', 1),
    ],
    ids=["full-width-comma", "trailing-comma", "curly-quotes", "missing-comma", "unclosed-string"],
)
def test_json_errors_are_in_chinese_with_line_and_column(tmp_path, name, text, line):
    # A JSON file edited by hand gets Chinese punctuation from the IME; the merchant was shown
    # Python's "Expecting ',' delimiter" or "Expecting property name enclosed in double quotes".
    from bot.errors import KnowledgeFileError

    try:
        errors = read_file(write(tmp_path, name, text), tmp_path).errors
    except KnowledgeFileError as raised:
        errors = [raised]
    [error] = errors
    assert error.path == name and error.line == line
    assert not re.search(r"[A-Za-z]{3,}", error.reason.replace("JSON", "")), error.reason
    assert "列" in error.reason


def test_a_file_the_bot_may_not_read_is_named_in_chinese_and_keeps_its_entries(tmp_path, monkeypatch):
    # A file copied in from another account or a Windows share: the merchant was shown
    # "无法读取：Permission denied" (the system's English).
    import errno

    from bot.knowledge.sync import plan, scan

    write(tmp_path, "faq.csv", "问题,答案\n包邮吗？,满 99 元包邮。\n")
    stored = {e.id: (e.content_hash, e.source) for e in scan(tmp_path).entries.values()}
    real = Path.read_bytes

    def read_bytes(path):
        if path.name == "faq.csv":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    report = plan(scan(tmp_path), stored)
    assert report.removed == [] and report.kept_despite_errors == 1
    [error] = report.errors
    assert error.path == "faq.csv" and error.reason.startswith("无法读取：没有读取权限")


def test_a_dry_run_names_the_file_of_every_entry_it_would_delete(tmp_path, capsys):
    # The plan listed what it would delete as bare ids ("- 2cc2afdee114bcfb"): nobody could tell
    # that they were the entries of the file just renamed, nor check it before syncing.
    from bot.cli.knowledge_cmds import _print_report
    from bot.knowledge.sync import plan, scan

    write(tmp_path, "faq.csv", "问题,答案\n包邮吗？,满 99 元包邮。\n几天到？,2–4 天。\n")
    stored = {e.id: (e.content_hash, e.source) for e in scan(tmp_path).entries.values()}
    (tmp_path / "faq.csv").rename(tmp_path / "常见问题.csv")
    report = plan(scan(tmp_path), stored)
    report.dry_run = True
    _print_report(report)
    out = capsys.readouterr().out
    removed = [line for line in out.splitlines() if line.startswith("  - ")]
    assert len(removed) == 2 and all("faq.csv" in line for line in removed)
    assert all(entry_id in out for entry_id in stored)


@pytest.mark.parametrize(
    "message,expected",
    [
        ("沒關係，幾時發貨？", "没关系，什么时候发货？"),  # Taiwanese Mandarin: 關係 is 关系, not 关是
        ("有關係嗎", "有关系吗"),
        ("唔該，幾時發貨？", "谢谢，什么时候发货？"),  # Cantonese thanks, not 不该 (should not)
        ("唔使運費？", "不用运费？"),  # no need, not 不使
        ("係咪包郵？", "是不是包邮？"),  # still Cantonese 係 = 是
        ("胃唔系几好，饮普洱好吗", "胃不是几好，喝普洱好吗"),  # 唔係 typed in Simplified: not 不系
    ],
)
def test_everyday_words_are_not_turned_into_other_words(message, expected):
    from bot.knowledge.normalize import normalize_message

    assert normalize_message(message) == expected


@pytest.mark.parametrize(
    "message",
    [
        "请快点解决一下", "麻烦给一点解释", "能不能快点解答", "我这边到现在还没收到货", "你们那边到底发没发货",
        "那边个人信息要填吗", "海边度假的民宿还有房吗", "然而家里人说不合适", "我去了边境那边", "放在旁边家里",
        "保温杯盖子冒热气正常吗", "热气球能寄吗", "锅里的热气烫手", "空调热气不足",  # steam, not 上火
    ],
)
def test_mandarin_complaints_are_not_read_as_cantonese(message):
    # 快点解决 (please fix it) was searched as 快为什么决, 这边到现在 (till now, on my side) as
    # 这哪里现在: the Cantonese words 点解 (why) and 边到 (where) matched inside Mandarin ones.
    from bot.knowledge.normalize import normalize_message

    assert normalize_message(message) == message


@pytest.mark.parametrize(
    "message,expected",
    [
        ("點解仲未發貨？", "为什么还未发货？"), ("點解咁貴", "为什么这么贵"), ("寄去邊度？", "寄去哪里？"),
        ("你喺邊到？", "你在哪里？"), ("邊個收貨？", "谁收货？"), ("我個包裹去咗邊？", "我个包裹哪里？"),
        ("而家有冇貨？", "现在有没有货？"), ("邊間分店近啲", "哪家分店近些"),
        ("白茶會唔會熱氣", "白茶会不会上火"), ("荔枝好熱氣", "荔枝好上火"), ("這個茶熱氣嗎", "这个茶上火吗"),
    ],
)
def test_cantonese_where_and_why_are_still_read(message, expected):
    from bot.knowledge.normalize import normalize_message

    assert normalize_message(message) == expected


def test_recycle_bins_and_tool_folders_are_not_knowledge(tmp_path):
    # An Obsidian vault keeps deleted notes in .trash/ and its settings in .obsidian/*.json; a
    # Synology share keeps deleted files in #recycle/; unzipping on a Mac leaves __MACOSX/. The
    # bot answered from deleted notes, and every settings file was a "broken FAQ" error.
    from bot.knowledge.sync import scan

    write(tmp_path, "faq.md", "# 售后\n## 怎么退货？\n七天无理由退货。\n")
    for folder, name, text in [
        (".trash", "旧规则.md", "# 售后\n## 怎么退货？\n十五天无理由退货。\n"),
        (".obsidian", "app.json", '{"theme": "dark"}'),
        ("#recycle", "旧价格.csv", "问题,答案\n包邮吗？,满 59 元包邮。\n"),
        ("__MACOSX", "faq.csv", "问题,答案\n包邮吗？,满 59 元包邮。\n"),
        ("$RECYCLE.BIN", "faq.csv", "问题,答案\n包邮吗？,满 59 元包邮。\n"),
    ]:
        (tmp_path / folder).mkdir()
        write(tmp_path / folder, name, text)
    found = scan(tmp_path)
    assert [(e.source, e.answer) for e in found.entries.values()] == [("faq.md", "七天无理由退货。")]
    assert found.errors == [] and found.files == 1


def test_a_copy_of_a_faq_file_is_named_since_it_makes_its_questions_ambiguous(tmp_path):
    # Windows names a copy "faq - 副本.csv". Each question then had two identical entries, the
    # gate saw no margin between them and handed off questions it answered before (3 of 5 on
    # the sample shop), and no warning said why: identical answers were not reported.
    from bot.knowledge.sync import scan

    text = "问题,答案,相似问题\n包邮吗？,满 99 元包邮。,运费多少\n几天到？,一般 2–4 天。,\n"
    write(tmp_path, "faq.csv", text)
    write(tmp_path, "faq - 副本.csv", text)
    write(tmp_path, "more.csv", "问题,答案\n包邮吗？,满 59 元包邮。\n")  # a real conflict: both stay, warned
    found = scan(tmp_path)
    assert len(found.entries) == 5  # nothing is dropped: the merchant decides which copy goes
    copies = [w for w in found.warnings if "完全相同" in w]
    [copy] = copies  # one line for the file, not one per question
    assert "faq.csv" in copy and "faq - 副本.csv" in copy and "2 条" in copy
    assert any("答案不同" in w and "more.csv" in w for w in found.warnings)


def test_markdown_with_an_answer_heading_under_each_question_keeps_the_questions(tmp_path):
    # A template that labels each answer with its own heading: `### 回答` is no question.
    text = "# 售后\n## 怎么退货？\n### 回答\n七天无理由退货。\n## 运费谁出？\n### 答：\n质量问题我们出。\n"
    entries = read_file(write(tmp_path, "faq.md", text), tmp_path).entries
    assert [(e.question, e.category) for e in entries] == [("怎么退货？", "售后"), ("运费谁出？", "售后")]
    assert entries[0].answer == "### 回答\n七天无理由退货。"


def test_a_title_row_above_the_header_is_skipped(tmp_path):
    # Chinese spreadsheets open with a title row merged across the columns (常见问题汇总); the
    # whole file was refused with "表头缺少 question/问题 列（表头是：常见问题汇总, , ）".
    from openpyxl import Workbook

    write(tmp_path, "faq.csv", "常见问题汇总（2024 版）,,\n,,\n问题,答案,分类\n怎么退货？,七天无理由退货。,售后\n", "gbk")
    [entry] = read_file(tmp_path / "faq.csv", tmp_path).entries
    assert (entry.question, entry.category, entry.line) == ("怎么退货？", "售后", 4)
    book = Workbook()
    book.active.append(["小店客服话术"])
    book.active.append(["问题", "答案"])
    book.active.append(["运费谁出？", "质量问题我们出。"])
    book.save(tmp_path / "faq.xlsx")
    [entry] = read_file(tmp_path / "faq.xlsx", tmp_path).entries
    assert (entry.question, entry.line) == ("运费谁出？", 3)


def test_a_table_without_a_header_is_still_refused_at_its_first_line(tmp_path):
    from bot.errors import KnowledgeFileError

    write(tmp_path, "faq.csv", "问提,答案\n怎么退货？,七天无理由退货。\n运费谁出？,质量问题我们出。\n")
    with pytest.raises(KnowledgeFileError) as caught:
        read_file(tmp_path / "faq.csv", tmp_path)
    assert caught.value.line == 1 and "问提" in caught.value.reason


ESCAPES = "\x1b]0;已被接管\x07\x1b[2J\u202e"  # retitle the window, clear the screen, reverse the text


def test_index_output_does_not_pass_terminal_escapes_from_files(tmp_path, capsys):
    # Text pasted into a FAQ from a web page or chat can carry escape sequences; `index` printed
    # questions, file names and error text raw, and the terminal obeyed them (other commands
    # already strip them with bot.textio.printable).
    from bot.cli.knowledge_cmds import _print_report
    from bot.knowledge.sync import plan, scan

    write(tmp_path, "faq.csv", f"问题,答案\n包邮吗？{ESCAPES},满 99 元包邮。\n坏,行,多{ESCAPES}\n")
    write(tmp_path, "more.csv", f"问题,答案\n包邮吗？{ESCAPES},满 59 元包邮。\n")
    report = plan(scan(tmp_path), {"0123456789abcdef": ("hash", f"old{ESCAPES}.csv")})
    report.dry_run = True
    _print_report(report)
    out, err = capsys.readouterr()
    assert "包邮吗？" in out and "faq.csv:3" in err and "答案不同" in err
    assert not any(ch in out + err for ch in "\x1b\x07\u202e")


def test_search_output_does_not_pass_terminal_escapes_from_files(monkeypatch):
    from types import SimpleNamespace

    from click.testing import CliRunner

    from bot.cli import cli
    from bot.cli import knowledge_cmds
    from bot.knowledge.entries import Hit

    hit = Hit(id="e1", question=f"包邮吗？{ESCAPES}", answer=f"满 99 元包邮。{ESCAPES}", source=f"faq{ESCAPES}.csv", score=1.0)
    knowledge = SimpleNamespace(search=lambda query, top_k: [hit])
    monkeypatch.setattr(knowledge_cmds, "command_services", lambda: SimpleNamespace(knowledge=knowledge))
    result = CliRunner().invoke(cli, ["search", "包邮吗"])
    assert result.exit_code == 0 and "包邮吗？" in result.output and "满 99 元包邮。" in result.output
    assert not any(ch in result.output for ch in "\x1b\x07\u202e")


def test_excel_cells_typed_as_dates_times_and_percentages_read_as_the_merchant_sees_them(tmp_path):
    # Excel turns "18:00", "2024-06-18" and "10%" into a time, a date and 0.1: the customer was
    # told the shop closes at "18:00:00", the sale ends "2024-06-18 00:00:00", the discount is "0.1".
    import datetime

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["问题", "答案"])
    sheet.append(["几点下班？", datetime.time(18, 0)])
    sheet.append(["活动哪天结束？", datetime.datetime(2024, 6, 18)])
    sheet.append(["会员打几折？", 0.1])
    sheet["B4"].number_format = "0%"
    sheet.append(["运费多少？", 10.0])
    sheet.append(["几点开始直播？", datetime.datetime(2024, 6, 18, 20, 30)])
    book.save(tmp_path / "faq.xlsx")
    answers = [e.answer for e in read_file(tmp_path / "faq.xlsx", tmp_path).entries]
    assert answers == ["18:00", "2024-06-18", "10%", "10", "2024-06-18 20:30"]


@pytest.mark.parametrize(
    "message,expected",
    [
        ("https://m.tb.cn/h.5Xyz?tk=abc 呢件有冇貨", "https://m.tb.cn/h.5Xyz?tk=abc 呢件有没有货"),
        ("https://item.jd.com/100012.html 这个有吗", "https://item.jd.com/100012.html 这个有吗"),
        ("https://shop.example.com/order/return?points=1 点样退？", "https://shop.example.com/order/return?points=1 怎么退？"),
        ("我邮箱是 dd.kf@sf-express.com，order 发票寄这里", "我邮箱是 dd.kf@sf-express.com，订单 发票寄这里"),
        ("看下item.jd.com/100012的dd", "看下item.jd.com/100012的订单"),
    ],
)
def test_links_and_email_addresses_are_searched_as_written(message, expected):
    # A pasted shop link became https://shop.example.com/订单/退货?积分=1: the search read order,
    # return and points into a link and steered to the FAQ on points; m.tb.cn became m.淘宝.cn.
    from bot.knowledge.normalize import normalize_message

    assert normalize_message(message) == expected


def test_a_markdown_heading_with_a_long_run_of_spaces_reads_at_once(tmp_path):
    # The closing-hashes pattern backtracked on a run of spaces: 20,000 spaces took 2.7 s and a
    # pasted block of a few hundred thousand would hold up the whole sync.
    import time

    text = "# 售后\n## 怎么退货？" + " " * 300_000 + "x\n七天无理由退货。\n## 运费 ##\n包邮。\n"
    started = time.perf_counter()
    entries = read_file(write(tmp_path, "faq.md", text), tmp_path).entries
    assert time.perf_counter() - started < 1.0
    assert [e.question for e in entries][1] == "运费"
