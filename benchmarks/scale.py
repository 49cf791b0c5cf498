"""Index and search at merchant-chain scale: 10,000 synthetic Chinese FAQ entries.

Everything runs through the product's own code (`Settings` → `KnowledgeBase.sync` / `search`, with
Chroma and the lexical index in a temporary data dir) and measures:
  * full index from empty: entries/s and vectors/s
  * search latency p50/p95 over ≥300 queries × --repeat (3), warm       target p95 ≤ 30 ms
  * no-change re-sync wall time                                      target ≤ 2 s
  * re-sync after editing 10 entries
  * `ask` latency without an LLM (gate + SQLite memory writes), when the assistant can be built
  * peak RSS (ru_maxrss)
and, for each of index / search / re-sync, where the time goes: stage timers wrapped around the
product's functions in this process (bot/ is not modified), plus a cProfile of the search loop
and of the 10-edit re-sync with --profile.

The entries come from a deterministic generator (seeded): product names × attributes × question
templates, each entry with 1–2 similar questions; queries are a held-out phrasing of an entry.

    .venv/bin/python benchmarks/scale.py [--entries 10000] [--queries 300] [--profile] [--keep]
    .venv/bin/python benchmarks/scale.py --reuse /tmp/dx-scale-XXXX   # a dir kept by --keep

--reuse skips the ~13-minute full index: the FAQ file is rewritten from the generator (undoing the
previous run's 10 edits, which the first sync then re-embeds), the SQLite memory is deleted so
`ask` starts from an empty database as in a fresh run, and the dir is kept afterwards. The first
row then reports that sync, not a full index.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import csv
import io
import pstats
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
import types
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bot.knowledge.base as kb_module  # noqa: E402
import bot.knowledge.retrieve as retrieve_module  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.knowledge.base import KnowledgeBase  # noqa: E402
from bot.knowledge.embeddings import make_embeddings  # noqa: E402
from bot.knowledge.lexical import LexicalIndex  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Synthetic shop: categories → product types and their attributes; series and model numbers
# make ~1,000 distinct products, each asked about a dozen topics.

CATEGORIES: dict[str, tuple[list[str], list[str]]] = {
    "茶叶": (["龙井", "碧螺春", "普洱熟茶", "白毫银针", "正山小种", "铁观音", "大红袍", "茉莉花茶"],
           ["保质期", "冲泡水温", "产地", "等级", "包装规格", "储存方法", "口感", "采摘时间"]),
    "茶具": (["紫砂壶", "白瓷盖碗", "公道杯", "竹制茶盘", "建盏", "玻璃品茗杯"],
           ["材质", "容量", "能否进洗碗机", "尺寸", "清洗方法", "是否手工制作"]),
    "服装": (["连衣裙", "连帽卫衣", "轻薄羽绒服", "直筒牛仔裤", "纯棉衬衫", "针织开衫"],
           ["尺码", "面料", "是否起球", "是否缩水", "洗涤方法", "颜色", "版型"]),
    "数码": (["蓝牙耳机", "充电宝", "快充数据线", "智能手表", "机械键盘", "无线鼠标"],
           ["续航", "保修期", "兼容机型", "充电时间", "防水等级", "接口类型"]),
    "食品": (["坚果礼盒", "风干牛肉干", "土蜂蜜", "流心月饼", "芒果干", "手工阿胶糕"],
           ["配料表", "保质期", "含糖量", "储存方法", "过敏原", "产地", "净含量"]),
    "美妆": (["保湿面霜", "丝绒口红", "清透防晒霜", "氨基酸洗面奶", "修护精华液", "补水面膜"],
           ["适合肤质", "主要成分", "保质期", "孕妇能否使用", "使用方法", "色号", "容量"]),
}
SERIES = ["经典", "臻选", "云岭", "雅韵", "春晓", "青山", "福满", "悦享", "匠心", "初见"]

# A topic's templates: [0] is the FAQ question, [1:-1] are stored as similar questions, [-1] is
# kept back as the customer's query.
ATTRIBUTE_TEMPLATES = ["{p}的{a}是什么？", "{p}{a}怎么样", "想了解一下{p}的{a}", "请问{p}{a}如何", "亲，{p}{a}能说下吗"]
SERVICE_TOPICS: dict[str, list[str]] = {
    "发货": ["{p}下单后多久发货？", "{p}什么时候能发货", "{p}几天能发出", "拍了{p}多久寄出", "今天买{p}啥时候发"],
    "运费": ["{p}包邮吗？", "买{p}要运费吗", "{p}邮费多少", "{p}偏远地区包邮吗", "{p}免运费不"],
    "退换": ["{p}支持七天无理由退换吗？", "{p}能退货吗", "{p}不合适可以换吗", "{p}收到不满意怎么退", "{p}可以退不"],
    "发票": ["{p}能开发票吗？", "买{p}可以开专票吗", "{p}发票怎么开", "{p}有发票吗", "{p}开票找谁"],
    "优惠": ["{p}现在有优惠券吗？", "{p}有没有折扣", "{p}能便宜点吗", "{p}有活动价吗", "{p}还能再优惠不"],
    "赠品": ["买{p}送什么赠品？", "{p}有赠品吗", "{p}送不送东西", "{p}附带小礼物吗", "{p}有啥赠送的"],
    "库存": ["{p}还有货吗？", "{p}缺货吗", "{p}什么时候补货", "{p}现货还是预售", "{p}卖完了吗"],
    "正品": ["{p}是正品吗？", "{p}是不是官方的", "{p}怎么辨别真假", "{p}有防伪码吗", "{p}保真吗"],
}
ANSWERS = [
    "{p}的{t}：{n} 天内处理，详情见商品页第 {m} 条说明。",
    "关于{p}的{t}，请以订单页为准，一般 {n} 小时内回复，如有疑问可联系客服 {m} 号。",
    "{p}（{t}）：标准为 {n}，特殊情况请留言，客服会在 {m} 分钟内回复。",
]


def synthetic_entries(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """`count` distinct entries: question, answer, 1–2 similar questions, and a held-out query."""
    rng = random.Random(seed)
    products = [
        (f"{series}{item}{model:02d}", category, attrs)
        for category, (items, attrs) in CATEGORIES.items()
        for item in items
        for series in SERIES
        for model in range(1, 6)
    ]
    rng.shuffle(products)
    pairs: list[tuple[str, str, str, list[str]]] = []
    for product, category, attrs in products:
        topics = [(a, [t.replace("{a}", a) for t in ATTRIBUTE_TEMPLATES]) for a in attrs]
        topics += list(SERVICE_TOPICS.items())
        pairs += [(product, category, name, templates) for name, templates in topics]
    if count > len(pairs):
        raise SystemExit(f"the generator makes at most {len(pairs)} entries")
    rng.shuffle(pairs)
    rows = []
    for product, category, topic, templates in pairs[:count]:
        phrasings = [t.format(p=product) for t in templates]
        similar = rng.sample(phrasings[1:-1], rng.choice((1, 2)))
        rows.append({
            "question": phrasings[0],
            "answer": rng.choice(ANSWERS).format(p=product, t=topic, n=rng.randint(1, 90), m=rng.randint(1, 30)),
            "similar": similar,
            "category": category,
            "tags": topic,
            "query": phrasings[-1],
        })
    return rows


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["问题", "答案", "相似问题", "分类", "标签"])
        for row in rows:
            writer.writerow([row["question"], row["answer"], "|".join(row["similar"]), row["category"], row["tags"]])


# ---------------------------------------------------------------------------------------------
# Stage timers: wrap functions of the product in this process only


class Stages:
    """Accumulated wall time per named stage, from wrappers put around the product's callables."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._undo: list[Callable[[], None]] = []
        self.nested: set[str] = set()  # stages inside another timed stage: shown, not summed

    def wrap(self, owner: Any, attr: str, name: str, nested: bool = False) -> None:
        """Time every call of owner.attr (a module function, a class attribute or an instance's method)."""
        original = getattr(owner, attr)
        restore = isinstance(owner, (type, types.ModuleType)) or attr in vars(owner)
        if nested:
            self.nested.add(name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started
                self.calls[name] += 1

        setattr(owner, attr, timed)
        self._undo.append((lambda: setattr(owner, attr, original)) if restore else (lambda: delattr(owner, attr)))

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()

    def unwrap(self) -> None:
        while self._undo:
            self._undo.pop()()

    def report(self, total: float, per: int = 1, unit: str = "s") -> str:
        scale = 1000.0 / per if unit == "ms" else 1.0
        parts = [(f"({name} {secs * scale:.1f} {unit})" if name in self.nested else f"{name} {secs * scale:.1f} {unit}")
                 if unit == "ms" else (f"({name} {secs:.2f} s)" if name in self.nested else f"{name} {secs:.2f} s")
                 for name, secs in sorted(self.seconds.items(), key=lambda kv: -kv[1])]
        other = total - sum(secs for name, secs in self.seconds.items() if name not in self.nested)
        parts.append(f"other {other * scale:.1f} {unit}" if unit == "ms" else f"other {other:.2f} s")
        return "; ".join(parts)


def instrument(kb: KnowledgeBase, stages: Stages, embedder: bool = True) -> None:
    """Time the stages of sync and search. Nested stages are listed separately, not subtracted.

    Module- and class-level stages are wrapped once (embedder=True, the first KnowledgeBase).
    """
    store = kb.store
    if embedder:
        stages.wrap(kb_module, "scan", "scan files")
        stages.wrap(store.embedder, "encode_queries", "embed (e5)")
        stages.wrap(LexicalIndex, "load", "load lexical index")
        stages.wrap(LexicalIndex, "__init__", "build BM25, inside load or rebuild", nested=True)
        stages.wrap(LexicalIndex, "save", "save lexical index, inside rebuild", nested=True)
        stages.wrap(retrieve_module, "lexical_ranking", "lexical ranking")
        stages.wrap(LexicalIndex, "scores", "BM25 scores, inside lexical ranking", nested=True)
        stages.wrap(retrieve_module, "fuse", "fuse")
    stages.wrap(store, "stored_entries", "read stored hashes")
    stages.wrap(store._chroma._collection, "upsert", "chroma upsert")
    stages.wrap(store, "_delete_surplus", "delete surplus vectors")
    stages.wrap(kb, "_rebuild_lexical", "rebuild lexical index")
    stages.wrap(store, "all_vectors", "read all vectors from chroma, inside rebuild", nested=True)
    stages.wrap(store, "count", "chroma count")
    stages.wrap(store._chroma._collection, "query", "chroma query")


@contextmanager
def profiled(enabled: bool, title: str, out: list[str]) -> Iterator[None]:
    if not enabled:
        yield
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(18)
        lines = [line for line in text.getvalue().splitlines() if line.strip()]
        start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
        out.append(f"#### cProfile: {title} (top 18 by cumulative time)\n\n```\n" + "\n".join(lines[start:]) + "\n```")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def latency_summary(runs: list[list[float]]) -> str:
    """p50/p95 over all runs, and each run's p95: on a shared machine they differ by several ms."""
    every = [ms for run in runs for ms in run]
    p95 = percentile(every, 95)
    each = ", ".join(f"{percentile(run, 95):.1f}" for run in runs)
    return (f"p50 {statistics.median(every):.1f} ms, p95 {p95:.1f} ms (each run's p95: {each}), max {max(every):.1f} ms "
            f"(target p95 ≤ 30 ms: {'met' if p95 <= 30 else 'NOT met'})")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="time the search and ask loops this many times over the queries")
    parser.add_argument("--profile", action="store_true", help="also cProfile the search loop and the 10-edit re-sync")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dir (path is printed)")
    parser.add_argument("--reuse", type=Path, metavar="DIR",
                        help="reuse a data dir kept by --keep (same --entries and --seed) instead of indexing from empty")
    args = parser.parse_args()
    if args.queries > args.entries:
        raise SystemExit("--queries cannot exceed --entries")

    rng = random.Random(args.seed + 1)
    if args.reuse:
        work = args.reuse.resolve()
        if not (work / "knowledge").is_dir() or not (work / "data").is_dir():
            raise SystemExit(f"{work} is not a dir kept by --keep")
        args.keep = True
        for db in (work / "data").glob("dianxiaoer.db*"):
            db.unlink()
    else:
        work = Path(tempfile.mkdtemp(prefix="dx-scale-"))
    kdir = work / "knowledge"
    kdir.mkdir(exist_ok=True)
    rows = synthetic_entries(args.entries, args.seed)
    faq = kdir / "faq.csv"
    write_csv(faq, rows)
    settings = Settings(data_dir=work / "data", knowledge_dir=kdir)
    results: list[tuple[str, str, str]] = []
    breakdowns: list[str] = []
    profiles: list[str] = []
    stages = Stages()
    rss = [("before the model loaded", peak_rss_mib())]
    try:
        started = time.perf_counter()
        kb = KnowledgeBase(settings, embedder=make_embeddings(settings))
        load_time = time.perf_counter() - started
        instrument(kb, stages)
        stages.reset()
        started = time.perf_counter()
        report = kb.sync()
        elapsed = time.perf_counter() - started
        vectors = kb.store.count()
        if args.reuse:
            results.append(("re-sync of the reused dir (no full index)",
                            f"{len(report.updated)} updated, {report.unchanged} unchanged, {vectors} vectors "
                            f"(model load {load_time:.1f} s before)", f"{elapsed:.1f} s"))
        else:
            results.append(("full index from empty", f"{len(report.added)} entries, {vectors} vectors in {elapsed:.1f} s "
                            f"(model load {load_time:.1f} s before)",
                            f"{len(report.added) / elapsed:.1f} entries/s, {vectors / elapsed:.1f} vectors/s"))
        breakdowns.append(f"- full index ({elapsed:.1f} s): {stages.report(elapsed)}")
        rss.append(("after the full index", peak_rss_mib()))

        # (ii) search latency, warm
        queries = [row["query"] for row in rng.sample(rows, args.queries)]
        wanted = {row["query"]: row["question"] for row in rows}
        for q in queries[:20]:
            kb.search(q)  # warm-up: caches, lazy imports, HNSW pages
        stages.reset()
        runs, top1 = [], 0
        loop_start = time.perf_counter()
        for _ in range(args.repeat):
            timings = []
            for q in queries:
                t = time.perf_counter()
                hits = kb.search(q, top_k=5)
                timings.append((time.perf_counter() - t) * 1000)
                top1 += bool(hits) and hits[0].question == wanted[q]
            runs.append(timings)
        loop = time.perf_counter() - loop_start
        results.append(("search latency (warm)", f"{len(queries)} held-out phrasings × {args.repeat}, top 5; "
                        f"top-1 right {top1 / len(queries) / args.repeat:.1%}", latency_summary(runs)))
        breakdowns.append(f"- search, mean per query ({loop / len(queries) / args.repeat * 1000:.1f} ms): "
                          f"{stages.report(loop, per=len(queries) * args.repeat, unit='ms')}")
        with profiled(args.profile, f"{len(queries)} searches", profiles):
            for q in queries:
                kb.search(q, top_k=5)
        rss.append(("after searching", peak_rss_mib()))

        # (iii) no-change re-sync: the same KnowledgeBase, then a new one (as a fresh `sync` command would)
        stages.reset()
        started = time.perf_counter()
        again = kb.sync()
        warm = time.perf_counter() - started
        results.append(("no-change re-sync (same KnowledgeBase)", f"{again.unchanged} unchanged, {len(again.updated)} updated",
                        f"{warm:.2f} s (target ≤ 2 s: {'met' if warm <= 2 else 'NOT met'})"))
        breakdowns.append(f"- no-change re-sync ({warm:.2f} s): {stages.report(warm)}")
        stages.reset()
        started = time.perf_counter()
        fresh = KnowledgeBase(settings, embedder=kb.embedder)
        instrument(fresh, stages, embedder=False)
        fresh_report = fresh.sync()
        cold = time.perf_counter() - started
        breakdowns.append(f"- no-change re-sync, new KnowledgeBase ({cold:.2f} s): {stages.report(cold)}")
        rss.append(("after the re-syncs", peak_rss_mib()))
        results.append(("no-change re-sync (new KnowledgeBase, model already loaded)", f"{fresh_report.unchanged} unchanged",
                        f"{cold:.2f} s (target ≤ 2 s: {'met' if cold <= 2 else 'NOT met'})"))

        # (iv) re-sync after editing 10 answers
        edited = [dict(row) for row in rows]
        for i in rng.sample(range(len(edited)), 10):
            edited[i]["answer"] += "（已更新）"
        write_csv(faq, edited)
        stages.reset()
        started = time.perf_counter()
        with profiled(args.profile, "re-sync after editing 10 entries", profiles):
            changed = kb.sync()
        edit_time = time.perf_counter() - started
        results.append(("re-sync after editing 10 entries", f"{len(changed.updated)} updated",
                        f"{edit_time:.2f} s"))
        breakdowns.append(f"- re-sync after 10 edits ({edit_time:.2f} s): {stages.report(edit_time)}")
        stages.unwrap()

        # `ask` without an LLM, when the rest of the product builds (kept from the first version)
        try:
            from bot.services import Services

            assistant = Services(settings, knowledge=kb).assistant
            assistant.ask(queries[0])
            runs = []
            for _ in range(args.repeat):
                timings = []
                for q in queries:
                    t = time.perf_counter()
                    assistant.ask(q)
                    timings.append((time.perf_counter() - t) * 1000)
                runs.append(timings)
            results.append(("ask latency, no LLM (SQLite writes included)", f"{len(queries)} messages × {args.repeat}",
                            latency_summary(runs)))
        except Exception as exc:  # the assistant is someone else's moving part; the retrieval numbers stand
            results.append(("ask latency, no LLM", "skipped", f"{exc.__class__.__name__}: {exc}"[:120]))
        rss.append(("at the end", peak_rss_mib()))
        results.append(("peak RSS (ru_maxrss)", ", ".join(f"{mib:.0f} MiB {when}" for when, mib in rss[:-1]),
                        f"{rss[-1][1]:.0f} MiB"))
    finally:
        stages.unwrap()
        if args.keep:
            print(f"kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    command = f"python benchmarks/scale.py --entries {args.entries} --queries {args.queries}"
    print(f"\n## Scale: {args.entries} synthetic entries (seed {args.seed})\ncommand: .venv/bin/{command}\n")
    print("| measure | detail | result |")
    print("|---|---|---|")
    for measure, detail, result in results:
        print(f"| {measure} | {detail} | {result} |")
    print("\n### Where the time goes (stage timers; (…) = inside another stage; other = total minus the rest)\n")
    print("\n".join(breakdowns))
    for block in profiles:
        print("\n" + block)


if __name__ == "__main__":
    main()
