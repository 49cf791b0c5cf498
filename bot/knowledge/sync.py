"""Incremental sync of the knowledge dir into the store.

Each entry has a stable id (file + question) and a content hash; a sync embeds only what was
added or changed and deletes what was removed. Entries of a file that could not be read, or
that has bad rows, are never deleted: a typo in one spreadsheet must not empty the shop's FAQ.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import DianxiaoerError, KnowledgeFileError
from bot.knowledge.entries import Entry
from bot.knowledge.readers import iter_knowledge_files, read_file


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
    kept_despite_errors: int = 0
    unchanged: int = 0
    errors: list[KnowledgeFileError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: int = 0
    dry_run: bool = False

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
        }


def _question_key(text: str) -> str:
    return re.sub(r"[\s\W_]+", "", unicodedata.normalize("NFKC", text).lower())


def scan(root: Path) -> Scan:
    """Read every knowledge file under root, collecting entries, errors and warnings."""
    if not root.is_dir():
        raise DianxiaoerError(f"知识库目录不存在：{root}（可用 DIANXIAOER_KNOWLEDGE_DIR 指定）")
    result = Scan()
    first_seen: dict[str, Entry] = {}
    for path in iter_knowledge_files(root):
        result.files += 1
        try:
            read = read_file(path, root)
        except KnowledgeFileError as exc:
            result.errors.append(exc)
            result.damaged_sources.add(exc.path)
            continue
        except OSError as exc:
            source = path.relative_to(root).as_posix()
            result.errors.append(KnowledgeFileError(source, None, f"无法读取：{exc.strerror}"))
            result.damaged_sources.add(source)
            continue
        if read.errors:
            result.errors.extend(read.errors)
            result.damaged_sources.add(read.errors[0].path)
        for entry in read.entries:
            if entry.id in result.entries:
                earlier = result.entries[entry.id]
                if earlier.answer != entry.answer:
                    result.warnings.append(
                        f"同一问题在同一文件出现两次且答案不同，只保留第一处："
                        f"{earlier.source}:{earlier.line} 与 {entry.source}:{entry.line}「{entry.question}」"
                    )
                continue
            result.entries[entry.id] = entry
            if entry.kind != "faq":
                continue
            key = _question_key(entry.question)
            other = first_seen.setdefault(key, entry)
            if other is not entry and other.answer.strip() != entry.answer.strip():
                result.warnings.append(
                    f"问题「{entry.question}」在两处答案不同：{other.source}:{other.line} 与 {entry.source}:{entry.line}"
                )
    return result


def plan(found: Scan, stored: dict[str, tuple[str, str]]) -> SyncReport:
    """Compare what the files say with what is stored (entry id → (content hash, source))."""
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
        if stored[entry_id][1] in found.damaged_sources:
            report.kept_despite_errors += 1
        else:
            report.removed.append(entry_id)
    return report
