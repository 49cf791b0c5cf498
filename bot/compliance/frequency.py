"""Push frequency caps: may this message go to this customer now, and if not, when?

A pure function over what the caller already knows (previous sends on the channel to this
recipient, when the customer last wrote, whether they opted out); the caller owns storage.

Rules and where they come from:
- ``wechat_mass_subscription`` — 订阅号 can 群发 once per (local) day; the quota resets at 00:00.
  (WeChat developer docs, 群发接口: “为订阅号提供了每天一条的群发权限”.)
- ``wechat_mass_service`` — 服务号 followers receive at most 4 群发 per natural month; a fifth fails
  for that follower. (Same page: “服务号…每月（自然月）4条”.)
- ``wechat_customer_service`` — 客服消息 only within 48 hours of the customer's last message to us.
- ``wechat_moments`` — no platform quota; 店小二 allows 3 posts per local day so the shop does not
  flood friends' timelines (a product choice).
- ``weibo_post`` — no hard platform quota; 店小二 allows 5 marketing posts per local day (a product
  choice: 微博商业行为规范办法 punishes reported spam marketing, and bursts get reported).
- ``weibo_dm`` — 私信 only to customers who wrote to us in the last 7 days, at most 1 per local day
  (a product choice: unsolicited marketing DMs are what gets reported and costs credit points).
- Everything: never to opted-out customers (广告法第四十三条: a way to refuse must be honoured);
  not during quiet hours (default 22:00–08:00 local), except replies in a live conversation
  (customer wrote in the last hour) on the one-to-one channels.

The function walks forward from ``now`` applying each constraint until none moves the time, so
``next_allowed_at`` respects all of them at once (a daily cap reached at 21:30 waits past the night
to 08:00, not to 00:00).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import DianxiaoerError

PushChannel = Literal[
    "wechat_mass_subscription",
    "wechat_mass_service",
    "wechat_customer_service",
    "wechat_moments",
    "weibo_post",
    "weibo_dm",
]

SUBSCRIPTION_PER_DAY = 1
SERVICE_PER_MONTH = 4
CUSTOMER_SERVICE_WINDOW = timedelta(hours=48)
MOMENTS_PER_DAY = 3
WEIBO_POSTS_PER_DAY = 5
WEIBO_DM_WINDOW = timedelta(days=7)
WEIBO_DM_PER_DAY = 1
# A customer who wrote this recently is in a conversation; answering them is not a night push.
LIVE_CONVERSATION = timedelta(hours=1)

_LABELS: dict[str, str] = {
    "wechat_mass_subscription": "订阅号群发",
    "wechat_mass_service": "服务号群发",
    "wechat_customer_service": "客服消息",
    "wechat_moments": "朋友圈",
    "weibo_post": "微博",
    "weibo_dm": "微博私信",
}


@dataclass(frozen=True)
class PushDecision:
    allowed: bool
    reason: str  # Chinese, user-facing, e.g. "订阅号每天只能群发 1 次，今天已发送"
    next_allowed_at: datetime | None  # aware datetime, None when allowed or never (opted out)


# A constraint looks at a candidate time and returns None (fine), or (reason, later time) when
# the candidate is not allowed; a later time of None means waiting will not help.
Constraint = Callable[[datetime], "tuple[str, datetime | None] | None"]


def _fmt(moment: datetime) -> str:
    return moment.strftime("%m月%d日 %H:%M")


def check_push(
    *,
    channel: PushChannel,
    now: datetime,
    previous_sends: Sequence[datetime],
    last_customer_message_at: datetime | None,
    opted_out: bool,
    quiet_start: int = 22,
    quiet_end: int = 8,
    tz: str = "Asia/Shanghai",
) -> PushDecision:
    """Decide whether a push on `channel` may go out at `now`; say why not and when it may.

    `previous_sends` are earlier sends on this channel (to this recipient for per-follower caps).
    All datetimes must be timezone-aware; days and months are counted in `tz`.
    """
    if channel not in _LABELS:
        raise DianxiaoerError(f"未知的推送渠道 {channel!r}，可选：{'、'.join(_LABELS)}")
    for value in (now, last_customer_message_at, *previous_sends):
        if value is not None and value.tzinfo is None:
            raise DianxiaoerError("推送时间必须带时区（aware datetime）")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise DianxiaoerError(f"未知时区 {tz!r}") from None
    if not (0 <= quiet_start <= 23 and 0 <= quiet_end <= 23):
        raise DianxiaoerError("免打扰时段的起止小时必须在 0–23 之间")

    label = _LABELS[channel]
    if opted_out:
        return PushDecision(False, f"该客户已退订或拒收，不能再向其发送{label}", None)

    local_now = now.astimezone(zone)
    sends = sorted(s.astimezone(zone) for s in previous_sends if s <= now)
    constraints = _constraints(channel, label, sends, last_customer_message_at, zone)
    one_to_one = channel in ("wechat_customer_service", "weibo_dm")
    constraints.append(_quiet_hours(quiet_start, quiet_end, zone,
                                    last_customer_message_at if one_to_one else None))

    candidate = local_now
    first_reason: str | None = None
    # Each pass either accepts the candidate or moves it strictly later; a handful of passes
    # settles any combination (night → next day → next month).
    for _ in range(12):
        blocked = next((hit for c in constraints if (hit := c(candidate)) is not None), None)
        if blocked is None:
            break
        reason, later = blocked
        if first_reason is None:
            first_reason = reason
        if later is None:
            return PushDecision(False, first_reason if candidate == local_now else
                                f"{first_reason}；{reason}", None)
        candidate = later
    else:  # pragma: no cover - constraints always settle; guard against a future bad rule
        raise DianxiaoerError("无法计算下次可发送时间")

    if first_reason is None:
        return PushDecision(True, f"可以发送{label}", None)
    return PushDecision(False, f"{first_reason}，最早 {_fmt(candidate)} 可发", candidate)


def _start_of_day(moment: datetime, zone: ZoneInfo) -> datetime:
    return datetime.combine(moment.date(), time(0), tzinfo=zone)


def _per_day(limit: int, sends: list[datetime], zone: ZoneInfo, message: str) -> Constraint:
    def check(candidate: datetime) -> tuple[str, datetime | None] | None:
        day = candidate.date()
        if sum(1 for s in sends if s.date() == day) < limit:
            return None
        return message, _start_of_day(candidate, zone) + timedelta(days=1)

    return check


def _per_month(limit: int, sends: list[datetime], zone: ZoneInfo, message: str) -> Constraint:
    def check(candidate: datetime) -> tuple[str, datetime | None] | None:
        month = (candidate.year, candidate.month)
        if sum(1 for s in sends if (s.year, s.month) == month) < limit:
            return None
        year, next_month = (candidate.year + 1, 1) if candidate.month == 12 else (candidate.year, candidate.month + 1)
        return message, datetime(year, next_month, 1, tzinfo=zone)

    return check


def _window(last: datetime | None, length: timedelta, never: str, expired: str) -> Constraint:
    def check(candidate: datetime) -> tuple[str, datetime | None] | None:
        if last is None:
            return never, None
        if candidate - last < length:
            return None
        return expired, None

    return check


def _quiet_hours(start: int, end: int, zone: ZoneInfo, last_customer: datetime | None = None) -> Constraint:
    def quiet(hour: int) -> bool:
        if start == end:
            return False
        if start < end:
            return start <= hour < end
        return hour >= start or hour < end  # the window spans midnight

    def check(candidate: datetime) -> tuple[str, datetime | None] | None:
        # Live at the time the message would go, not at `now`: a later time offered after a cap
        # may find the conversation over and the night begun.
        if last_customer is not None and timedelta(0) <= candidate - last_customer <= LIVE_CONVERSATION:
            return None
        if not quiet(candidate.hour):
            return None
        resume = datetime.combine(candidate.date(), time(end), tzinfo=zone)
        if resume <= candidate:
            resume += timedelta(days=1)
        return f"现在是免打扰时段（{start:02d}:00–{end:02d}:00）", resume

    return check


def _constraints(
    channel: str, label: str, sends: list[datetime], last_customer: datetime | None, zone: ZoneInfo
) -> list[Constraint]:
    if channel == "wechat_mass_subscription":
        return [_per_day(SUBSCRIPTION_PER_DAY, sends, zone, f"订阅号每天只能群发 {SUBSCRIPTION_PER_DAY} 次，今天已发送")]
    if channel == "wechat_mass_service":
        return [_per_month(SERVICE_PER_MONTH, sends, zone,
                           f"服务号每位粉丝每个自然月最多收到 {SERVICE_PER_MONTH} 条群发，本月已用完")]
    if channel == "wechat_customer_service":
        return [_window(last_customer, CUSTOMER_SERVICE_WINDOW,
                        "客服消息只能在客户发来消息后 48 小时内回复，该客户还没有在微信上给我们发过消息",
                        "距客户最后一条消息已超过 48 小时，客服消息窗口已关闭，需等客户再次发消息")]
    if channel == "wechat_moments":
        return [_per_day(MOMENTS_PER_DAY, sends, zone, f"朋友圈每天最多发 {MOMENTS_PER_DAY} 条营销内容（店小二的建议上限），今天已发满")]
    if channel == "weibo_post":
        return [_per_day(WEIBO_POSTS_PER_DAY, sends, zone, f"微博每天最多发 {WEIBO_POSTS_PER_DAY} 条营销内容（店小二的建议上限），今天已发满")]
    # weibo_dm
    return [
        _window(last_customer, WEIBO_DM_WINDOW,
                "微博私信只发给主动联系过我们的客户，该客户还没有发过私信",
                "距客户最后一条私信已超过 7 天，不再主动私信，需等客户再次联系"),
        _per_day(WEIBO_DM_PER_DAY, sends, zone, f"每位客户每天最多主动私信 {WEIBO_DM_PER_DAY} 次，今天已发送"),
    ]
