"""Two processes ("hosts", each with its own data dir) sharing one Chroma server and one PostgreSQL."""

import json
import os
import subprocess
import sys
import time

import pytest

from bot.config import Settings
from bot.knowledge.replica import AdvisoryLock
from bot.services import Services

FAQ = "问题,答案\n包邮吗？,满 99 元包邮。\n几天能到？,一般 2–4 天。\n"
FAQ_EDITED = "问题,答案\n包邮吗？,满 199 元包邮。\n几天能到？,一般 2–4 天。\n能开电子发票吗？,可以，下单时填写抬头。\n"

REPLICA = """
import json, sys
from bot.config import load_settings
from bot.services import Services

knowledge = Services(load_settings()).knowledge
print("ready", flush=True)
for line in sys.stdin:
    hit = knowledge.search(line.strip(), top_k=1)[0]
    print(json.dumps({"question": hit.question, "answer": hit.answer}, ensure_ascii=False), flush=True)
"""


@pytest.fixture
def shared(tmp_path, scratch_chroma, postgres):
    """Environment for host A and host B: own data dirs, one knowledge folder, shared servers."""
    scratch_chroma.reset()
    database = postgres.create_database("replicas")
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / "faq.csv").write_text(FAQ, encoding="utf-8")
    base = {k: v for k, v in os.environ.items() if not k.startswith("DIANXIAOER_")}
    hosts = {}
    for host in ("a", "b"):
        hosts[host] = base | {
            "DIANXIAOER_DATA_DIR": str(tmp_path / host),
            "DIANXIAOER_KNOWLEDGE_DIR": str(knowledge),
            "DIANXIAOER_CHROMA_URL": scratch_chroma.url,
            "DIANXIAOER_DATABASE_URL": database,
        }
    return hosts, knowledge


def settings_of(env):
    return Settings(**{k.removeprefix("DIANXIAOER_").lower(): v for k, v in env.items()
                       if k.startswith("DIANXIAOER_")}, _env_file=None)


def sync_here(env, embedder):
    """Host A's sync, in this process (with the model already loaded), as `dianxiaoer index` runs it."""
    services = Services(settings_of(env), embedder=embedder)
    try:
        return services.knowledge.sync()
    finally:
        services.close()


def dianxiaoer(env, *args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_a_sync_on_one_host_reaches_the_other_within_seconds(shared, e5):
    hosts, knowledge = shared
    assert len(sync_here(hosts["a"], e5).added) == 2
    replica = subprocess.Popen(
        [sys.executable, "-c", REPLICA], env=hosts["b"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    try:
        assert replica.stdout.readline().strip() == "ready", replica.stderr.read()

        def ask(query):
            replica.stdin.write(query + "\n")
            replica.stdin.flush()
            return json.loads(replica.stdout.readline())

        assert "99 元" in ask("包邮吗")["answer"]
        (knowledge / "faq.csv").write_text(FAQ_EDITED, encoding="utf-8")
        assert len(sync_here(hosts["a"], e5).updated) == 1
        synced = time.monotonic()
        while "199" not in ask("包邮吗")["answer"]:
            assert time.monotonic() - synced < 8, "host B still answers from before host A's sync"
            time.sleep(0.2)
        caught_up = time.monotonic() - synced
        # The new entry is in B's lexical index and entry table, not only in Chroma.
        assert ask("能开电子发票吗")["question"] == "能开电子发票吗？"
        assert caught_up < 8
    finally:
        replica.stdin.close()
        replica.wait(30)


def test_a_sync_on_another_host_holds_the_database_lock(shared, e5):
    hosts, _ = shared
    lock = AdvisoryLock(settings_of(hosts["a"]))
    assert lock.try_acquire()  # host A is syncing
    try:
        blocked = dianxiaoer(hosts["b"] | {"DIANXIAOER_SYNC_LOCK_TIMEOUT": "1"}, "index")
        assert blocked.returncode == 1
        assert "另一台机器上的同步仍在进行" in blocked.stderr + blocked.stdout
        assert not os.path.exists(os.path.join(hosts["b"]["DIANXIAOER_DATA_DIR"], "lexical"))
    finally:
        lock.release()
    assert len(sync_here(hosts["b"], e5).added) == 2  # released: host B syncs


def test_two_hosts_syncing_at_once_leave_a_consistent_index(shared, e5):
    hosts, knowledge = shared
    rows = "".join(f"第 {n} 号茶多少钱？,第 {n} 号茶 {n * 10} 元一罐。\n" for n in range(1, 41))
    (knowledge / "faq.csv").write_text("问题,答案\n" + rows, encoding="utf-8")
    runs = [
        subprocess.Popen([sys.executable, "-m", "bot", "index"], env=hosts[h], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for h in ("a", "b")
    ]
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
    for host in ("a", "b"):  # what `index --check` runs, with the model already loaded
        services = Services(settings_of(hosts[host]), embedder=e5)
        assert services.knowledge.check() == [], host
        assert len(services.knowledge.search("第 7 号茶多少钱", top_k=1)) == 1
        services.close()


def test_a_killed_sync_leaves_no_database_lock_behind(shared):
    hosts, _ = shared
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from bot.config import load_settings; from bot.knowledge.replica import AdvisoryLock;"
         "lock = AdvisoryLock(load_settings()); assert lock.try_acquire(); print('held', flush=True); time.sleep(600)"],
        env=hosts["a"], stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = AdvisoryLock(settings_of(hosts["b"]))
        assert not lock.try_acquire()
        holder.kill()  # kill -9 in the middle of a sync
        holder.wait(10)
        deadline = time.monotonic() + 10
        while not lock.try_acquire():
            assert time.monotonic() < deadline, "the dead sync's lock was never released"
            time.sleep(0.1)
        lock.release()
    finally:
        holder.kill()


def test_following_costs_one_database_read_every_two_seconds(tmp_path, monkeypatch):
    from bot.knowledge import replica as replica_module
    from bot.memory.db import open_db

    engine = open_db(Settings(data_dir=tmp_path, database_url="sqlite://", _env_file=None))
    follower = replica_module.Replica(lambda: engine, "faq_test")
    reads = []
    monkeypatch.setattr(follower, "published", lambda: reads.append(1))
    clock = [100.0]
    monkeypatch.setattr(replica_module.time, "monotonic", lambda: clock[0])
    for _ in range(500):  # a burst of messages
        follower.follow(None)
    assert len(reads) == 1
    clock[0] += replica_module.CHECK_SECONDS
    follower.follow(None)
    assert len(reads) == 2
    engine.dispose()
