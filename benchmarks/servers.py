"""Embedded vs server mode on the same synthetic entries: what a Chroma server and PostgreSQL cost.

Each mode runs in its own process (so memory figures do not mix) through the product's own
composition root (`bot.services.Services`): embedded = Chroma in the data dir + SQLite;
server = `chroma run` on 127.0.0.1 + a throwaway PostgreSQL cluster (tests/servers.py), as
docker-compose.yml deploys them. Measured per mode:
  * full index from empty (entries/s)
  * search and `ask` (no LLM; memory writes included) latency p50 / p95, warm
  * no-change re-sync (a new KnowledgeBase, model already loaded, as a cron `index` would)
  * memory: the bot process's RSS after the model loaded and after index + search + ask, the
    Chroma server's RSS, and the store's size on disk.

    .venv/bin/python benchmarks/servers.py [--entries 2000] [--queries 200]

The entries and queries are scale.py's deterministic generator (same --seed, same data).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def rss_mib(pid: str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tree_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def run_mode(mode: str, entries: int, queries: int, seed: int) -> dict[str, object]:
    from bot.config import Settings
    from bot.services import Services
    from scale import synthetic_entries, write_csv
    from tests.servers import ChromaServer, PostgresCluster

    work = Path(tempfile.mkdtemp(prefix=f"dx-servers-{mode}-"))
    servers: list = []
    try:
        rows = synthetic_entries(entries, seed)
        (work / "knowledge").mkdir()
        write_csv(work / "knowledge" / "faq.csv", rows)
        extra: dict[str, str] = {}
        if mode == "server":
            chroma, pg = ChromaServer(), PostgresCluster()
            servers = [chroma, pg]
            extra = {"chroma_url": chroma.url, "database_url": pg.create_database("bench")}
        settings = Settings(data_dir=work / "data", knowledge_dir=work / "knowledge", _env_file=None, **extra)
        services = Services(settings)
        services.embedder  # noqa: B018  (the model, loaded before anything is timed)
        out: dict[str, object] = {"rss_model": rss_mib()}

        started = time.perf_counter()
        report = services.knowledge.sync()
        out["index_s"] = time.perf_counter() - started
        out["entries"] = len(report.added)
        out["vectors"] = services.knowledge.store.count()

        rng = random.Random(seed + 1)
        sample = [row["query"] for row in rng.sample(rows, queries)]
        kb = services.knowledge
        for q in sample[:20]:
            kb.search(q)
        timings = []
        for q in sample:
            t = time.perf_counter()
            kb.search(q, top_k=5)
            timings.append((time.perf_counter() - t) * 1000)
        out["search_ms"] = (statistics.median(timings), percentile(timings, 95))

        assistant = services.assistant
        assistant.ask(sample[0])
        timings = []
        for q in sample:
            t = time.perf_counter()
            assistant.ask(q)
            timings.append((time.perf_counter() - t) * 1000)
        out["ask_ms"] = (statistics.median(timings), percentile(timings, 95))

        again = Services(settings, embedder=services.embedder)
        started = time.perf_counter()
        unchanged = again.knowledge.sync()
        out["resync_s"] = time.perf_counter() - started
        assert unchanged.unchanged == out["entries"], unchanged.as_json()
        again.close()

        out["rss_end"] = rss_mib()
        if mode == "server":
            out["chroma_rss"] = rss_mib(str(servers[0]._proc.pid))
            out["store_mib"] = tree_mib(servers[0].dir / "db")
        else:
            out["store_mib"] = tree_mib(work / "data" / "chroma")
        out["lexical_mib"] = tree_mib(work / "data" / "lexical")
        services.close()
        return out
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mode", choices=["embedded", "server"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(run_mode(args.mode, args.entries, args.queries, args.seed)))
        return

    results = {}
    for mode in ("embedded", "server"):
        done = subprocess.run(
            [sys.executable, __file__, "--mode", mode, "--entries", str(args.entries),
             "--queries", str(args.queries), "--seed", str(args.seed)],
            capture_output=True, text=True, check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"{mode} failed:\n{done.stderr[-3000:]}")
        results[mode] = json.loads(done.stdout.strip().splitlines()[-1])

    e, s = results["embedded"], results["server"]
    print(f"\n## Servers: embedded vs server mode, {e['entries']} synthetic entries "
          f"({e['vectors']} vectors), {args.queries} queries\n")
    print(f"command: .venv/bin/python benchmarks/servers.py --entries {args.entries} --queries {args.queries}\n")
    print("| measure | embedded (Chroma in DATA_DIR, SQLite) | server (chroma run, PostgreSQL 15) |")
    print("|---|---|---|")
    print(f"| full index from empty | {e['index_s']:.1f} s ({e['entries'] / e['index_s']:.1f} entries/s) "
          f"| {s['index_s']:.1f} s ({s['entries'] / s['index_s']:.1f} entries/s) |")
    print(f"| search p50 / p95 | {e['search_ms'][0]:.1f} / {e['search_ms'][1]:.1f} ms "
          f"| {s['search_ms'][0]:.1f} / {s['search_ms'][1]:.1f} ms |")
    print(f"| ask p50 / p95 (no LLM, memory writes) | {e['ask_ms'][0]:.1f} / {e['ask_ms'][1]:.1f} ms "
          f"| {s['ask_ms'][0]:.1f} / {s['ask_ms'][1]:.1f} ms |")
    print(f"| no-change re-sync (new KnowledgeBase) | {e['resync_s']:.2f} s | {s['resync_s']:.2f} s |")
    print(f"| bot RSS: model loaded → after index, search, ask | {e['rss_model']:.0f} → {e['rss_end']:.0f} MiB "
          f"| {s['rss_model']:.0f} → {s['rss_end']:.0f} MiB |")
    print(f"| Chroma server RSS | (in the bot process) | {s['chroma_rss']:.0f} MiB |")
    print(f"| vector store on disk / lexical index on disk | {e['store_mib']:.1f} / {e['lexical_mib']:.1f} MiB "
          f"| {s['store_mib']:.1f} / {s['lexical_mib']:.1f} MiB |")
    print("\nRSS is the whole process (model, imports, indexes); the store sizes are on disk. "
          "Per-entry costs at 10,000 entries: benchmarks/scale.py.")

if __name__ == "__main__":
    main()
