"""The Telegram loop with several bot replicas sharing one Chroma server and one PostgreSQL.

One bot process is bounded by the Python that holds its GIL (benchmarks/README.md "Telegram"); a
deployment that needs more runs replicas in webhook mode behind a load balancer (issue 19). Here:

  * a Chroma server (`chroma run`) and a throwaway PostgreSQL cluster (tests/servers.py) on
    127.0.0.1; N synthetic entries from scale.py's generator indexed into them through the
    product's own sync (`Services(...).knowledge.sync()`, timed);
  * the test suite's fake Bot API server (tests/telegram_fake.py) in this process; every replica
    sends its Bot API calls there;
  * N bot processes, each its own data dir, the same CHROMA_URL and DATABASE_URL, serving a webhook
    on its own port: the product's `build_application` run by `Application.run_webhook` with the
    limiter's pacing off (what the replicas can do), or with --cli-replicas the shipped command
    `dianxiaoer telegram --webhook-url http://127.0.0.1:PORT/hook --port PORT` (pacing on, 30/s
    per process, as in production);
  * this process plays Telegram's webhook sender and the load balancer in front of the replicas:
    an update of chat c is POSTed (with the secret token) to replica c mod N, so every update of
    one chat reaches the same replica and a chat stays in order; each chat's updates are posted
    one after the other, the 20 chats side by side.

Printed for each N: one question at a time (update posted → card received by the fake, p50 / p95
/ max), a burst of distinct questions from 20 staff chats (cards per second, latency inside the
burst p50 / p95), the CPU the replicas, the Chroma server and this process (fake Bot API and load
balancer) spent per update in the burst, and the load average.

    .venv/bin/python benchmarks/telegram_replicas.py [--entries 2000] [--replicas 1,2] [--cli-replicas 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from telegram_loop import burst_timing, percentile, summary  # noqa: E402

SECRET = "bench-replicas-secret"
STAFF_BASE = 5000
CHATS = 20
CARD = "草稿 #"


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# The replica: what `dianxiaoer telegram --webhook-url` runs, with the limiter's pacing a parameter.

def serve_replica(port: int, pacing: float) -> None:
    from bot.config import load_settings
    from bot.services import Services
    from bot.telegram import TelegramServices, build_application
    from bot.telegram.app import ALLOWED_UPDATES

    services = Services(load_settings())
    bot_services = TelegramServices(assistant=services.assistant, checker_model=services.checker_model,
                                    push_writer=services.push_writer)
    application = build_application(bot_services, overall_max_rate=pacing, trust_env=False)
    application.run_webhook(listen="127.0.0.1", port=port, url_path="hook",
                            webhook_url=f"http://127.0.0.1:{port}/hook", secret_token=SECRET,
                            allowed_updates=ALLOWED_UPDATES)


class Replicas:
    """N bot processes on their own ports, sharing the servers; stopped with SIGINT as Ctrl-C would."""

    def __init__(self, n: int, root: Path, env: dict[str, str], cli: bool) -> None:
        from tests.servers import free_port

        self.ports = [free_port() for _ in range(n)]
        self.logs = [root / f"replica-{n}-{i}.log" for i in range(n)]
        self.procs: list[subprocess.Popen[bytes]] = []
        for i, port in enumerate(self.ports):
            replica_env = env | {"DIANXIAOER_DATA_DIR": str(root / f"replica-{i}")}
            if cli:
                argv = [str(Path(sys.executable).with_name("dianxiaoer")), "telegram",
                        "--webhook-url", f"http://127.0.0.1:{port}/hook", "--port", str(port)]
            else:
                argv = [sys.executable, str(Path(__file__).resolve()), "--serve", str(port)]
            with self.logs[i].open("wb") as log:
                self.procs.append(subprocess.Popen(argv, env=replica_env, stdout=log, stderr=subprocess.STDOUT,
                                                   stdin=subprocess.DEVNULL, cwd=root))

    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}/hook" for port in self.ports]

    def check(self) -> None:
        for proc, log in zip(self.procs, self.logs, strict=True):
            if proc.poll() is not None:
                raise RuntimeError(f"replica exited ({proc.returncode}):\n{log.read_text(errors='replace')[-3000:]}")

    async def wait_listening(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        for port in self.ports:
            while True:
                self.check()
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"replica on port {port} not listening after {timeout:.0f} s") from None
                    await asyncio.sleep(0.2)

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.procs)

    async def stop(self) -> None:
        # Waited for without blocking the event loop: the fake Bot API must answer their shutdown.
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 30
        while any(proc.poll() is None for proc in self.procs) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


class Balancer:
    """Telegram's webhook sender and a load balancer in one: chat c goes to replica c mod N."""

    def __init__(self, urls: list[str]) -> None:
        import aiohttp

        self.urls = urls
        self.client = aiohttp.ClientSession()

    def url_of(self, chat: int) -> str:
        return self.urls[chat % len(self.urls)]

    async def post(self, chat: int, update: dict[str, Any]) -> None:
        async with self.client.post(self.url_of(chat), json=update,
                                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as response:
            if response.status != 200:
                raise RuntimeError(f"replica {self.url_of(chat)} answered HTTP {response.status}")

    async def close(self) -> None:
        await self.client.close()


def cards_after(fake: Any, mark: int) -> list[tuple[str, float]]:
    return [(c.params["text"], c.at) for c in fake.calls[mark:]
            if c.method == "sendMessage" and CARD in c.params["text"]]


async def ask_one(fake: Any, balancer: Balancer, chat: int, text: str, timeout: float) -> float:
    """Post one question and wait for its card; milliseconds from the post to the card."""
    mark = fake.mark()
    started = time.monotonic()  # the fake stamps calls with time.monotonic() too
    await balancer.post(chat, fake.message_update(fake.user(chat), chat, text))
    await fake.wait_for("sendMessage", lambda p: CARD in p["text"] and text in p["text"], after=mark,
                        timeout=timeout)
    card = next(at for body, at in cards_after(fake, mark) if text in body)
    return (card - started) * 1000


async def measure(n: int, cli: bool, root: Path, env: dict[str, str], queries: list[str],
                  args: argparse.Namespace, chroma_pid: int) -> None:
    from tests.telegram_fake import FakeTelegram

    how = "`dianxiaoer telegram --webhook-url`, pacing 30/s per process" if cli else \
        "build_application in webhook mode, limiter pacing off"
    print(f"\n{n} replica{'s' if n > 1 else ''} ({how}); chats per replica "
          f"{[sum(1 for c in range(CHATS) if (STAFF_BASE + c) % n == r) for r in range(n)]}", flush=True)
    async with FakeTelegram() as fake:
        replica_env = env | {"DIANXIAOER_TELEGRAM_BASE_URL": fake.base_url,
                             "DIANXIAOER_TELEGRAM_BASE_FILE_URL": fake.base_file_url}
        started = time.monotonic()
        replicas = Replicas(n, root, replica_env, cli)
        balancer: Balancer | None = None
        try:
            await replicas.wait_listening()
            balancer = Balancer(replicas.urls())
            print(f"  replicas listening after {time.monotonic() - started:.1f} s", flush=True)
            # Warm-up, every replica: lazy imports, the gate fitted to this FAQ in its own data
            # dir, the first database sessions, HTTP connections.
            for k in range(3 * CHATS // 2):
                chat = STAFF_BASE + k % CHATS
                await ask_one(fake, balancer, chat, f"{queries[k]}（热身{k}）", timeout=600)
            print(f"  warmed up after {time.monotonic() - started:.1f} s", flush=True)

            ms = []
            for k, text in enumerate(queries[: args.questions]):
                replicas.check()
                ms.append(await ask_one(fake, balancer, STAFF_BASE + k % CHATS, f"{text}（单{k}）", timeout=60))
            print(f"  one at a time: {summary(ms)}; load average {load()}", flush=True)

            per_chat: dict[int, list[tuple[str, dict[str, Any]]]] = {}
            for k in range(args.burst):
                chat = STAFF_BASE + k % CHATS
                text = f"{queries[k % len(queries)]}（{k}）"  # unique, to match each card to its update
                per_chat.setdefault(chat, []).append((text, fake.message_update(fake.user(chat), chat, text)))
            queued: dict[str, float] = {}

            async def send(chat: int, updates: list[tuple[str, dict[str, Any]]]) -> None:
                assert balancer is not None
                for text, update in updates:
                    queued[text] = time.monotonic()
                    await balancer.post(chat, update)

            mark = fake.mark()
            cpu_before = (replicas.cpu(), cpu_seconds(chroma_pid), time.process_time())
            await asyncio.gather(*(send(chat, updates) for chat, updates in per_chat.items()))
            posted = time.monotonic()
            deadline = posted + 600
            while len(cards_after(fake, mark)) < args.burst:
                replicas.check()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{len(cards_after(fake, mark))} of {args.burst} cards after 600 s")
                await asyncio.sleep(0.05)
            cpu_after = (replicas.cpu(), cpu_seconds(chroma_pid), time.process_time())
            cards = cards_after(fake, mark)
            elapsed, latency = burst_timing(cards, queued)
            bot_cpu, chroma_cpu, here_cpu = (1000 * (after - before) / len(cards)
                                             for before, after in zip(cpu_before, cpu_after, strict=True))
            print(f"  burst of {args.burst} from {CHATS} chats: {len(cards) / elapsed:.1f} cards/s "
                  f"({len(cards)} cards in {elapsed:.2f} s, all posted after {posted - min(queued.values()):.2f} s); "
                  f"latency in the burst {summary(latency)}; load average {load()}", flush=True)
            print(f"  CPU per update in the burst: replicas {bot_cpu:.1f} ms, Chroma server {chroma_cpu:.1f} ms, "
                  f"this process (fake Bot API + balancer) {here_cpu:.1f} ms; RSS: replicas "
                  f"{', '.join(f'{rss_mib(p.pid):.0f}' for p in replicas.procs)} MiB, "
                  f"Chroma server {rss_mib(chroma_pid):.0f} MiB", flush=True)
        finally:
            if balancer is not None:
                await balancer.close()
            await fake.release_long_polls()
            await replicas.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--replicas", default="1,2", help="comma-separated numbers of replicas to measure")
    parser.add_argument("--questions", type=int, default=100, help="one-at-a-time latency sample")
    parser.add_argument("--burst", type=int, default=300, help="updates posted at once for throughput")
    parser.add_argument("--cli-replicas", default="",
                        help="then these numbers of replicas run as the shipped `dianxiaoer telegram "
                             "--webhook-url` (Telegram's pacing on, 30/s per process), e.g. 2")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)  # a replica (internal)
    parser.add_argument("--pacing", type=float, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_replica(args.serve, args.pacing)
        return

    from bot.config import Settings
    from bot.services import Services
    from scale import synthetic_entries, write_csv
    from tests.servers import ChromaServer, PostgresCluster
    from tests.telegram_fake import TOKEN

    runs = [(int(x), False) for x in args.replicas.split(",") if x] + \
        [(int(x), True) for x in args.cli_replicas.split(",") if x]
    counts = [n for n, _ in runs]
    root = Path(tempfile.mkdtemp(prefix="dx-tgreplicas-"))
    print(f"telegram replicas: {args.entries} entries, replicas {counts}, CPUs {os.cpu_count()}, "
          f"load average {load()}, dir {root}", flush=True)
    chroma = postgres = None
    try:
        chroma, postgres = ChromaServer(), PostgresCluster()
        database = postgres.create_database("replicas")
        rows = synthetic_entries(args.entries)
        knowledge = root / "knowledge"
        knowledge.mkdir()
        write_csv(knowledge / "faq.csv", rows)
        settings = Settings(data_dir=root / "indexer", knowledge_dir=knowledge, chroma_url=chroma.url,
                            database_url=database, _env_file=None)
        services = Services(settings)
        started = time.perf_counter()
        report = services.knowledge.sync()
        print(f"index into the Chroma server: {args.entries} entries in {time.perf_counter() - started:.1f} s "
              f"(+{len(report.added)}); load average {load()}", flush=True)
        services.close()
        del services

        base = {k: v for k, v in os.environ.items()
                if not k.startswith("DIANXIAOER_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
        env = base | {
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            "DIANXIAOER_KNOWLEDGE_DIR": str(knowledge), "DIANXIAOER_CHROMA_URL": chroma.url,
            "DIANXIAOER_DATABASE_URL": database, "DIANXIAOER_TELEGRAM_TOKEN": TOKEN,
            "DIANXIAOER_TELEGRAM_WEBHOOK_SECRET": SECRET,
            "DIANXIAOER_TELEGRAM_STAFF": ",".join(str(STAFF_BASE + c) for c in range(CHATS)),
        }
        queries = [row["query"] for row in rows]
        for n, cli in runs:
            asyncio.run(measure(n, cli, root, env, queries, args, chroma._proc.pid))
    finally:
        for server in (chroma, postgres):
            if server is not None:
                server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
