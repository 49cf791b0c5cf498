"""Incremental sync of the knowledge dir into the store.

Each entry has a stable id (file + question) and a content hash; a sync embeds only what was
added or changed and deletes what was removed. Entries of a file that could not be read, or
that has bad rows, are never deleted: a typo in one spreadsheet must not empty the shop's FAQ,
and a link to an unmounted share must not empty it either. A sync that would delete more than
half of what is stored is refused unless asked for: an empty folder is more often a mount that
failed than a shop that closed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import DianxiaoerError, KnowledgeFileError
from bot.knowledge.entries import Entry
from bot.knowledge.readers import os_reason, read_file, walk_knowledge_dir


@dataclass
class Scan:
    """Everything read from the knowledge dir."""

    entries: dict[str, Entry] = field(default_factory=dict)
    errors: list[KnowledgeFileError] = field(default_factory=list)
    damaged_sources: set[str] = field(default_factory=set)  # files with any error
    warnings: list[str] = field(default_factory=list)
    files: int = 0


@dataclass
class SyncReport:
    added: list[Entry] = field(default_factory=list)
    updated: list[Entry] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # entry ids
    removed_from: dict[str, str] = field(default_factory=dict)  # removed entry id → its file
    kept_despite_errors: int = 0
    unchanged: int = 0
    errors: list[KnowledgeFileError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: int = 0
    dry_run: bool = False
    problems: list[str] = field(default_factory=list)  # what the store check found
    repaired: list[str] = field(default_factory=list)  # what was done about it
    unrepaired: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def as_json(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "files": self.files,
            "added": len(self.added),
            "updated": len(self.updated),
            "removed": len(self.removed),
            "unchanged": self.unchanged,
            "kept_despite_errors": self.kept_despite_errors,
            "errors": [
                {"file": e.path, "line": e.line, "reason": e.reason} for e in self.errors
            ],
            "warnings": self.warnings,
            "problems": self.problems,
            "repaired": self.repaired,
            "unrepaired": self.unrepaired,
        }


def _question_key(text: str) -> str:
    return re.sub(r"[\s\W_]+", "", unicodedata.normalize("NFKC", text).lower())


def scan(root: Path, max_bytes: int | None = None) -> Scan:
    """Read every knowledge file under root, collecting entries, errors and warnings.

    Whatever goes wrong reading one file (a parser's own exception, a RecursionError, a file that
    vanished) becomes that file's error, and its stored entries are kept; the others still sync.
    Files are read smallest first, so that their entries are embedded first too: one huge file
    does not hold up every answer after it.
    """
    if not root.is_dir():
        raise DianxiaoerError(f"知识库目录不存在：{root}（可用 DIANXIAOER_KNOWLEDGE_DIR 指定）")
    result = Scan()
    seen: dict[str, list[Entry]] = {}  # question, as compared → its entries, first read first
    copies: dict[tuple[str, str], list[int]] = {}  # (file, file its entries repeat) → their lines
    walked = walk_knowledge_dir(root)
    result.warnings.extend(walked.warnings)
    for unreachable in walked.errors:  # a dead link or folder: what it held is kept until it is back
        result.errors.append(unreachable)
        result.damaged_sources.add(unreachable.path)
    result.errors.extend(walked.refused)  # a link out of the folder was never part of it
    for path, size in sorted(walked.files, key=lambda item: (item[1], item[0])):
        result.files += 1
        source = path.relative_to(root).as_posix()
        if max_bytes is not None and size > max_bytes:
            result.errors.append(KnowledgeFileError(
                source, None,
                f"文件太大（{size / 1e6:.1f} MB，上限 {max_bytes / 1e6:g} MB）：请拆成几个小文件，"
                "或调大 DIANXIAOER_KNOWLEDGE_MAX_FILE_MB；已同步的旧条目保留",
            ))
            result.damaged_sources.add(source)
            continue
        try:
            read = read_file(path, root)
        except KnowledgeFileError as exc:
            result.errors.append(exc)
            result.damaged_sources.add(exc.path)
            continue
        except OSError as exc:
            result.errors.append(KnowledgeFileError(source, None, f"无法读取：{os_reason(exc)}"))
            result.damaged_sources.add(source)
            continue
        except RecursionError:
            result.errors.append(KnowledgeFileError(source, None, "嵌套太深，无法解析"))
            result.damaged_sources.add(source)
            continue
        except Exception as exc:  # a reader's bug or a parser's surprise must not stop the other files
            result.errors.append(KnowledgeFileError(source, None, f"无法解析：{type(exc).__name__}: {exc}"))
            result.damaged_sources.add(source)
            continue
        if read.errors:
            result.errors.extend(read.errors)
            result.damaged_sources.add(source)
        result.warnings.extend(read.warnings)
        for entry in read.entries:
            if entry.id in result.entries:
                earlier = result.entries[entry.id]
                if earlier.answer != entry.answer:
                    result.warnings.append(
                        f"同一问题在同一文件出现两次且答案不同，只保留第一处："
                        f"{earlier.source}:{earlier.line} 与 {entry.source}:{entry.line}「{entry.question}」"
                    )
                continue
            if entry.kind == "faq":
                same = seen.setdefault(_question_key(entry.question), [])
                twin = next((e for e in same if e.content_hash == entry.content_hash), None)
                if twin is not None:
                    # A copy of a file ("faq - 副本.csv"): two identical entries leave the gate no
                    # margin between them, and it hands off what it answered before. Both stay (a
                    # link inside the folder is read as a file too); the merchant is told.
                    copies.setdefault((entry.source, twin.source), []).append(entry.line)
                same.append(entry)
                other = same[0]
                if twin is None and other.answer.strip() != entry.answer.strip():
                    result.warnings.append(
                        f"问题「{entry.question}」在两处答案不同：{other.source}:{other.line} 与 {entry.source}:{entry.line}"
                    )
            result.entries[entry.id] = entry
    for (source, first), lines in copies.items():
        shown = "、".join(map(str, lines[:5])) + ("…" if len(lines) > 5 else "")
        result.warnings.append(
            f"{source} 有 {len(lines)} 条问答与 {first} 里的完全相同（第 {shown} 行；是文件的副本吗？）："
            "同一问题有两条，机器人分不清该用哪条，会转人工。请删掉多余的文件或行"
        )
    return result


def plan(found: Scan, stored: Mapping[str, tuple[str, str] | tuple[str, str, int | None]]) -> SyncReport:
    """Compare what the files say with what is stored (entry id → (content hash, source, …))."""
    report = SyncReport(errors=found.errors, warnings=found.warnings, files=found.files)
    for entry_id, entry in found.entries.items():
        old = stored.get(entry_id)
        if old is None:
            report.added.append(entry)
        elif old[0] != entry.content_hash:
            report.updated.append(entry)
        else:
            report.unchanged += 1
    for entry_id in stored.keys() - found.entries.keys():
        if _is_damaged(stored[entry_id][1], found.damaged_sources):
            report.kept_despite_errors += 1
        else:
            report.removed.append(entry_id)
            report.removed_from[entry_id] = stored[entry_id][1]
    return report


def _is_damaged(source: str, damaged: set[str]) -> bool:
    """A source counts as damaged if it, or a folder it lies in (a dead folder link), had an error."""
    if source in damaged:
        return True
    parts = source.split("/")
    return any("/".join(parts[:n]) in damaged for n in range(1, len(parts)))


class MassDeleteRefused(DianxiaoerError):
    """A sync would delete more than half of what is stored; probably the folder is not there."""


def refuse_mass_delete(report: SyncReport, stored: Mapping[str, tuple[str, str] | tuple[str, str, int | None]],
                       knowledge_dir: Path) -> None:
    """Stop a sync that would delete more than half the stored entries (an unmounted share, a
    wrong KNOWLEDGE_DIR), unless the operator says it is meant (`--allow-mass-delete`).

    An entry deleted here and added again elsewhere with the same content (a renamed or moved
    file) is not lost, so it does not count.
    """
    if not stored:
        return
    added = {entry.content_hash for entry in report.added}
    lost = [entry_id for entry_id in report.removed if stored[entry_id][0] not in added]
    if len(lost) * 2 <= len(stored):
        return
    seen = "没有找到任何知识文件" if report.files == 0 else f"只找到 {report.files} 个知识文件"
    raise MassDeleteRefused(
        f"本次同步会删除已同步的 {len(stored)} 条中的 {len(lost)} 条（超过一半），已停止，什么都没改。"
        f"知识库目录 {knowledge_dir} 里{seen}：是不是共享盘没挂载、或目录指错了？"
        "如果确实要删除这些条目，请加 --allow-mass-delete 再运行。"
    )
