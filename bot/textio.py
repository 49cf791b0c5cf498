"""Text coming in from files and going out to a terminal.

Batch files for `ask`, `search` and `check` are read like knowledge files (UTF-8 with or
without BOM, UTF-16 with a BOM, GBK/GB18030) and refused with the file and line when they are
none of those. Text going back to a terminal loses its control characters and escape sequences:
pasted copy can carry them, and a terminal would obey them (recolour, move the cursor, retitle
the window, hide what follows).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from bot.errors import DianxiaoerError

# A UTF-8 file with a few damaged bytes is still UTF-8: reading it as GB18030 (which accepts
# almost any byte pair) would turn every line into mojibake. Below this share of bad sequences
# among its non-ASCII characters it is refused at the first damaged line instead.
_DAMAGED_UTF8_SHARE = 0.1


def read_batch_lines(path: Path) -> list[str]:
    """The lines of a batch file, decoded; a clear error naming the file (and line) otherwise."""
    from bot.knowledge.readers import decode

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DianxiaoerError(f"{path}: 无法读取（{exc.strerror or exc.__class__.__name__}）") from None
    line = _damaged_utf8_line(data)
    if line is not None:
        raise DianxiaoerError(f"{path}:{line}: 不是有效的 UTF-8 文本（这一行有无法解码的字节），请另存为 UTF-8 后重试")
    try:
        text = decode(data, str(path))
    except DianxiaoerError:
        raise
    except Exception as exc:  # whatever the reader trips on, the user sees the file, not a traceback
        raise DianxiaoerError(f"{path}: 无法读取（{exc.__class__.__name__}）") from None
    return text.splitlines()


def _damaged_utf8_line(data: bytes) -> int | None:
    """The line of the first bad byte when `data` is UTF-8 with a few damaged sequences."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    try:
        data.decode("utf-8")
        return None
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    replaced = data.decode("utf-8", errors="replace")
    bad = replaced.count("\ufffd")
    good = sum(1 for ch in replaced if ord(ch) > 0x7F) - bad
    if good == 0 or bad > good * _DAMAGED_UTF8_SHARE:
        return None  # another encoding (GBK…): let the decoder judge
    return data[:first_bad].count(b"\n") + 1


# ESC-introduced sequences (CSI "ESC [ … final", OSC "ESC ] … BEL or ESC \", and two-byte
# escapes), their 8-bit C1 forms, then any control character left apart from tab and newline,
# and the bidirectional overrides that make a terminal show text in another order than it is.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
    r"|[\x9d\x90\x98\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROLS_IN_JSON = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` without terminal escape sequences and control characters (tab and newline stay)."""
    if text.isprintable():
        return text
    return _CONTROLS.sub("", _ESCAPES.sub("", text.replace("\r\n", "\n")))


def safe_json(line: str) -> str:
    """A JSON line (from json.dumps(..., ensure_ascii=False)) with the control characters that
    json leaves raw (C1, bidirectional overrides) written as \\u escapes: same data, inert on a terminal."""
    return _CONTROLS_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", line)


def csv_reason(exc: csv.Error) -> str:
    """What Python's csv module means, in the merchant's words."""
    text = str(exc)
    if "expected after" in text:  # "',' expected after '\"'": a cell opens with a quoted phrase
        return (
            '以引号开头的格子，引号闭合后还有文字（如 "申请退款"按钮）：请把整格用引号括起来、'
            '里面的引号写成两个（"""申请退款""按钮"），或用 Excel 另存为 CSV'
        )
    if "unexpected end of data" in text:
        return "引号没有闭合，一直读到文件末尾：请检查这一行的引号，或用 Excel 另存为 CSV"
    if "field limit" in text:
        return f"有一格超过 {csv.field_size_limit()} 个字符，太长了：请拆成几条，或放进 .txt/.md 文件"
    return text
