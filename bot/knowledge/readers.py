"""Read FAQ files of every supported format into `Entry` objects.

A file that cannot be read at all raises `KnowledgeFileError`; a bad row inside an otherwise
good file is reported as a `KnowledgeFileError` in the result and the other rows are kept.
Encodings are detected, never assumed: merchants export from Excel on Windows (GBK) as often
as from a Mac (UTF-8), sometimes with a BOM.
"""

from __future__ import annotations

import csv
import datetime
import errno
import io
import json
import os
import re
import stat
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import KnowledgeFileError
from bot.knowledge.entries import Entry
from bot.textio import csv_reason

if TYPE_CHECKING:
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

TABLE_SUFFIXES = {".csv", ".tsv", ".xlsx"}
JSON_SUFFIXES = {".json", ".jsonl"}
TEXT_SUFFIXES = {".md", ".markdown", ".txt"}
SUPPORTED_SUFFIXES = TABLE_SUFFIXES | JSON_SUFFIXES | TEXT_SUFFIXES
# Office files a merchant may drop in the folder and expect read: named, so they are not skipped in silence.
UNREADABLE_SUFFIXES = {
    ".xls": "请在 Excel 或 WPS 里另存为 .xlsx 或 .csv",
    ".xlsm": "请另存为 .xlsx 或 .csv",
    ".et": "请在 WPS 里另存为 .xlsx 或 .csv",
    ".ods": "请另存为 .xlsx 或 .csv",
    ".numbers": "请在 Numbers 里导出为 Excel 或 CSV",
    ".doc": "请把文字另存为 .txt 或 .md",
    ".docx": "请把文字另存为 .txt 或 .md",
    ".wps": "请把文字另存为 .txt 或 .md",
    ".odt": "请把文字另存为 .txt 或 .md",
    ".pages": "请把文字导出为 .txt",
    ".rtf": "请把文字另存为 .txt 或 .md",
    ".pdf": "请把文字复制到 .txt 或 .md 文件",
}

# Column and key names merchants use, English or Chinese, mapped to our fields.
FIELD_ALIASES = {
    "question": ("question", "问题", "标准问题", "问"),
    "answer": ("answer", "答案", "回答", "答"),
    "similar": ("similar", "相似问题", "相似问法", "similar_questions"),
    "category": ("category", "分类", "类别"),
    "tags": ("tags", "标签"),
}
_ALIAS_TO_FIELD = {alias.lower(): name for name, aliases in FIELD_ALIASES.items() for alias in aliases}


def _field_name(header: str) -> str | None:
    """Our field for a column header or JSON key as merchants type it: padded (问 题), in
    full-width letters (Ｑｕｅｓｔｉｏｎ), wrapped in its cell with Alt+Enter, behind a BOM."""
    key = re.sub(r"[\s\ufeff]+", "", unicodedata.normalize("NFKC", header)).lower()
    return _ALIAS_TO_FIELD.get(key)

_SIMILAR_LINE = re.compile(r"^\s*(?:相似问题|相似问法|similar)\s*[:：]\s*(.*)$", re.IGNORECASE)
_TAG_SPLIT = re.compile(r"[,，、|;；]\s*")
# `|` as documented, the bar typed with a Chinese IME, and one per line in an Excel cell (Alt+Enter).
_SIMILAR_SPLIT = re.compile(r"[|｜\r\n]")
XLSX_MAX_UNPACKED = 200_000_000  # bytes of XML a 5 MB spreadsheet may unpack to
HEADER_SEARCH_ROWS = 5  # non-empty rows looked at for the header (title rows may come first)
PASSAGE_CHUNK_SIZE = 300
PASSAGE_CHUNK_OVERLAP = 40


