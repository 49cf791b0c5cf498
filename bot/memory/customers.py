"""Import the merchant's customer list from CSV: who they are, their tags, who opted out.

Columns (English or Chinese headers, any order): `id`/编号 (the merchant's own customer id,
required), `name`/姓名, `wechat_id`/微信, `weibo_id`/微博, `tags`/标签 (separated by `|`, `、`, `,` or `;`),
`opted_out_wechat`/退订微信, `opted_out_weibo`/退订微博, `notes`/备注, and optionally
`tier`/等级. UTF-8, UTF-8 with BOM and GBK are read. A re-import updates each customer by `id` and
never duplicates one; a bad row is reported with its line and reason and the rest still imports.
Everything is written in one transaction, so a killed import leaves the list as it was.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.errors import DianxiaoerError
from bot.knowledge.readers import decode
from bot.memory.models import Customer
from bot.textio import csv_reason

COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "编号", "客户编号", "客户id", "ref"),
    "name": ("name", "姓名", "名字", "昵称", "display_name"),
    "wechat_id": ("wechat_id", "wechat", "微信", "微信号"),
    "weibo_id": ("weibo_id", "weibo", "微博", "微博号"),
    "tags": ("tags", "标签"),
    "opted_out_wechat": ("opted_out_wechat", "退订微信"),
    "opted_out_weibo": ("opted_out_weibo", "退订微博"),
    "notes": ("notes", "备注"),
    "tier": ("tier", "等级", "会员等级"),
}
_ALIAS = {alias.lower(): name for name, aliases in COLUMNS.items() for alias in aliases}
_TRUE = {"1", "true", "yes", "y", "是", "已退订", "退订", "t"}
_FALSE = {"", "0", "false", "no", "n", "否", "未退订", "f"}
_TAG_SEPARATORS = re.compile(r"[|｜、,，;；]")
MAX_FIELD = 2000  # characters; a longer cell is a broken row, not a name


@dataclass
class RowError:
    line: int
    reason: str

    def as_json(self) -> dict[str, object]:
        return {"line": self.line, "reason": self.reason}


@dataclass
class ImportReport:
    path: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.path, "added": self.added, "updated": self.updated, "unchanged": self.unchanged,
            "errors": [e.as_json() for e in self.errors], "ignored_columns": self.ignored_columns,
        }


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, object]  # only the columns the file has


def _flag(value: str, column: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{column} 的值「{value}」不是 是/否、1/0 或 true/false")


def parse_rows(text: str, source: str) -> tuple[list[Row], list[RowError], list[str]]:
    """Rows of a customer CSV, the bad rows with line and reason, and columns not understood."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    columns: dict[str, int] | None = None
    header_width = 0
    ignored: list[str] = []
    rows: list[Row] = []
    errors: list[RowError] = []
    first_line: dict[str, int] = {}
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # A broken quote swallows the rest of the file; report it and stop there.
            errors.append(RowError(start, f"CSV 格式错误：{csv_reason(exc)}"))
            break
        line, start = start, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if columns is None:
            columns, header_width = {}, len(cells)
            for index, cell in enumerate(cells):
                name = _ALIAS.get(cell.strip().lstrip("\ufeff").lower())
                if name and name not in columns:
                    columns[name] = index
                elif cell.strip():
                    ignored.append(cell.strip())
            if "id" not in columns:
                raise DianxiaoerError(f"{source}:{line}: 表头缺少 id/编号 列（表头是：{', '.join(cells)}）")
            continue
        try:
            rows.append(Row(line, _values(cells, columns, header_width)))
        except ValueError as exc:
            errors.append(RowError(line, str(exc)))
            continue
        ref = str(rows[-1].values["id"])
        if ref in first_line:
            rows.pop()
            errors.append(RowError(line, f"编号 {ref} 与第 {first_line[ref]} 行重复，这一行没有导入"))
        else:
            first_line[ref] = line
    if columns is None:
        raise DianxiaoerError(f"{source}: 文件是空的，没有表头")
    return rows, errors, ignored


