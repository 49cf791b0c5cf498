"""Crash on purpose, for the tests that prove a killed sync loses nothing.

With DIANXIAOER_FAULT_AFTER_BATCHES=N a sync exits at once (os._exit: no cleanup, no finally
blocks, as under kill -9) after writing its N-th batch to the store; with
DIANXIAOER_FAULT_AT_PHASE=name it exits when it reaches that phase. Unset, both cost nothing.
"""

from __future__ import annotations

import os
import sys

from bot.config import Settings
from bot.errors import ConfigError

# In the order a sync passes them.
PHASES = (
    "locked",  # holds the writer lock, has read what is stored, has written nothing
    "embedded",  # every added and changed entry written
    "deleted",  # removed entries deleted
    "checked",  # the store checked against the files, and repaired
    "lexical",  # the lexical index saved, the sync state not yet
    "done",  # the sync state written
)
EXIT_CODE = 86


class Faults:
    def __init__(self, settings: Settings) -> None:
        self.after_batches = settings.fault_after_batches
        self.at_phase = settings.fault_at_phase
        if self.at_phase is not None and self.at_phase not in PHASES:
            raise ConfigError(f"DIANXIAOER_FAULT_AT_PHASE 应是 {', '.join(PHASES)} 之一，而不是 {self.at_phase!r}")
        self.batches = 0

    def batch_written(self) -> None:
        self.batches += 1
        if self.after_batches is not None and self.batches >= self.after_batches:
            _die(f"after batch {self.batches}")

    def phase(self, name: str) -> None:
        assert name in PHASES, name
        if name == self.at_phase:
            _die(f"at phase {name}")


def _die(where: str) -> None:
    sys.stderr.write(f"[fault injection] sync killed {where}\n")
    sys.stderr.flush()
    os._exit(EXIT_CODE)