@dataclass
class FileResult:
    """What one file yielded: its entries and the rows that could not be used."""

    entries: list[Entry] = field(default_factory=list)
    errors: list[KnowledgeFileError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def is_knowledge_file(path: Path) -> bool:
    """Tell whether a file in the knowledge dir should be synced.

    README files document the folder for maintainers, and dot/underscore files are editor
    or OS leftovers (`~$faq.xlsx`, `.DS_Store`); none of them is shop knowledge.
    """
    name = path.name
    return (
        path.suffix.lower() in SUPPORTED_SUFFIXES
        and not name.startswith((".", "_", "~$"))
        and path.stem.lower() != "readme"
    )


@dataclass
class Walk:
    """What is in the knowledge dir: the files to read and what could not be looked at."""

    files: list[tuple[Path, int]] = field(default_factory=list)  # (path, size in bytes)
    errors: list[KnowledgeFileError] = field(default_factory=list)  # unreachable: their entries are kept
    refused: list[KnowledgeFileError] = field(default_factory=list)  # links out of the folder: not read
    warnings: list[str] = field(default_factory=list)


def walk_knowledge_dir(root: Path) -> Walk:
    """Find the knowledge files under root without following links out of it.

    A link whose target is gone or loops (an unmounted share) is an error, not a deletion: its
    entries stay until the target is back. A link out of the folder is not read (a link to
    /etc/passwd must not become searchable). Links to folders are not descended; only regular
    files are read (a named pipe would block the sync for ever).
    """
    real_root = root.resolve()
    walk = Walk()
    pending = [root]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as found:
                children = sorted(found, key=lambda child: child.name)
        except OSError as exc:
            where = directory.relative_to(root).as_posix()
            walk.errors.append(KnowledgeFileError(where or ".", None, f"无法读取目录：{os_reason(exc)}"))
            continue
        for child in reversed(children):  # popped from the end: keeps the walk in name order
            path = Path(child.path)
            relative = path.relative_to(root)
            source = relative.as_posix()
            if child.is_symlink():
                try:
                    target = path.resolve(strict=True)
                except (OSError, RuntimeError):
                    if is_knowledge_file(relative) or not relative.suffix:
                        walk.errors.append(KnowledgeFileError(
                            source, None, "链接指向的位置不存在或成环（共享盘没挂载？），已同步的旧条目保留"
                        ))
                    continue
                if not target.is_relative_to(real_root):
                    if target.is_dir() or is_knowledge_file(relative):
                        walk.refused.append(KnowledgeFileError(
                            source, None, f"链接指向知识库目录之外（{target}），不读取"
                        ))
                    continue
                if target.is_dir():
                    walk.warnings.append(f"{source}：不跟随指向文件夹的链接（它指向的内容已在知识库目录里）")
                    continue
            elif child.is_dir(follow_symlinks=False):
                if not _is_skipped_folder(child.name):
                    pending.append(path)
                continue
            if not is_knowledge_file(relative):
                hint = UNREADABLE_SUFFIXES.get(relative.suffix.lower())
                if hint and not relative.name.startswith((".", "_", "~$")):
                    walk.warnings.append(f"{source}：不支持 {relative.suffix} 格式，没有读取（{hint}）")
                continue
            try:
                info = path.stat()
            except OSError as exc:
                walk.errors.append(KnowledgeFileError(source, None, f"无法读取：{os_reason(exc)}"))
                continue
            if not stat.S_ISREG(info.st_mode):
                if not stat.S_ISDIR(info.st_mode):
                    walk.errors.append(KnowledgeFileError(source, None, "不是普通文件（管道或设备），不读取"))
                continue
            walk.files.append((path, info.st_size))
    return walk


_OS_REASONS = {
    errno.EACCES: "没有读取权限（文件是从别的账号或共享盘拷来的？请改一下权限）",
    errno.EPERM: "没有读取权限（请改一下文件权限）",
    errno.ENOENT: "文件不见了（刚被移走或删除？）",
    errno.EIO: "磁盘读写出错（共享盘断开了？）",
    errno.ESTALE: "共享盘上的文件句柄失效（共享盘重新挂载过？）",
    errno.ENOTCONN: "共享盘没有连接",
    errno.EHOSTDOWN: "共享盘所在的机器连不上",
    errno.ETIMEDOUT: "读取超时（共享盘太慢或断开了？）",
}


def os_reason(exc: OSError) -> str:
    """An OS error in Chinese (the system's own words, English on a server, kept for support)."""
    theirs = str(exc.strerror or exc)
    ours = _OS_REASONS.get(exc.errno or 0)
    return f"{ours}；系统提示：{theirs}" if ours else theirs


# Folders tools and file systems keep beside the shop's files: recycle bins hold deleted files
# under their old names (answering from them would undo a deletion), the rest hold settings.
_SKIPPED_FOLDERS = {"#recycle", "$recycle.bin", "@eadir", "__macosx", "recycler", "system volume information"}


def _is_skipped_folder(name: str) -> bool:
    """Dot folders (.trash, .obsidian, .git, .Trashes) and the folders named above."""
    return name.startswith(".") or name.lower() in _SKIPPED_FOLDERS


def iter_knowledge_files(root: Path) -> Iterator[Path]:
    for path, _ in walk_knowledge_dir(root).files:
        yield path


def read_file(path: Path, root: Path) -> FileResult:
    """Read one knowledge file; raise `KnowledgeFileError` if nothing in it can be used."""
    source = path.relative_to(root).as_posix()
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        unread: list[str] = []
        result = _rows_to_entries(source, _xlsx_rows(path, source, unread))
        if unread:
            result.warnings.append(
                f"{source}：只读取第一个工作表，工作表{''.join(f'「{name}」' for name in unread)}里的内容没有读取"
                "（请把问答都放在第一个工作表，或每个工作表另存为一个文件）"
            )
        return result
    text = decode(path.read_bytes(), source)
    if not text.strip():  # a save that crashed, a cloud-drive placeholder: not "the shop knows nothing"
        raise KnowledgeFileError(source, None, "文件是空的：已同步的旧条目保留；如果要删除这些条目，请删除这个文件")
    if suffix in (".csv", ".tsv"):
        return _rows_to_entries(source, _csv_rows(text, source, "\t" if suffix == ".tsv" else ","))
    if suffix == ".json":
        return _objects_to_entries(source, _json_objects(text, source))
    if suffix == ".jsonl":
        return _objects_to_entries(source, _jsonl_objects(text, source))
    if suffix in (".md", ".markdown") and _has_question_headings(text):
        return _markdown_faq(text, source)
    return FileResult(entries=_passages(text, source))


def decode(data: bytes, source: str) -> str:
    """Decode bytes as UTF-8 (with or without BOM) or GB18030/GBK, refusing binaries."""
    if data.startswith(b"\xef\xbb\xbf"):
        return _strict(data[3:], "utf-8", source)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _strict(data, "utf-16", source)
    if b"\x00" in data[:8192]:
        text = _utf16_without_bom(data)
        if text is None:
            raise KnowledgeFileError(source, None, "看起来是二进制文件，不是文本（含 NUL 字节）")
        return text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # GB18030 is a superset of GBK and GB2312, so one attempt covers all three. It accepts
    # almost any byte pair, so the result must also look like text to count.
    for encoding in ("gb18030", "big5"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_like_text(text):
            return text
    line = data[: _first_bad_utf8_offset(data)].count(b"\n") + 1
    raise KnowledgeFileError(source, line, "无法识别文件编码（支持 UTF-8、带 BOM 的 UTF-8、GBK）")


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text saved without a BOM (some Windows exports): ASCII characters (digits,
    punctuation, line breaks) then put their NUL byte all on the same side of each pair."""
    if len(data) % 2:
        return None
    sample = data[:8192]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    encoding = "utf-16-le" if odd > even else "utf-16-be"
    if min(even, odd) * 10 > max(even, odd):
        return None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    return text if _looks_like_text(text) and "\x00" not in text else None


def _looks_like_text(text: str) -> bool:
    # isspace: Chinese paragraphs open with ideographic spaces (U+3000), which are not "printable".
    odd = sum(
        1 for ch in text if not (ch.isprintable() or ch.isspace()) or "\ue000" <= ch <= "\uf8ff"
    )
    return odd <= len(text) // 100


def _strict(data: bytes, encoding: str, source: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise KnowledgeFileError(source, line, f"不是有效的 {encoding} 文本") from exc


def _first_bad_utf8_offset(data: bytes) -> int:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return 0


# --- tables -------------------------------------------------------------------------------


def _csv_rows(text: str, source: str, delimiter: str) -> Iterator[tuple[int, list[str] | KnowledgeFileError]]:
    """Rows with the line each starts on. A malformed record (an unclosed quote swallows the
    rest of the file) is reported at the line where it began, and reading starts again on the
    line after it, so rows before and after it are kept."""
    lines = io.StringIO(text, newline="").readlines()
    resume = 0  # index of the first line the current reader reads
    while resume < len(lines):
        reader = csv.reader((lines[i] for i in range(resume, len(lines))), delimiter=delimiter, strict=True)
        start = resume + 1
        try:
            for row in reader:
                yield start, row
                start = resume + reader.line_num + 1
            return
        except csv.Error as exc:
            reached = resume + reader.line_num
            if "unexpected end of data" in str(exc):
                reason = f"第 {start} 行的引号没有闭合（一直读到第 {reached} 行文件末尾），这条记录未导入"
            elif reached > start:  # a quoted field ran over line ends until some later quote
                reason = f"第 {start} 行的引号没有闭合（读到第 {reached} 行才遇到下一个引号），这条记录未导入"
            else:
                reason = f"{csv_reason(exc)}，这条记录未导入"
            yield start, KnowledgeFileError(source, start, f"CSV 格式错误：{reason}")
            resume = start


def _xlsx_rows(
    path: Path, source: str, unread: list[str]
) -> Iterator[tuple[int, list[str] | KnowledgeFileError]]:
    """The first sheet's rows; the names of the other sheets that hold anything go to `unread`."""
    from openpyxl import load_workbook

    _refuse_zip_bomb(path, source)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a corrupt or mislabelled file
        raise KnowledgeFileError(source, None, f"无法打开 Excel 文件：{exc}") from exc
    number = 0
    try:
        sheet = workbook.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(), start=1):
            yield number, [_cell_text(cell.value, getattr(cell, "number_format", "")) for cell in row]
        unread.extend(other.title for other in workbook.worksheets[1:] if _has_content(other))
    except Exception as exc:  # a truncated sheet fails part-way (ParseError, BadZipFile…): keep what was read
        yield number + 1, KnowledgeFileError(
            source, number + 1, f"Excel 文件已损坏，从这一行起无法读取：{type(exc).__name__}: {exc}"
        )
    finally:
        workbook.close()


def _cell_text(value: object, number_format: str) -> str:
    """A cell as the merchant sees it in Excel: a typed 18:00, 2024-06-18 or 10% is stored as a
    time, a date or 0.1, and str() would give 18:00:00, 2024-06-18 00:00:00 and 0.1."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time():
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M" if not value.second else "%Y-%m-%d %H:%M:%S")
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M" if not value.second else "%H:%M:%S")
    if isinstance(value, float):
        if "%" in number_format:
            return f"{value * 100:g}%"
        if value.is_integer():
            return str(int(value))
    return str(value)


def _has_content(sheet: ReadOnlyWorksheet) -> bool:
    try:
        return any(
            cell is not None and str(cell).strip() for row in sheet.iter_rows(values_only=True) for cell in row
        )
    except Exception:  # a damaged sheet that is not read anyway must not fail the one that was
        return True


def _not_xlsx(path: Path) -> str:
    """What a file named .xlsx that is no zip is: merchants rename .xls and .csv files to "convert" them."""
    try:
        with path.open("rb") as file:
            head = file.read(8)
    except OSError:
        head = b""
    if head == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        kind = "看起来是旧版 Excel（.xls）改了扩展名，或是设了打开密码的工作簿（请先取消密码）"  # both are OLE files
    elif head and b"\x00" not in head:
        kind = "看起来是文本（CSV？）改了扩展名"
    else:
        kind = "文件已损坏或不是 Excel 文件"
    return f"不是有效的 .xlsx 文件：{kind}。请在 Excel 或 WPS 里“另存为” .xlsx，或另存为 CSV（.csv）"


def _refuse_zip_bomb(path: Path, source: str) -> None:
    """An .xlsx is a zip: a few MB on disk can unpack to gigabytes of sheet XML."""
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(item.file_size for item in archive.infolist())
    except zipfile.BadZipFile:
        raise KnowledgeFileError(source, None, _not_xlsx(path)) from None
    except OSError:
        return  # openpyxl says so in its own words
    if unpacked > XLSX_MAX_UNPACKED:
        raise KnowledgeFileError(
            source, None, f"Excel 文件解压后有 {unpacked / 1e6:.0f} MB，超过 {XLSX_MAX_UNPACKED / 1e6:.0f} MB，不读取"
        )


def _rows_to_entries(source: str, rows: Iterable[tuple[int, list[str] | KnowledgeFileError]]) -> FileResult:
    result = FileResult()
    columns: dict[str, int] | None = None
    width = 0
    first_error: KnowledgeFileError | None = None  # of the first row, when it is no header
    tried = 0
    for line, row in rows:
        if isinstance(row, KnowledgeFileError):
            result.errors.append(row)
            continue
        if not any(cell.strip() for cell in row):
            continue
        if columns is None:
            try:
                columns, width = _header(row, source, line), len(row)
            except KnowledgeFileError as exc:
                # A title row merged across the columns (常见问题汇总) often sits above the header.
                first_error = first_error or exc
                tried += 1
                if tried == HEADER_SEARCH_ROWS:
                    raise first_error from None
            continue
        if any(cell.strip() for cell in row[width:]):
            result.errors.append(
                KnowledgeFileError(source, line, f"这一行有 {len(row)} 列，比表头多（是否有未加引号的逗号？）")
            )
            continue
        record = {name: row[index].strip() if index < len(row) else "" for name, index in columns.items()}
        _add_record(result, source, line, record)
    if columns is None:
        if first_error is not None:
            raise first_error
        if result.errors:
            raise result.errors[0]
        raise KnowledgeFileError(source, None, "文件是空的，没有表头")
    return result


def _header(row: list[str], source: str, line: int) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(row):
        name = _field_name(cell)
        if name and name not in columns:
            columns[name] = index
    missing = [name for name in ("question", "answer") if name not in columns]
    if missing:
        wanted = " 和 ".join(f"{FIELD_ALIASES[m][0]}/{FIELD_ALIASES[m][1]}" for m in missing)
        raise KnowledgeFileError(source, line, f"表头缺少 {wanted} 列（表头是：{', '.join(row)}）")
    return columns


# --- JSON ---------------------------------------------------------------------------------


# Python's words for what is wrong, in the merchant's: a JSON file edited by hand gets the IME's
# Chinese punctuation (，：“”), which JSON does not accept.
_JSON_MESSAGES = (
    ("Expecting ',' delimiter", "这里缺少英文逗号 ,（项与项之间要用英文逗号，中文逗号 ， 不算）"),
    ("Expecting ':' delimiter", "这里缺少英文冒号 :（键和值之间要用英文冒号，中文冒号 ： 不算）"),
    ("Expecting property name", "这里应是英文双引号括起的键名（中文引号 “” 不算；最后一项后面不能有逗号）"),
    ("Illegal trailing comma", "最后一项后面不能有逗号"),
    ("Expecting value", "这里应有一个值（多了逗号，或用了中文引号？）"),
    ("Unterminated string", "引号没有闭合"),
    ("Invalid control character", "引号里有换行或制表符（换行请写成 \\n）"),
    ("Invalid \\escape", "反斜杠用法不对（要写一个反斜杠请写成两个）"),
    ("Extra data", "数组或对象结束后还有多余的内容"),
)


def _json_reason(exc: json.JSONDecodeError) -> str:
    said = next((ours for theirs, ours in _JSON_MESSAGES if exc.msg.startswith(theirs)), exc.msg)
    return f"JSON 格式错误（第 {exc.colno} 列）：{said}"


def _json_objects(text: str, source: str) -> Iterator[tuple[int, object]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KnowledgeFileError(source, exc.lineno, _json_reason(exc)) from exc
    except RecursionError as exc:
        raise KnowledgeFileError(source, None, "JSON 嵌套层数太多，无法解析") from exc
    key = None
    if isinstance(data, dict):
        key = next((k for k in ("entries", "faq") if k in data), None)
        data = data[key] if key else [data]
    if not isinstance(data, list):
        raise KnowledgeFileError(source, 1, "JSON 顶层应是对象数组，或含 entries 数组的对象")
    # json.loads loses positions; find where each item starts so errors can still say a line.
    offsets = _item_offsets(text, key) if key or text.lstrip().startswith("[") else []
    line, counted = 1, 0
    for index, item in enumerate(data):
        if index < len(offsets):
            line += text.count("\n", counted, offsets[index])
            counted = offsets[index]
        yield line, item


_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},:]')
_NON_SPACE = re.compile(r"\S")


def _item_offsets(text: str, key: str | None) -> list[int]:
    """Offsets where the items of the top-level array (or of the top-level object's `key`
    array) begin, in one pass over the text's strings and brackets."""
    offsets: list[int] = []
    depth = 0
    target: int | None = None
    last_string = last_key = ""

    def item_after(position: int) -> None:
        found = _NON_SPACE.search(text, position)
        if found and text[found.start()] != "]":
            offsets.append(found.start())

    for token in _JSON_TOKEN.finditer(text):
        char = text[token.start()]
        if char in "[{":
            if char == "[" and target is None and (
                (key is None and depth == 0) or (key is not None and depth == 1 and last_key == key)
            ):
                target = depth + 1
                item_after(token.end())
            depth += 1
        elif char in "]}":
            depth -= 1
            if target is not None and depth < target:
                break
        elif char == ",":
            if depth == target:
                item_after(token.end())
            elif depth == 1:
                last_key = ""
        elif char == ":":
            if depth == 1:
                last_key = json.loads(last_string)
        else:
            last_string = token.group()
    return offsets


def _jsonl_objects(text: str, source: str) -> Iterator[tuple[int, object]]:
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            yield line, json.loads(raw)
        except json.JSONDecodeError as exc:
            yield line, KnowledgeFileError(source, line, _json_reason(exc))
        except RecursionError:
            yield line, KnowledgeFileError(source, line, "JSON 嵌套层数太多，无法解析")


def _objects_to_entries(source: str, objects: Iterable[tuple[int, object]]) -> FileResult:
    result = FileResult()
    for index, (line, item) in enumerate(objects, start=1):
        if isinstance(item, KnowledgeFileError):
            result.errors.append(item)
            continue
        if not isinstance(item, dict):
            kind = {list: "数组", str: "字符串", int: "数字", float: "数字", bool: "布尔值"}.get(type(item), "空值")
            result.errors.append(
                KnowledgeFileError(source, line, f"第 {index} 项是{kind}，不是对象（应有 question 和 answer）")
            )
            continue
        record: dict[str, str] = {}
        for key, value in item.items():
            name = _field_name(str(key))
            if name and value is not None:
                record[name] = " | ".join(map(str, value)) if isinstance(value, list) else str(value).strip()
        _add_record(result, source, line, record)
    return result


def _add_record(result: FileResult, source: str, line: int, record: dict[str, str]) -> None:
    question, answer = record.get("question", "").strip(), record.get("answer", "").strip()
    if not question or not answer:
        missing = "问题" if not question else "答案"
        result.errors.append(KnowledgeFileError(source, line, f"缺少{missing}（question/answer 不能为空）"))
        return
    result.entries.append(
        Entry(
            source=source,
            question=question,
            answer=answer,
            line=line,
            similar=_split_similar(record.get("similar", ""), question),
            category=record.get("category", "").strip(),
            tags=tuple(t for t in _TAG_SPLIT.split(record.get("tags", "")) if t.strip()),
        )
    )


def _split_similar(text: str, question: str) -> tuple[str, ...]:
    seen = {question}
    out = []
    for part in _SIMILAR_SPLIT.split(text):
        part = part.strip()
        if part and part not in seen:
            seen.add(part)
            out.append(part)
    return tuple(out)


# --- Markdown and plain text --------------------------------------------------------------


def _has_question_headings(text: str) -> bool:
    return any(line.startswith("## ") for line in text.splitlines())


_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*)$")


