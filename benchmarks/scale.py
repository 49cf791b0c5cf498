"""Index and query at merchant-chain scale: 10,000 synthetic FAQ entries.

Measures, through the product's own code (KnowledgeBase, Assistant, SQLite memory):
  * full index from empty: entries/s and vectors/s
  * search latency p50/p95 (model loaded, warm)          target p95 ≤ 30 ms
  * `ask` latency p50/p95, no LLM, memory writes included  target p95 ≤ 30 ms
  * no-change re-sync wall time                           target ≤ 2 s
  * re-sync after editing 10 entries
  * peak RSS

    .venv/bin/python benchmarks/scale.py [--entries 10000] [--queries 300]
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.knowledge.base import KnowledgeBase  # noqa: E402
from bot.services import build_assistant  # noqa: E402

PRODUCTS = ["龙井", "碧螺春", "普洱", "白茶", "红茶", "乌龙", "铁观音", "大红袍", "茉莉花茶", "黄山毛峰",
            "紫砂壶", "盖碗", "公道杯", "茶盘", "茶针", "礼盒", "茶饼", "银针", "寿眉", "滇红"]
GRADES = ["特级", "一级", "明前", "雨前", "古树", "高山", "有机", "手工", "陈年", "新春"]
TOPICS = [
    ("{p}的保质期多久？", "{p}密封保存保质期 {n} 个月，开封后 {m} 周内喝完。", "{p}能放多久|{p}会过期吗"),
    ("{p}怎么冲泡？", "{p}用 {n}℃ 左右的水，{m} 克茶配 150 毫升水。", "{p}怎么泡|泡{p}用多少度的水"),
    ("{p}产地是哪里？", "我们的{p}来自合作茶园，第 {n} 批次，每批附检测报告。", "{p}是哪里产的"),
    ("{p}可以退换吗？", "{p}未拆封 {n} 天内可退换，拆封后如有质量问题 {m} 天内联系客服。", "{p}能退吗|{p}不喜欢怎么办"),
    ("{p}有礼盒装吗？", "{p}有礼盒装，{n} 件起可定制贺卡。", "{p}能送人吗|{p}包装好看吗"),
    ("{p}怎么保存？", "{p}放阴凉干燥处，避免异味，湿度保持在 {n}% 以下。", "{p}放冰箱吗|{p}受潮怎么办"),
    ("{p}适合什么人？", "{p}口感{m}，适合日常饮用；特殊体质请咨询医生。", ""),
    ("{p}一次买多少合适？", "{p}建议一次买 {n} 克左右，{m} 个月内喝完风味最好。", "{p}买多少够喝"),
]


def synthetic_entries(count: int, rng: random.Random) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    seen = set()
    while len(rows) < count:
        product = f"{rng.choice(GRADES)}{rng.choice(PRODUCTS)}{rng.randint(1, 60)}号"
        question, answer, similar = rng.choice(TOPICS)
        q = question.format(p=product)
        if q in seen:
            continue
        seen.add(q)
        rows.append((q, answer.format(p=product, n=rng.randint(2, 90), m=rng.choice(["醇厚", "清爽", 2, 3, 4])), similar.format(p=product)))
    return rows


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()

    rng = random.Random(7)
    work = Path(tempfile.mkdtemp(prefix="dx-scale-"))
    kdir = work / "knowledge"
    kdir.mkdir()
    rows = synthetic_entries(args.entries, rng)
    faq = kdir / "faq.csv"

    def write(entries: list[tuple[str, str, str]]) -> None:
        with faq.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["问题", "答案", "相似问题"])
            writer.writerows(entries)

    write(rows)
    settings = Settings(data_dir=work / "data", knowledge_dir=kdir)
    results: list[tuple[str, str, str]] = []
    try:
        kb = KnowledgeBase(settings)
        started = time.perf_counter()
        report = kb.sync()
        elapsed = time.perf_counter() - started
        vectors = kb.store.count()
        results.append(("full index from empty", f"{len(report.added)} entries, {vectors} vectors in {elapsed:.1f} s",
                         f"{len(report.added) / elapsed:.1f} entries/s, {vectors / elapsed:.1f} vectors/s"))

        started = time.perf_counter()
        again = KnowledgeBase(settings).sync()
        results.append(("no-change re-sync (fresh process state)", f"{again.unchanged} unchanged", f"{time.perf_counter() - started:.2f} s (target ≤ 2 s)"))
        started = time.perf_counter()
        kb.sync()
        results.append(("no-change re-sync (warm)", "", f"{time.perf_counter() - started:.2f} s"))

        edited = list(rows)
        for i in rng.sample(range(len(edited)), 10):
            q, a, s = edited[i]
            edited[i] = (q, a + "（已更新）", s)
        write(edited)
        started = time.perf_counter()
        changed = kb.sync()
        results.append(("re-sync after editing 10 entries", f"{len(changed.updated)} updated",
                        f"{time.perf_counter() - started:.2f} s"))

        queries = []
        for q, _, similar in rng.sample(rows, args.queries):
            queries.append(rng.choice(similar.split("|")) if similar else q.replace("？", "呢"))
        for q in queries[:10]:
            kb.search(q)  # warm-up
        timings = []
        for q in queries:
            t = time.perf_counter()
            kb.search(q, top_k=5)
            timings.append((time.perf_counter() - t) * 1000)
        results.append(("search latency", f"{len(timings)} queries, top 5",
                        f"p50 {statistics.median(timings):.1f} ms, p95 {percentile(timings, 95):.1f} ms (target p95 ≤ 30 ms)"))

        assistant = build_assistant(settings, kb)
        assistant.ask(queries[0])
        timings = []
        for q in queries:
            t = time.perf_counter()
            assistant.ask(q)
            timings.append((time.perf_counter() - t) * 1000)
        results.append(("ask latency, no LLM (SQLite writes included)", f"{len(timings)} messages",
                        f"p50 {statistics.median(timings):.1f} ms, p95 {percentile(timings, 95):.1f} ms (target p95 ≤ 30 ms)"))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        results.append(("peak RSS", "", f"{peak:.0f} MiB"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{args.entries} synthetic entries · command: python benchmarks/scale.py --entries {args.entries} --queries {args.queries}\n")
    print("| measure | detail | result |")
    print("|---|---|---|")
    for measure, detail, result in results:
        print(f"| {measure} | {detail} | {result} |")


if __name__ == "__main__":
    main()
