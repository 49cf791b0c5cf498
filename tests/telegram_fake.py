"""A fake Telegram Bot API server on 127.0.0.1, for end-to-end tests of the Telegram adapter.

A real python-telegram-bot Application talks HTTP to it through `base_url`, exactly as it would
to api.telegram.org: form-encoded POSTs to /bot<token>/<method>, files from /file/bot<token>/…
The fake checks what Telegram checks (token, callback data ≤ 64 bytes, HTML that parses, 4096
characters, "message is not modified", each callback answered once), records every call so a test
can wait for it, and plays the users' side: messages, documents and button presses (a press
looks the button up in what the bot really sent).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

TOKEN = "123456:TEST-token-do-not-log"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "FakeBot", "username": "fake_bot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}

# Form fields whose Bot API type is not a string; everything else stays text (a user's "42" is text).
JSON_FIELDS = {
    "chat_id", "message_id", "reply_markup", "entities", "commands", "scope", "allowed_updates",
    "offset", "limit", "timeout", "show_alert", "reply_parameters", "link_preview_options",
    "message_thread_id", "cache_time", "max_connections", "drop_pending_updates",
    "disable_notification", "protect_content", "allow_sending_without_reply",
}
HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
             "tg-spoiler", "span", "blockquote", "tg-emoji"}
_TAG = re.compile(r"<(/?)([a-zA-Z-]+)(?:\s[^<>]*)?>")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


def check_html(text: str) -> None:
    """Raise ApiError as Telegram does for HTML it cannot parse (unescaped < or &, bad nesting)."""
    stack: list[str] = []
    position = 0
    for match in _TAG.finditer(text):
        between = text[position:match.start()]
        position = match.end()
        _check_plain(between)
        closing, tag = match.group(1) == "/", match.group(2).lower()
        if tag not in HTML_TAGS:
            raise ApiError(400, f"Bad Request: can't parse entities: unsupported start tag \"{tag}\"")
        if closing:
            if not stack or stack.pop() != tag:
                raise ApiError(400, f"Bad Request: can't parse entities: unexpected end tag \"{tag}\"")
        else:
            stack.append(tag)
    _check_plain(text[position:])
    if stack:
        raise ApiError(400, f"Bad Request: can't parse entities: unclosed start tag \"{stack[-1]}\"")


def _check_plain(chunk: str) -> None:
    if "<" in chunk:
        raise ApiError(400, "Bad Request: can't parse entities: unexpected <")
    for n, char in enumerate(chunk):
        if char == "&" and not _ENTITY.match(chunk, n):
            raise ApiError(400, "Bad Request: can't parse entities: unescaped &")


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float


class FakeTelegram:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.unimplemented: list[str] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.files: dict[str, tuple[str, bytes]] = {}
        self.documents: list[tuple[int, str, bytes]] = []  # what the bot uploaded: (chat, name, data)
        self.commands: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] | None = None
        self.answered: dict[str, bool] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._ids = itertools.count(1)
        self._failures: dict[str, list[tuple[int, int | None]]] = {}
        self._changed = asyncio.Condition()
        self._releasing = False
        self._runner: web.AppRunner | None = None
        self.port = 0

    # Lifecycle

    async def __aenter__(self) -> FakeTelegram:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, exc_type: object, *exc: object) -> None:
        await self.release_long_polls()
        assert self._runner is not None
        await self._runner.cleanup()
        if exc_type is None:  # the bot used only what the fake implements, and answered every press
            assert not self.unimplemented, f"the bot called methods the fake lacks: {self.unimplemented}"
            unanswered = [q for q, done in self.answered.items() if not done]
            assert not unanswered, f"callback queries never answered: {unanswered}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def release_long_polls(self) -> None:
        """Make every pending and later getUpdates return at once (shutting a bot down)."""
        self._releasing = True
        async with self._changed:
            self._changed.notify_all()

    def reopen(self) -> None:
        self._releasing = False

    # Error injection

    def fail_next(self, method: str, code: int, *, retry_after: int | None = None) -> None:
        self._failures.setdefault(method, []).append((code, retry_after))

    # Waiting for the bot

    def mark(self) -> int:
        return len(self.calls)

    def calls_to(self, method: str, after: int = 0) -> list[Call]:
        return [c for c in self.calls[after:] if c.method == method]

    async def wait_for(
        self,
        method: str,
        where: Callable[[dict[str, Any]], bool] | None = None,
        *,
        after: int = 0,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """The first call to `method` (since call number `after`) whose params satisfy `where`."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                for call in self.calls[after:]:
                    if call.method == method and (where is None or where(call.params)):
                        return call.params
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(c.method, c.params.get("text", "")[:60]) for c in self.calls[after:]]
                    raise AssertionError(f"no {method} within {timeout}s; calls since: {seen}")
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except TimeoutError:
                    pass

    # The users' side

    def user(self, user_id: int, first_name: str = "小王") -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": first_name}

    def _chat(self, chat_id: int) -> dict[str, Any]:
        if chat_id < 0:
            return {"id": chat_id, "type": "supergroup", "title": "客服组"}
        return {"id": chat_id, "type": "private", "first_name": "小王"}

    def _user_message(self, user: dict[str, Any], chat_id: int, **content: Any) -> dict[str, Any]:
        message = {"message_id": next(self._message_ids), "date": int(time.time()),
                   "chat": self._chat(chat_id), "from": user, **content}
        self.messages[(chat_id, message["message_id"])] = message
        return message

    def make_update(self, **content: Any) -> dict[str, Any]:
        return {"update_id": next(self._update_ids), **content}

    async def _queue(self, update: dict[str, Any]) -> dict[str, Any]:
        async with self._changed:
            self._updates.append(update)
            self._changed.notify_all()
        return update

    def message_update(self, user: dict[str, Any], chat_id: int, text: str, thread_id: int | None = None) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        if thread_id is not None:  # a message in a forum topic
            content.update(message_thread_id=thread_id, is_topic_message=True)
        if text.startswith("/"):
            command = text.split()[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self.make_update(message=self._user_message(user, chat_id, **content))

    async def user_sends(self, user: dict[str, Any], chat_id: int, text: str, thread_id: int | None = None) -> dict[str, Any]:
        return await self._queue(self.message_update(user, chat_id, text, thread_id))

    # Forwards and edits (what staff do with customers' messages)

    @staticmethod
    def origin_user(user: dict[str, Any], date: int) -> dict[str, Any]:
        """A forward of `user`'s message sent at unix time `date` (MessageOriginUser)."""
        return {"type": "user", "date": date, "sender_user": user}

    @staticmethod
    def origin_hidden_user(name: str, date: int) -> dict[str, Any]:
        """A forward from someone whose privacy settings hide their account: only a name."""
        return {"type": "hidden_user", "date": date, "sender_user_name": name}

    @staticmethod
    def origin_chat(title: str, date: int, chat_id: int = -100999, signature: str | None = None) -> dict[str, Any]:
        """A forward of a message sent on behalf of a group (anonymous admin)."""
        origin = {"type": "chat", "date": date,
                  "sender_chat": {"id": chat_id, "type": "supergroup", "title": title}}
        return origin | ({"author_signature": signature} if signature else {})

    @staticmethod
    def origin_channel(title: str, date: int, chat_id: int = -100888, message_id: int = 7,
                       signature: str | None = None) -> dict[str, Any]:
        """A forward of a channel post."""
        origin = {"type": "channel", "date": date, "message_id": message_id,
                  "chat": {"id": chat_id, "type": "channel", "title": title}}
        return origin | ({"author_signature": signature} if signature else {})

    async def user_forwards(
        self, user: dict[str, Any], chat_id: int, text: str, origin: dict[str, Any]
    ) -> dict[str, Any]:
        """`user` forwards a message with `text` whose first sender and time are `origin`
        (as Telegram does, the forward's own `date` is now and it carries no entities of ours)."""
        message = self._user_message(user, chat_id, text=text, forward_origin=origin)
        if origin["type"] == "user":  # the fields Telegram still sends beside forward_origin
            message["forward_from"], message["forward_date"] = origin["sender_user"], origin["date"]
        return await self._queue(self.make_update(message=message))

    async def user_edits(self, user: dict[str, Any], chat_id: int, message_id: int, text: str) -> dict[str, Any]:
        """`user` edits their message `message_id` to `text`: an `edited_message` update with the
        same id and original date, and an `edit_date`."""
        message = self.messages[(chat_id, message_id)]
        assert message["from"]["id"] == user["id"], "Telegram lets only the author edit a message"
        message.update(text=text, edit_date=int(time.time()))
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        else:
            message.pop("entities", None)
        return await self._queue(self.make_update(edited_message=dict(message)))

    async def user_replies(self, user: dict[str, Any], chat_id: int, text: str, to_message_id: int) -> dict[str, Any]:
        """`user` sends `text` as a reply to message `to_message_id` of the same chat."""
        replied = self.messages[(chat_id, to_message_id)]
        message = self._user_message(user, chat_id, text=text, reply_to_message=replied)
        return await self._queue(self.make_update(message=message))

    async def user_sends_document(
        self, user: dict[str, Any], chat_id: int, file_name: str, data: bytes, caption: str | None = None
    ) -> dict[str, Any]:
        file_id = f"file{next(self._ids)}"
        self.files[file_id] = (f"documents/{file_id}_{file_name}", data)
        document = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": file_name,
                    "file_size": len(data), "mime_type": "application/octet-stream"}
        extra = {"caption": caption} if caption else {}
        return await self._queue(self.make_update(message=self._user_message(user, chat_id, document=document, **extra)))

    def click_update(self, user: dict[str, Any], chat_id: int, message_id: int, button_text: str) -> dict[str, Any]:
        message = self.messages[(chat_id, message_id)]
        buttons = [b for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
        found = [b for b in buttons if button_text in b["text"]]
        if not found:
            raise AssertionError(f"no button {button_text!r} on message {message_id}: {[b['text'] for b in buttons]}")
        return self.press_update(user, chat_id, message_id, found[0]["callback_data"])

    def press_update(self, user: dict[str, Any], chat_id: int, message_id: int, data: str) -> dict[str, Any]:
        """A press carrying `data`, e.g. a button of an older version of the message."""
        query_id = f"q{next(self._ids)}"
        self.answered[query_id] = False
        return self.make_update(callback_query={
            "id": query_id, "from": user, "chat_instance": f"ci{chat_id}",
            "message": self.messages[(chat_id, message_id)], "data": data,
        })

    async def queue(self, update: dict[str, Any]) -> dict[str, Any]:
        return await self._queue(update)

    async def user_clicks(self, user: dict[str, Any], chat_id: int, message_id: int, button_text: str) -> dict[str, Any]:
        return await self._queue(self.click_update(user, chat_id, message_id, button_text))

    async def deliver(self, update: dict[str, Any], *, secret: str | None) -> int:
        """POST an update to the webhook the bot registered, as Telegram's sender does."""
        assert self.webhook is not None, "the bot set no webhook"
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        async with aiohttp.ClientSession() as client:
            async with client.post(self.webhook["url"], json=update, headers=headers) as response:
                return response.status

    # The Bot API

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return await request.json()
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, str):
                params[key] = json.loads(value) if key in JSON_FIELDS else value
            else:
                params[key] = value.file.read()
                params[f"_{key}_name"] = value.filename
        return params

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        params = await self._params(request)
        async with self._changed:
            self.calls.append(Call(method, params, time.monotonic()))
            self._changed.notify_all()
        failures = self._failures.get(method)
        if failures:
            code, retry_after = failures.pop(0)
            return self._error(ApiError(code, _DESCRIPTIONS.get(code, "Error").format(retry_after),
                                        {"retry_after": retry_after} if retry_after else None))
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            self.unimplemented.append(method)
            return self._error(ApiError(400, f"FakeTelegram: {method} not implemented"))
        try:
            result = await handler(params)
        except ApiError as exc:
            return self._error(exc)
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(exc: ApiError) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
        if exc.parameters:
            body["parameters"] = exc.parameters
        return web.json_response(body, status=exc.code)

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        for path, data in self.files.values():
            if path == request.match_info["path"]:
                return web.Response(body=data)
        return web.Response(status=404)

    async def _getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return BOT_USER

    async def _deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        return True

    async def _setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = params
        return True

    async def _setMyCommands(self, params: dict[str, Any]) -> bool:
        for command in params["commands"]:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command["command"]) or not 1 <= len(command["description"]) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        self.commands = params["commands"]
        return True

    async def _getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset, limit = params.get("offset") or 0, params.get("limit") or 100
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                if self._updates or self._releasing or time.monotonic() >= deadline:
                    return [] if self._releasing and not self._updates else self._updates[:limit]
                try:
                    await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
                except TimeoutError:
                    pass

    async def _sendChatAction(self, params: dict[str, Any]) -> bool:
        return True

    def _check_text(self, params: dict[str, Any]) -> str:
        text = params.get("text", "")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if params.get("parse_mode") == "HTML":
            check_html(text)
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        for row in (params.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if len(button.get("callback_data", "").encode()) > 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return text

    async def _sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        text = self._check_text(params)
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {"message_id": next(self._message_ids), "date": int(time.time()),
                                   "chat": self._chat(chat_id), "from": BOT_USER, "text": text}
        if params.get("message_thread_id"):
            message.update(message_thread_id=params["message_thread_id"], is_topic_message=True)
        markup = params.get("reply_markup")
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        self.messages[(chat_id, message["message_id"])] = message
        return message

    async def _sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        """A file the bot sends (multipart upload): kept in `documents` as (chat id, name, bytes)."""
        data = params.get("document")
        if not isinstance(data, bytes) or not data:
            raise ApiError(400, "Bad Request: there is no document in the request")
        caption = params.get("caption", "")
        if len(caption) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        if caption and params.get("parse_mode") == "HTML":
            check_html(caption)
        chat_id = int(params["chat_id"])
        name = params.get("_document_name", "document")
        self.documents.append((chat_id, name, data))
        message: dict[str, Any] = {"message_id": next(self._message_ids), "date": int(time.time()),
                                   "chat": self._chat(chat_id), "from": BOT_USER, "caption": caption,
                                   "document": {"file_id": f"doc{len(self.documents)}", "file_unique_id":
                                                f"udoc{len(self.documents)}", "file_name": name, "file_size": len(data)}}
        self.messages[(chat_id, message["message_id"])] = message
        return message

    async def _editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        text = self._check_text(params)
        key = (int(params["chat_id"]), int(params["message_id"]))
        message = self.messages.get(key)
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        markup = params.get("reply_markup") or None
        if message.get("text") == text and message.get("reply_markup") == markup:
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and "
                                "reply markup are exactly the same as a current content and reply markup of the message")
        message.update(text=text, edit_date=int(time.time()))
        if markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        return message

    async def _answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        query_id = params["callback_query_id"]
        if self.answered.get(query_id, True):
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        self.answered[query_id] = True
        return True

    async def _getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = params["file_id"]
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, data = self.files[file_id]
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(data), "file_path": path}


_DESCRIPTIONS = {
    429: "Too Many Requests: retry after {}",
    403: "Forbidden: bot was blocked by the user",
    502: "Bad Gateway",
}
