"""Whether a push to one customer is allowed now, from what memory knows about them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from bot.compliance.frequency import PushChannel, PushDecision, check_push
from bot.config import Settings
from bot.memory import crud
from bot.memory.models import Customer, utcnow

# The longest cap window is a natural month; 32 days of history always covers it.
HISTORY = timedelta(days=32)


def push_decision(
    *, session: Session, customer: Customer, channel: PushChannel, settings: Settings, now: datetime | None = None
) -> PushDecision:
    now = now or utcnow()
    platform = "wechat" if channel.startswith("wechat") else "weibo"
    assert customer.id is not None
    return check_push(
        channel=channel,
        now=now,
        previous_sends=crud.sent_pushes(session=session, customer_id=customer.id, channel=channel, since=now - HISTORY),
        last_customer_message_at=crud.last_customer_message_at(session=session, customer_id=customer.id, channel=platform),
        opted_out=customer.opted_out_wechat if platform == "wechat" else customer.opted_out_weibo,
        quiet_start=settings.quiet_hours_start,
        quiet_end=settings.quiet_hours_end,
        tz=settings.timezone,
    )


def broadcast_decision(
    *, session: Session, channel: PushChannel, settings: Settings, now: datetime | None = None
) -> PushDecision:
    """Whether a push to everyone (no customer, no segment) may go out now: every earlier send on
    the channel counts, since each follower received it; quiet hours apply."""
    now = now or utcnow()
    return check_push(
        channel=channel,
        now=now,
        previous_sends=crud.shop_sent_pushes(session=session, channel=channel, since=now - HISTORY),
        last_customer_message_at=None,
        opted_out=False,
        quiet_start=settings.quiet_hours_start,
        quiet_end=settings.quiet_hours_end,
        tz=settings.timezone,
    )