def _heading_text(raw: str) -> str:
    """A heading's text without its closing hashes (`## 运费 ##`); a # inside the text stays (C#).
    Done by hand: a pattern for it backtracks on a long run of spaces."""
    text = raw.strip()
    bare = text.rstrip("#")
    if bare != text and (not bare or bare[-1] in " \t"):
        return bare.strip()
    return text


def _question_level(lines: list[str]) -> int:
    """The heading level the questions are at: the shallowest level below `#` whose heading has
    text of its own under it. `# 分类` / `## 问题` gives 2, as documented; a merchant who titles
    the file and puts `## 售后` over `### 怎么退货？` gives 3, so 售后 is the category and not a
    question whose answer is every real question. Deeper headings are part of an answer."""
    current, shallowest = 0, 0
    texts: dict[int, list[str]] = {}
    for line in lines:
        heading = _HEADING.match(line)
        if heading:
            current = len(heading.group(1))
            texts.setdefault(current, []).append(_heading_text(heading.group(2)))
        elif current >= 2 and line.strip() and (not shallowest or current < shallowest):
            shallowest = current
    if shallowest > 2:
        # `## 怎么退货？` / `### 回答`: headings that repeat, or label an answer, are no questions.
        deeper = texts[shallowest]
        if len(set(deeper)) < len(deeper) or any(_field_name(t.rstrip("：:")) == "answer" for t in deeper):
            return 2
    return shallowest or 2


