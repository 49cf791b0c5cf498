"""A scripted day with the bot, to read what its users see: a support agent (private chat and the
staff group) and the merchant, through the fake Bot API server, with the real services over the
tests' tiny shop. Not a test: it prints every message, edit and alert the bot sends.

    .venv/bin/python -m tests.telegram_day /tmp/telegram-day
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.embeddings import make_embeddings
from bot.push.writer import PushWriter
from tests.telegram_fake import FakeTelegram
from tests.test_telegram import ADMIN, GROUP, STAFF, STRANGER, card_id, idle, running_bot, write_shop

_TAG = re.compile(r"<[^>]+>")
CUSTOMER = {"id": 42, "is_bot": False, "first_name": "王芳"}
PHOTO = [{"file_id": "p1", "file_unique_id": "up1", "width": 90, "height": 90}]


def _show(fake: FakeTelegram, mark: int) -> None:
    for call in fake.calls[mark:]:
        params = call.params
        if call.method in ("sendMessage", "editMessageText"):
            buttons = [b["text"] for row in (params.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
            where = "new" if call.method == "sendMessage" else f"edits #{params['message_id']}"
            text = _TAG.sub("", params["text"]).replace("\n", "\n      ")
            print(f"  <- [{where}] {text}" + (f"\n      buttons: {buttons}" if buttons else ""))
        elif call.method == "answerCallbackQuery":
            print(f"  <- [alert] {params.get('text')}")


class Day:
    def __init__(self, fake: FakeTelegram, app: Any) -> None:
        self.fake, self.app = fake, app

    async def _run(self, what: str, update: Any) -> dict:
        print(f"\n-> {what}")
        mark = self.fake.mark()
        sent = await update
        await idle(self.app, self.fake, timeout=120)
        _show(self.fake, mark)
        return sent

    async def say(self, user: int, chat: int, text: str) -> int:
        sent = await self._run(f"{user}@{chat}: {text[:80]}", self.fake.user_sends(self.fake.user(user), chat, text))
        return sent["message"]["message_id"]

    async def press(self, user: int, chat: int, card_text: str, button: str) -> None:
        message_id = card_id(self.fake, chat, card_text)
        await self._run(f"{user} presses {button} on the card with {card_text!r}",
                        self.fake.user_clicks(self.fake.user(user), chat, message_id, button))

    async def forward(self, user: int, chat: int, text: str, origin: dict) -> int:
        sent = await self._run(f"{user}@{chat} forwards {text!r} ({origin['type']})",
                               self.fake.user_forwards(self.fake.user(user), chat, text, origin))
        return sent["message"]["message_id"]

    async def edit(self, user: int, chat: int, message_id: int, text: str) -> None:
        await self._run(f"{user}@{chat} edits #{message_id} to {text!r}",
                        self.fake.user_edits(self.fake.user(user), chat, message_id, text))

    async def reply(self, user: int, chat: int, text: str, to: int) -> None:
        await self._run(f"{user}@{chat} replies {text!r} to #{to}",
                        self.fake.user_replies(self.fake.user(user), chat, text, to))

    async def raw(self, user: int, chat: int, what: str, **content: Any) -> None:
        message = self.fake._user_message(self.fake.user(user), chat, **content)
        await self._run(f"{user}@{chat}: {what}", self.fake.queue(self.fake.make_update(message=message)))


async def day(root: Path) -> None:
    write_shop(root / "knowledge")
    base = Settings(data_dir=root / "data", knowledge_dir=root / "knowledge", _env_file=None)
    knowledge = KnowledgeBase(base, embedder=make_embeddings(base))
    knowledge.sync()
    async with running_bot(base, knowledge, root / "bot.db") as (fake, services, app):
        services.push_writer = PushWriter(services.settings, engine=services.engine, knowledge=knowledge)
        d, s, a = Day(fake, app), STAFF, ADMIN
        print("=== support agent, private chat ===")
        await d.say(s, s, "/start")
        await d.say(s, s, "/customer C001 微信")
        await d.say(s, s, "亲 满多少包邮？还有多久能发货")
        await d.press(s, s, "满多少包邮", "发送")
        await d.forward(s, s, "可以退货吗", fake.origin_user(CUSTOMER, int(time.time()) - 1200))
        await d.press(s, s, "可以退货吗", "发送")
        for text in ("在吗", "龙井", "怎么泡"):  # a customer who splits one question in three
            await d.forward(s, s, text, fake.origin_user(CUSTOMER, int(time.time()) - 300))
        typo = await d.say(s, s, "能开发漂吗")
        await d.edit(s, s, typo, "能开发票吗")
        await d.press(s, s, "能开发票吗", "修改")
        rewrite = await d.say(s, s, "可以开电子发漂，下单备注抬头和税号")
        await d.edit(s, s, rewrite, "可以开电子发票，下单备注抬头和税号")
        await d.say(s, s, "/customer C002")
        first_card = next(i for (chat, i), m in fake.messages.items() if chat == s and "草稿 #1</b>" in m.get("text", ""))
        await d.reply(s, s, "那偏远地区呢", first_card)  # C001's follow-up, though serving C002
        await d.raw(s, s, "a forwarded photo with a caption", photo=PHOTO, caption="这款有货吗",
                    forward_origin=fake.origin_hidden_user("张三", int(time.time()) - 60))
        await d.say(s, s, "有没有咖啡豆卖")
        await d.press(s, s, "咖啡豆", "📌")
        await d.say(s, s, "/stats")
        print("\n=== the staff group ===")
        forwarded = await d.forward(s, GROUP, "多久发货？", fake.origin_user(CUSTOMER, int(time.time()) - 600))
        await d.reply(a, GROUP, "@fake_bot", forwarded)
        await d.say(STRANGER, GROUP, "/start@fake_bot")
        await d.say(STRANGER, STRANGER, "你好")
        print("\n=== merchant ===")
        await d.say(a, a, "/kb")
        await d.say(a, a, "/candidates")
        await d.say(a, a, "/gaps")
        await d.say(a, a, "/check 全网最低价！最后一天！错过再等一年！！！")
        await d.say(a, a, "/push wechat moments 白茶上新，满200减20")
        await d.say(a, a, "/stats 7")
    print("\nmethods the fake lacks:", fake.unimplemented or "none")


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/telegram-day")
    folder.mkdir(parents=True, exist_ok=True)
    asyncio.run(day(folder))
