"""Every supported format and encoding reads; every kind of bad file is named with line and reason."""

import json
from pathlib import Path

import pytest
from openpyxl import Workbook

from bot.errors import KnowledgeFileError
from bot.knowledge.readers import is_knowledge_file, read_file

CSV_TEXT = "问题,答案,相似问题,分类,标签\n包邮吗？,满 99 元包邮。,运费多少|要运费吗,物流,运费\n几天到？,一般 2–4 天。,,物流,\n"


def write(tmp_path: Path, name: str, data: str | bytes, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


@pytest.mark.parametrize(
    "encoding,prefix",
    [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("gbk", b""), ("gb18030", b"")],
    ids=["utf8", "utf8-bom", "gbk", "gb18030"],
)
def test_csv_reads_in_each_encoding(tmp_path, encoding, prefix):
    path = write(tmp_path, "faq.csv", prefix + CSV_TEXT.encode(encoding))
    result = read_file(path, tmp_path)
    assert not result.errors
    first, second = result.entries
    assert first.question == "包邮吗？"
    assert first.answer == "满 99 元包邮。"
    assert first.similar == ("运费多少", "要运费吗")
    assert first.category == "物流" and first.tags == ("运费",)
    assert first.line == 2 and second.line == 3
    assert second.similar == ()


def test_english_headers_and_tsv(tmp_path):
    path = write(tmp_path, "faq.tsv", "Question\tAnswer\tSimilar\nDo you ship abroad?\tNo, mainland only.\tOverseas?\n")
    [entry] = read_file(path, tmp_path).entries
    assert entry.question == "Do you ship abroad?" and entry.similar == ("Overseas?",)


def test_xlsx(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["问题", "答案", "相似问题"])
    sheet.append(["能开发票吗？", "可以开电子普通发票。", "怎么开票"])
    sheet.append([None, None, None])
    sheet.append(["有门店吗？", 18, None])
    book.save(tmp_path / "faq.xlsx")
    entries = read_file(tmp_path / "faq.xlsx", tmp_path).entries
    assert [e.question for e in entries] == ["能开发票吗？", "有门店吗？"]
    assert entries[1].answer == "18" and entries[1].line == 4


def test_markdown_faq_with_categories_and_similar_line(tmp_path):
    text = (
        "# 茶叶\n\n## 龙井保质期多久？\n相似问题：龙井能放多久 | 绿茶保质期\n冷藏 18 个月。\n\n开封后一个月内喝完。\n"
        "# 茶具\n## 紫砂壶怎么开壶？\n清水煮 30 分钟。\n"
    )
    path = write(tmp_path, "faq.md", text)
    first, second = read_file(path, tmp_path).entries
    assert (first.question, first.category, first.line) == ("龙井保质期多久？", "茶叶", 3)
    assert first.similar == ("龙井能放多久", "绿茶保质期")
    assert first.answer == "冷藏 18 个月。\n\n开封后一个月内喝完。"
    assert (second.category, second.answer) == ("茶具", "清水煮 30 分钟。")


def test_json_and_jsonl(tmp_path):
    data = [{"question": "包邮吗？", "answer": "满 99 包邮", "similar": ["运费多少"], "tags": ["物流"]}]
    json_path = write(tmp_path, "a.json", json.dumps({"entries": data}, ensure_ascii=False))
    jsonl_path = write(tmp_path, "b.jsonl", "\n".join(json.dumps(d, ensure_ascii=False) for d in data * 2))
    [entry] = read_file(json_path, tmp_path).entries
    assert entry.similar == ("运费多少",) and entry.tags == ("物流",)
    assert len(read_file(jsonl_path, tmp_path).entries) == 2


def test_plain_text_becomes_retrievable_passages(tmp_path):
    text = "我们是一家杭州的茶铺。\n\n" + "茶园开放参观，每年三月到四月可以预约。" * 30
    entries = read_file(write(tmp_path, "about.txt", text), tmp_path).entries
    assert len(entries) > 1
    assert all(e.kind == "passage" and len(e.answer) <= 300 for e in entries)
    assert entries[0].question.startswith("about：")
    assert len({e.id for e in entries}) == len(entries)


def test_markdown_without_question_headings_is_a_passage(tmp_path):
    [entry] = read_file(write(tmp_path, "policy.md", "# 退货政策\n\n七天无理由退货。"), tmp_path).entries
    assert entry.kind == "passage" and "七天无理由" in entry.answer


@pytest.mark.parametrize(
    "name,data,line,reason",
    [
        ("bad.csv", b"question,answer\n\x80\x81\xff\xfe\x90\n", 2, "编码"),
        ("bin.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None, "二进制"),
        ("nocol.csv", "问题,回复\n包邮吗,包邮\n".encode(), 1, "答案"),
        ("empty.csv", b"", None, "空"),
        ("broken.json", '[{"question": "a", "answer": }]'.encode(), 1, "JSON"),
        ("fake.xlsx", b"this is not a spreadsheet", None, "Excel"),
    ],
)
def test_bad_files_name_file_line_and_reason(tmp_path, name, data, line, reason):
    path = write(tmp_path, name, data)
    with pytest.raises(KnowledgeFileError) as info:
        read_file(path, tmp_path)
    assert info.value.path == name
    assert info.value.line == line
    assert reason in info.value.reason


def test_bad_rows_are_reported_and_good_rows_kept(tmp_path):
    text = "问题,答案\n包邮吗？,满 99 元包邮\n多列,答案,多出来的\n,没有问题\n几天到？,2–4 天\n"
    result = read_file(write(tmp_path, "faq.csv", text), tmp_path)
    assert [e.question for e in result.entries] == ["包邮吗？", "几天到？"]
    assert [(e.line, e.path) for e in result.errors] == [(3, "faq.csv"), (4, "faq.csv")]
    assert "列" in result.errors[0].reason and "问题" in result.errors[1].reason


def test_jsonl_bad_line_is_reported(tmp_path):
    text = '{"question": "a", "answer": "b"}\nnot json\n{"question": "c"}\n'
    result = read_file(write(tmp_path, "x.jsonl", text), tmp_path)
    assert [e.question for e in result.entries] == ["a"]
    assert [e.line for e in result.errors] == [2, 3]


@pytest.mark.parametrize(
    "name,synced",
    [("faq.csv", True), ("README.md", False), ("~$faq.xlsx", False), (".DS_Store", False), ("a.pdf", False)],
)
def test_which_files_are_synced(name, synced):
    assert is_knowledge_file(Path(name)) is synced


def test_entry_id_is_stable_across_answer_edits_and_hash_is_not(tmp_path):
    before = read_file(write(tmp_path, "faq.csv", "问题,答案\n包邮吗？,满 99 包邮\n"), tmp_path).entries[0]
    after = read_file(write(tmp_path, "faq.csv", "问题,答案\n包邮吗？,满 199 包邮\n"), tmp_path).entries[0]
    assert before.id == after.id
    assert before.content_hash != after.content_hash


def test_unclosed_quote_is_reported_where_it_opened_and_other_rows_are_kept(tmp_path):
    rows = [f"问题{n},答案{n}" for n in range(2, 22)]
    rows[2] = '问题4,"答案4没有闭合的引号'  # line 4 of 21
    text = "问题,答案\n" + "\n".join(rows) + "\n"
    result = read_file(write(tmp_path, "quote.csv", text), tmp_path)
    [error] = result.errors
    assert (error.path, error.line) == ("quote.csv", 4)
    assert "第 4 行的引号没有闭合" in error.reason and "21" in error.reason
    assert [e.question for e in result.entries] == [f"问题{n}" for n in range(2, 22) if n != 4]
    assert [e.line for e in result.entries][:3] == [2, 3, 5]
