"""Where a push goes: each channel × format, its limits, checker surface and frequency cap.

Limits follow the platforms: 公众号图文 title ≤ 64 and digest ≤ 120 characters; 客服消息, 私信
and 朋友圈 are kept to 300 characters (short and personal, read on a phone); a Weibo post may be
2,000 characters and carries one to three #话题#.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.compliance.frequency import PushChannel
from bot.errors import DianxiaoerError


@dataclass(frozen=True)
class PushFormat:
    channel: str  # wechat | weibo
    name: str  # article | service | moments | post | dm
    label: str
    surface: str  # the checker's surface for this format
    cap: PushChannel  # the frequency rule a send counts against
    max_chars: int  # the body (for an article, the body too)
    per_customer: bool  # one draft per customer (one-to-one) or one text for everyone
    title_chars: int | None = None
    digest_chars: int | None = None
    topics: tuple[int, int] | None = None  # (min, max) #话题# for a Weibo post

    @property
    def key(self) -> str:
        return f"{self.channel}_{self.name}"


FORMATS: dict[tuple[str, str], PushFormat] = {
    ("wechat", "article"): PushFormat(
        "wechat", "article", "公众号群发图文", "mass", "wechat_mass_service", 2000, False,
        title_chars=64, digest_chars=120,
    ),
    ("wechat", "service"): PushFormat(
        "wechat", "service", "客服消息", "customer_service", "wechat_customer_service", 300, True
    ),
    ("wechat", "moments"): PushFormat("wechat", "moments", "朋友圈", "moments", "wechat_moments", 300, False),
    ("weibo", "post"): PushFormat("weibo", "post", "微博", "post", "weibo_post", 2000, False, topics=(1, 3)),
    ("weibo", "dm"): PushFormat("weibo", "dm", "微博私信", "dm", "weibo_dm", 300, True),
}

CHANNELS = ("wechat", "weibo")


def formats_of(channel: str) -> list[str]:
    return [name for ch, name in FORMATS if ch == channel]


def push_format(channel: str, fmt: str) -> PushFormat:
    if channel not in CHANNELS:
        raise DianxiaoerError(f"未知渠道 {channel!r}，可选：wechat、weibo")
    found = FORMATS.get((channel, fmt))
    if found is None:
        raise DianxiaoerError(f"渠道 {channel} 没有格式 {fmt!r}，可选：{'、'.join(formats_of(channel))}")
    return found
