"""What the gate's per-shop calibration costs at 1,000 and 10,000 entries.

    .venv/bin/python benchmarks/gate_cost.py [--entries 1000] [--reuse DIR]

Indexes `--entries` synthetic entries (scale.py's generator; or reuses a data dir kept by
`scale.py --keep` with the same count), then times: reading the vectors into memory, the
simulated questions (leave one entry out, leave one phrasing out) and their scoring, the whole
calibration as the first `ask` after a sync runs it, reading it back when the FAQ is unchanged,
and calibrating again after ten answers are edited (only the simulated questions the edits can
reach are asked again; how many is printed). Also the term statistics (IDF) the re-ranker
builds once per loaded index.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from scale import synthetic_entries, write_csv  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.drafting.calibration import (  # noqa: E402
    FaqMemory,
    calibration_path,
    faq_stamp,
    load_or_calibrate,
    scored,
    simulate,
)
from bot.drafting.gate import default_gate  # noqa: E402
from bot.drafting.rerank import TermWeights  # noqa: E402
from bot.knowledge.base import KnowledgeBase  # noqa: E402
from bot.knowledge.embeddings import E5Embeddings  # noqa: E402


def timed(results: list[tuple[str, str]], name: str, fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = fn()
    results.append((name, f"{time.perf_counter() - started:.2f} s"))
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reuse", type=Path, metavar="DIR", help="a data dir kept by scale.py --keep")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dx-gate-cost-"))
    results: list[tuple[str, str]] = []
    try:
        rows = synthetic_entries(args.entries, args.seed)
        if args.reuse:
            shutil.copytree(args.reuse, work, dirs_exist_ok=True)
        faq = work / "knowledge" / "faq.csv"
        faq.parent.mkdir(parents=True, exist_ok=True)
        if not faq.exists():
            write_csv(faq, rows)
        settings = Settings(data_dir=work / "data", knowledge_dir=work / "knowledge", _env_file=None)
        kb = KnowledgeBase(settings, embedder=E5Embeddings())
        timed(results, "sync (index from empty, or a no-change sync when reused)", kb.sync)
        gate = default_gate()
        memory = timed(results, "vectors into memory", lambda: FaqMemory.of(kb))
        asked = timed(results, "simulated questions (searches in memory)",
                      lambda: simulate(memory, faq_stamp(kb.lexical)))
        timed(results, f"scoring them ({len(asked)} questions, re-rank and features)", lambda: scored(gate, asked))
        timed(results, "term statistics for the re-ranker (once per loaded index)", lambda: TermWeights(kb.lexical))
        calibration_path(kb).unlink(missing_ok=True)
        fresh = KnowledgeBase(settings, embedder=kb.embedder)
        calibration = timed(results, "calibration as the first ask after a sync runs it (stamp, simulate, store)",
                            lambda: load_or_calibrate(fresh, gate))
        again = KnowledgeBase(settings, embedder=kb.embedder)
        timed(results, "FAQ unchanged: stamp and read back", lambda: load_or_calibrate(again, gate))
        for row in rows[:10]:
            row["answer"] += "（已更新）"
        write_csv(faq, rows)
        edited = KnowledgeBase(settings, embedder=kb.embedder)
        edited.sync()
        recalibrated = timed(results, "after editing 10 answers: calibrate again (only what the edits reach)",
                             lambda: load_or_calibrate(edited, gate))
        results.append(("questions asked again after the edits",
                         f"{recalibrated.simulated - recalibrated.reused} of {recalibrated.simulated}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n## Gate calibration cost: {args.entries} synthetic entries\n"
          f"command: .venv/bin/python benchmarks/gate_cost.py --entries {args.entries}"
          f"{' --reuse DIR' if args.reuse else ''}\n")
    print(f"{calibration.simulated} simulated questions; shift {calibration.shift:.3f}, scale {calibration.scale:.3f}\n")
    print("| step | time |\n|---|---|")
    for name, value in results:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
