"""Whether a push to one customer is allowed now, from what memory knows about them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from bot.compliance.frequency import PushChannel, PushDecision, check_push
from bot.config import Settings
from bot.memory import crud
from bot.memory.models import Customer, Draft, DraftRecipient, utcnow

# The longest cap window is a natural month; 32 days of history always covers it.
HISTORY = timedelta(days=32)


def push_decision(
    *, session: Session, customer: Customer, channel: PushChannel, settings: Settings, now: datetime | None = None
) -> PushDecision:
    now = now or utcnow()
    platform = "wechat" if channel.startswith("wechat") else "weibo"
    assert customer.id is not None
    since = now - HISTORY
    if channel == "wechat_mass_subscription":
        # 订阅号's one 群发 a day is the account's quota, whoever the day's send went to.
        previous = crud.shop_sent_pushes(session=session, channel=channel, since=since)
    else:
        # A push to everyone reached this follower too.
        previous = sorted([*crud.sent_pushes(session=session, customer_id=customer.id, channel=channel, since=since),
                           *_sent_to_everyone(session, channel, since)])
    return check_push(
        channel=channel,
        now=now,
        previous_sends=previous,
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


def _sent_to_everyone(session: Session, channel: str, since: datetime) -> list[datetime]:
    """When pushes to every follower went out on `channel`: sent drafts with no customer of
    their own and no segment members recorded."""
    listed = select(DraftRecipient.draft_id)
    rows = session.exec(
        select(Draft.sent_at).where(
            Draft.kind == "push", Draft.channel == channel, Draft.status == "sent",
            col(Draft.customer_id).is_(None), col(Draft.id).not_in(listed), col(Draft.sent_at) >= since,
        )
    ).all()
    return [t for t in rows if t is not None]