def _values(cells: list[str], columns: dict[str, int], header_width: int) -> dict[str, object]:
    if any(c.strip() for c in cells[header_width:]):
        raise ValueError(f"这一行有 {len(cells)} 列，比表头的 {header_width} 列多（是否有未加引号的逗号？）")
    raw = {name: (cells[i].strip() if i < len(cells) else "") for name, i in columns.items()}
    for name, value in raw.items():
        if len(value) > MAX_FIELD:
            raise ValueError(f"{name} 太长（{len(value)} 字）")
    if not raw["id"]:
        raise ValueError("缺少 id/编号")
    values: dict[str, object] = {"id": raw["id"]}
    name = raw.get("name") or raw.get("wechat_id") or raw.get("weibo_id") or ""
    if "name" in raw:
        values["name"] = name or raw["id"]
        # Only for a new customer: a placeholder never replaces a name already stored.
        values["name_is_placeholder"] = not raw["name"]
    for key in ("wechat_id", "weibo_id", "tier"):
        if key in raw:
            values[key] = raw[key] or None
    if "tags" in raw:
        # `|` as documented, and how a Chinese spreadsheet lists things: 金卡会员、龙井爱好者.
        parts = _TAG_SEPARATORS.split(raw["tags"])
        values["tags"] = list(dict.fromkeys(p.strip() for p in parts if p.strip()))
    for key in ("opted_out_wechat", "opted_out_weibo"):
        if key in raw:
            values[key] = _flag(raw[key], key)
    if "notes" in raw:
        values["notes"] = raw["notes"]
    return values


_FIELD_OF = {"name": "display_name", "wechat_id": "wechat_id", "weibo_id": "weibo_id", "tags": "tags",
             "opted_out_wechat": "opted_out_wechat", "opted_out_weibo": "opted_out_weibo",
             "notes": "notes", "tier": "tier"}


def _apply(session: Session, rows: list[Row], report: ImportReport) -> None:
    for row in rows:
        ref = str(row.values["id"])
        person = session.exec(select(Customer).where(Customer.ref == ref)).first()
        if person is None:
            # Someone 店小二 already met by their WeChat or Weibo id gets the merchant's id, so
            # their conversations stay theirs.
            for column in ("wechat_id", "weibo_id"):
                value = row.values.get(column)
                if value:
                    person = session.exec(
                        select(Customer).where(getattr(Customer, column) == value, col(Customer.ref).is_(None))
                        .order_by(col(Customer.id))
                    ).first()
                    if person is not None:
                        break
        if person is None:
            person = Customer(ref=ref, display_name=str(row.values.get("name") or ref))
            report.added += 1
            fresh = True
        else:
            fresh = False
        changed = person.ref != ref
        person.ref = ref
        for key, attr in _FIELD_OF.items():
            if key == "name" and row.values.get("name_is_placeholder") and not fresh:
                continue
            if key in row.values and getattr(person, attr) != row.values[key]:
                setattr(person, attr, row.values[key])
                changed = True
        if not fresh:
            if changed:
                report.updated += 1
            else:
                report.unchanged += 1
        session.add(person)
        session.flush()


def import_customers(*, session: Session, path: Path) -> ImportReport:
    """Import `path` into the customer list and commit; see the module docstring for the format."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DianxiaoerError(f"{path}: 无法读取文件（{exc.strerror}）") from exc
    text = decode(data, str(path))
    rows, errors, ignored = parse_rows(text, str(path))
    for attempt in range(2):
        report = ImportReport(str(path), errors=list(errors), ignored_columns=ignored)
        try:
            _apply(session, rows, report)
            session.commit()
            return report
        except IntegrityError:
            # Another import added the same id between our read and our write: read again.
            session.rollback()
            if attempt:
                raise DianxiaoerError(f"{path}: 另一个导入同时在写入客户表，请稍后重试") from None
    raise AssertionError("unreachable")
