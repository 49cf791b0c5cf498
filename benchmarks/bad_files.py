"""The bad-file corpus: what a sync reports for each kind of damaged knowledge folder, and
whether anything already synced was lost.

A small shop folder is synced once; then, for each case, a copy of the folder and its index is
damaged the way an unlucky operator would (a truncated spreadsheet, an unmounted share, a
pasted novel, ...) and synced again with the product's own `KnowledgeBase.sync`. Printed per
case: what the sync said (errors with file:line, or why it refused), the entries before and
after, and how many of the entries synced before are gone. Nothing is written outside a
temporary directory; every file is generated here.

    .venv/bin/python benchmarks/bad_files.py
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import Settings  # noqa: E402
from bot.errors import DianxiaoerError  # noqa: E402
from bot.knowledge.base import KnowledgeBase  # noqa: E402
from bot.knowledge.embeddings import E5Embeddings  # noqa: E402
from tests.test_bad_files import truncated_xlsx  # noqa: E402  (the test suite's damaged spreadsheet)

BASE = {
    "faq.csv": "问题,答案,相似问题\n包邮吗？,满 99 元包邮。,运费多少\n几天能到？,一般 2–4 天。,\n",
    "quote.csv": "问题,答案\n" + "".join(f"问题{n},答案{n}\n" for n in range(2, 22)),
    "shared/invoice.csv": "问题,答案\n能开发票吗？,可以开电子发票。\n",
    "sub/store.csv": "问题,答案\n有门店吗？,杭州龙井路 18 号。\n",
    "policy.md": "# 退货政策\n\n七天无理由退货，生鲜除外。\n",
}


def _unlink_all(kdir: Path) -> None:
    for path in sorted(kdir.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()


def _link_to_share(kdir: Path) -> None:
    os.symlink("shared/invoice.csv", kdir / "link.csv")  # relative: the copies below keep it inside


CASES: dict[str, tuple[str, Callable[[Path, Path], None]]] = {
    "truncated .xlsx": ("a valid zip whose sheet XML stops half-way", lambda k, t: (k / "cut.xlsx").write_bytes(truncated_xlsx())),
    "deeply nested .json": ("100,000 nested arrays", lambda k, t: (k / "deep.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)),
    "dangling link": ("link.csv → a file that is gone", lambda k, t: (k / "link.csv").unlink() or os.symlink("gone.csv", k / "link.csv")),
    "link loop": ("link.csv → loop.csv → link.csv", lambda k, t: (k / "link.csv").unlink() or os.symlink("loop.csv", k / "link.csv") or os.symlink("link.csv", k / "loop.csv")),
    "dead folder link": ("sub/ replaced by a link to an unmounted share", lambda k, t: shutil.rmtree(k / "sub") or os.symlink(t / "unmounted", k / "sub")),
    "link out of the folder": ("passwd.txt → /etc/passwd", lambda k, t: os.symlink("/etc/passwd", k / "passwd.txt")),
    "empty folder": ("every file gone (a mount that failed)", lambda k, t: _unlink_all(k)),
    "unclosed CSV quote": ("line 4 of 21 opens a quote it never closes", lambda k, t: (k / "quote.csv").write_text(
        (k / "quote.csv").read_text(encoding="utf-8").replace("问题4,答案4", '问题4,"答案4 改了'), encoding="utf-8")),
    "30 MB text": ("a pasted novel", lambda k, t: (k / "novel.txt").write_text("很长的小说，没有尽头。\n" * 900_000, encoding="utf-8")),
    "JSON items not objects": ("a string and an array among the objects", lambda k, t: (k / "items.json").write_text(
        '[\n{"question": "有礼盒吗？", "answer": "有。"},\n"一句话",\n[1, 2]\n]\n', encoding="utf-8")),
    "UTF-16 without BOM": ("a Windows export", lambda k, t: (k / "utf16.csv").write_bytes("问题,答案\n能试喝吗？,可以申请试饮装。\n".encode("utf-16-le"))),
    "named pipe": ("pipe.csv is a FIFO (reading it would block for ever)", lambda k, t: os.mkfifo(k / "pipe.csv")),
}


def main() -> None:
    embedder = E5Embeddings()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        for name, text in BASE.items():
            (base / "knowledge" / name).parent.mkdir(parents=True, exist_ok=True)
            (base / "knowledge" / name).write_text(text, encoding="utf-8")
        _link_to_share(base / "knowledge")
        settings = Settings(data_dir=base / "data", knowledge_dir=base / "knowledge", _env_file=None)
        first = KnowledgeBase(settings, embedder=embedder).sync()
        print(f"base folder: {first.files} files, {len(first.added)} entries synced\n")
        print("| case | damage | what the sync said | entries before → after | synced entries lost | time |")
        print("|---|---|---|---|---|---|")
        lost_total = 0
        for case, (damage, apply) in CASES.items():
            root = Path(tmp) / case.replace(" ", "_")
            shutil.copytree(base, root, symlinks=True)
            apply(root / "knowledge", root)
            settings = Settings(data_dir=root / "data", knowledge_dir=root / "knowledge", _env_file=None)
            before = set(KnowledgeBase(settings, embedder=embedder).store.stored_entries())
            started = time.perf_counter()
            try:
                report = KnowledgeBase(settings, embedder=embedder).sync()
                said = "; ".join(str(e) for e in report.errors)[:230] or "no error"
                if report.added:
                    said += f" (+{len(report.added)} added)"
            except DianxiaoerError as refused:
                said = f"refused: {str(refused)[:200]}"
            seconds = time.perf_counter() - started
            after = set(KnowledgeBase(settings, embedder=embedder).store.stored_entries())
            lost = len(before - after)
            lost_total += lost
            print(f"| {case} | {damage} | {said.replace('|', '/')} | {len(before)} → {len(after)} | {lost} | {seconds:.1f} s |")
        print(f"\nsynced entries lost over all cases: {lost_total}")
    sys.exit(1 if lost_total else 0)


if __name__ == "__main__":
    main()
