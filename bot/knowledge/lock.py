"""One writer at a time: the lock a sync holds while it changes the store.

Two syncs writing the same Chroma collection at once leave vectors without embeddings and a
lexical index built from half of each; a cron `index` overlapping `run` is enough for that. So
every write to the store happens under a `WriterLock`, and a second writer waits a bounded time
(saying so on stderr) and then fails with a clear error instead of writing beside the first.

`FileLock` (flock on a file in the data dir) covers every process on one host, which is all an
embedded Chroma can have. A store shared by several hosts (a Chroma server) needs a lock those
hosts share too, such as a PostgreSQL advisory lock; such a lock implements the same two methods
and `writer_lock` combines it with the file lock (`AllLocks`), taken in order, released in reverse.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from bot.config import Settings
from bot.errors import DianxiaoerError

LOCK_FILE = "sync.lock"
POLL_SECONDS = 0.2


class SyncInProgressError(DianxiaoerError):
    """Another process held the writer lock for longer than we were willing to wait."""


class WriterLock(Protocol):
    def acquire(self, timeout: float, waiting: Callable[[str], None]) -> None:
        """Block until held, at most `timeout` seconds (then raise `SyncInProgressError`);
        call `waiting(who)` once if someone else holds it, `who` describing the holder."""

    def try_acquire(self) -> bool:
        """Take it only if nobody holds it."""

    def release(self) -> None: ...


class FileLock:
    """An exclusive flock on `path`; the kernel releases it when the holder dies, even by kill -9."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise DianxiaoerError(f"无法打开同步锁文件 {self.path}：{exc.strerror or exc}（数据目录可写吗？）") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        # Who holds it, for the message a waiting process prints; purely informational.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode(), 0)
        self._fd = fd
        return True

    def acquire(self, timeout: float, waiting: Callable[[str], None]) -> None:
        poll_until_held(self, timeout, waiting, lambda holder: (
            f"另一个同步仍在进行（{holder}），等了 {timeout:.0f} 秒仍未结束；请稍后再试（锁文件：{self.path}）"
        ))

    def holder(self) -> str:
        try:
            pid, _, since = self.path.read_text(encoding="utf-8").strip().partition(" ")
        except OSError:
            return "进程未知"
        return f"进程 {pid}，始于 {since}" if pid else "进程未知"

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class _Pollable(Protocol):
    def try_acquire(self) -> bool: ...

    def holder(self) -> str: ...


def poll_until_held(
    lock: _Pollable, timeout: float, waiting: Callable[[str], None], busy: Callable[[str], str]
) -> None:
    """Try `lock` every POLL_SECONDS until `timeout`: say once who holds it, then fail with
    `busy(holder)`."""
    deadline = time.monotonic() + timeout
    told = False
    while not lock.try_acquire():
        if not told:
            waiting(lock.holder())
            told = True
        if time.monotonic() >= deadline:
            raise SyncInProgressError(busy(lock.holder()))
        time.sleep(POLL_SECONDS)


class AllLocks:
    """Several locks held together (e.g. the data dir's and a database's)."""

    def __init__(self, locks: Sequence[WriterLock]) -> None:
        self.locks = list(locks)
        self._held: list[WriterLock] = []

    def try_acquire(self) -> bool:
        for lock in self.locks:
            if not lock.try_acquire():
                self.release()
                return False
            self._held.append(lock)
        return True

    def acquire(self, timeout: float, waiting: Callable[[str], None]) -> None:
        deadline = time.monotonic() + timeout
        try:
            for lock in self.locks:
                lock.acquire(max(0.0, deadline - time.monotonic()), waiting)
                self._held.append(lock)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        while self._held:
            self._held.pop().release()


def writer_lock(settings: Settings) -> WriterLock:
    """The lock every writer of this data dir's store takes: the file lock, and when hosts share
    a Chroma server and a PostgreSQL database, the database's advisory lock too (replica.py)."""
    from bot.knowledge.replica import shared_lock

    local = FileLock(settings.data_dir / LOCK_FILE)
    shared = shared_lock(settings)
    return AllLocks([local, shared]) if shared is not None else local


def say_waiting(who: str) -> None:
    print(f"另一个同步正在进行（{who}），等待它结束…", file=sys.stderr, flush=True)
