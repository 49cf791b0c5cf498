"""How the bot talks HTTP to the Bot API: aiohttp by default, httpx (PTB's own) as the choice.

Every update costs at least one Bot API call, and the bot is bounded by the Python that holds its
GIL (benchmarks/README.md, "Telegram"). Through PTB's HTTPXRequest a sendMessage costs about
1.1 ms of CPU; through aiohttp, whose parser is compiled, 0.17 ms (measured against a local
server). `DIANXIAOER_TELEGRAM_HTTP=httpx` keeps PTB's transport, e.g. for a SOCKS proxy.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

logger = logging.getLogger(__name__)  # its URLs carry the token: bot.telegram.app redacts it here


class AiohttpRequest(BaseRequest):
    """PTB's BaseRequest over one aiohttp session (created in `initialize`, in the bot's loop).

    Timeouts: connect and read as PTB passes them, the pool wait within the connect timeout;
    aiohttp has no write timeout, so an upload is bounded by the read timeout that follows it.
    """

    def __init__(
        self,
        connection_pool_size: int = 1,
        *,
        read_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        trust_env: bool = True,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._trust_env = trust_env  # HTTP(S)_PROXY and NO_PROXY from the environment
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                trust_env=self._trust_env,
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        pool = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with self._session.request(method, url, data=_body(request_data), timeout=timeout) as response:
                payload = await response.read()
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{error.__class__.__name__}: {error}") from error
        if logger.isEnabledFor(logging.INFO):  # as httpx logs its requests (shown with -v)
            logger.info('HTTP Request: %s %s "%d %s"', method, url, response.status, response.reason)
        return response.status, payload


def _body(request_data: RequestData | None) -> Any:
    """Form fields as PTB encodes them (each a JSON value), as multipart when files go with them."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    files = request_data.multipart_data if request_data.contains_files else {}
    if not files:
        return fields
    form = aiohttp.FormData(quote_fields=False)  # a file named 草稿.csv keeps its name, as httpx sends it
    for name, value in fields.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in files.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form


def make_request(kind: str, *, pool_size: int = 1, trust_env: bool = True) -> BaseRequest:
    if kind == "httpx":
        return HTTPXRequest(connection_pool_size=pool_size, httpx_kwargs={"trust_env": trust_env})
    return AiohttpRequest(pool_size, trust_env=trust_env)
