"""Logging set up at the edges (CLI, Telegram): secrets in URLs never reach a log line.

Libraries log the URLs they call: httpx logs every request (`LLM_BASE_URL` may carry a user and
password or a `?key=` token; Telegram's API puts the bot token in the path, /bot<token>/…), and
exceptions repeat them. `RedactSecrets` rewrites each record — its message, arguments, traceback
and stack — before any handler formats it; `setup_logging` installs it on the stderr handler,
and `install_redaction` puts it on any other handler (the Telegram adapter's, a file's).
"""

from __future__ import annotations

import logging
import re
import sys

MASK = "***"

# Each pattern starts only where its run starts (lookbehinds), so a long line stays linear.
_USERINFO = re.compile(r"(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#@]+@")
_QUERY_VALUE = re.compile(r"([?&;][^\s=&#?;]+=)[^\s&#;\"']+")
_TELEGRAM_PATH = re.compile(r"/bot\d+:[A-Za-z0-9_-]+")
_TELEGRAM_TOKEN = re.compile(r"(?<![A-Za-z0-9_:-])\d{6,12}:[A-Za-z0-9_-]{30,}")
_BEARER = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}")
_API_KEY = re.compile(r"(?<![A-Za-z0-9_-])(?:sk|pk|rk)-[A-Za-z0-9_-]{12,}")


# Secrets this process was configured with (settings.remember_secrets): masked wherever they
# appear, whatever shape they have — e.g. a gateway that puts its key in the URL's path.
_known: set[str] = set()
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9_~.-]{16,}")


def remember_secret(value: str | None) -> None:
    if value and len(value) >= 6:
        _known.add(value)


def remember_url_secrets(url: str | None) -> None:
    """Path segments of `url` that look like keys (long, letters and digits mixed)."""
    from urllib.parse import urlsplit

    if not url:
        return
    for segment in urlsplit(url).path.split("/"):
        if _TOKEN_LIKE.fullmatch(segment) and re.search(r"\d", segment) and re.search(r"[A-Za-z]", segment):
            remember_secret(segment)


def redact(text: str) -> str:
    """`text` with URL userinfo, query values, Telegram bot tokens, bearer credentials, API keys
    and the secrets this process was configured with replaced by ***."""
    if not text:
        return text
    # Longest first: a secret holding a shorter one is masked whole, not around the shorter.
    for secret in sorted(_known, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _USERINFO.sub(rf"\1{MASK}@", text)
    text = _QUERY_VALUE.sub(rf"\1{MASK}", text)
    text = _TELEGRAM_PATH.sub(f"/bot{MASK}", text)
    text = _TELEGRAM_TOKEN.sub(MASK, text)
    text = _BEARER.sub(rf"\1 {MASK}", text)
    return _API_KEY.sub(MASK, text)


class RedactSecrets(logging.Filter):
    """A handler filter that redacts secrets in every record it lets through (never drops one)."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not fit its format: keep it readable
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_redaction(handler: logging.Handler) -> logging.Handler:
    if not any(isinstance(f, RedactSecrets) for f in handler.filters):
        handler.addFilter(RedactSecrets())
    return handler


_OUR_HANDLER = "dianxiaoer-stderr"


def setup_logging(verbose: bool) -> None:
    """Log to stderr: warnings and errors, or with `verbose` also what is happening (INFO).

    The level is set on the handler, not only on loggers: a library that sets its own logger to
    DEBUG at import (bm25s does) still prints nothing below it. Called again (tests run many
    commands in one process) it replaces its own handler.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == _OUR_HANDLER]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_OUR_HANDLER)
    handler.setLevel(logging.INFO if verbose else logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    install_redaction(handler)
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.WARNING, handler.level))
    for other in root.handlers:  # e.g. pytest's capture handler: redacted too
        install_redaction(other)
    # An INFO line per index build is noise even with -v. httpx's request lines stay (with -v):
    # they are redacted like every other line.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