def _markdown_faq(text: str, source: str) -> FileResult:
    result = FileResult()
    category = ""
    question: str | None = None
    start = 0
    body: list[str] = []
    similar = ""

    def flush() -> None:
        if question is None:
            return
        answer = "\n".join(body).strip()
        _add_record(
            result, source, start, {"question": question, "answer": answer, "similar": similar, "category": category}
        )

    lines = text.splitlines()
    level = _question_level(lines)
    for number, line in enumerate(lines, start=1):
        heading = _HEADING.match(line)
        depth = len(heading.group(1)) if heading else 0
        if heading and depth < level:
            flush()
            question, body, similar = None, [], ""
            category = _heading_text(heading.group(2))
        elif heading and depth == level:
            flush()
            question, start, body, similar = _heading_text(heading.group(2)), number, [], ""
        elif question is not None:
            match = _SIMILAR_LINE.match(line)
            if match and not similar:
                similar = match.group(1)
            else:
                body.append(line)
    flush()
    return result


def _passages(text: str, source: str) -> list[Entry]:
    """Chunk free text so each piece is retrievable on its own, keeping its heading as a title."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=PASSAGE_CHUNK_SIZE,
        chunk_overlap=PASSAGE_CHUNK_OVERLAP,
        separators=["\n\n", "\n", "。", "！", "？", "；", "，", " ", ""],
        keep_separator="end",
    )
    title = Path(source).stem
    entries = []
    offset = 0
    line = 1  # of `offset`, counted on as chunks advance: recounting from the start is quadratic
    for chunk in splitter.split_text(text):
        chunk = chunk.strip()
        if not chunk:
            continue
        position = text.find(chunk[:20], offset)
        if position >= 0:
            line += text.count("\n", offset, position)
            offset = position
        heading = next((h.lstrip("# ").strip() for h in chunk.splitlines() if h.startswith("#")), "")
        first = chunk.lstrip("# ").splitlines()[0][:40]
        entries.append(
            Entry(
                source=source,
                question=f"{title}：{heading or first}",
                answer=chunk,
                line=line,
                category=title,
                kind="passage",
                ordinal=len(entries),
            )
        )
    return entries
