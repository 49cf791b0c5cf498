"""The one error type users see.

Core code raises `DianxiaoerError` (or a subclass) with a message that is safe to show as is;
the CLI turns it into a one-line message and exit code 1, the Telegram adapter into a reply.
"""


class DianxiaoerError(Exception):
    """An error whose message is meant for the person using 店小二."""


class ConfigError(DianxiaoerError):
    """A setting is missing or wrong."""


class KnowledgeFileError(DianxiaoerError):
    """A knowledge file cannot be read; the message names file, line and why."""

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {reason}")
