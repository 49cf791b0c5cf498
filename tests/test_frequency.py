"""Push frequency caps: daily/monthly quotas, 48-hour window, quiet hours, opt-out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.compliance.frequency import check_push
from bot.errors import DianxiaoerError

SH = ZoneInfo("Asia/Shanghai")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def push(channel: str, now: datetime, sends: list[datetime] = [], last: datetime | None = None,  # noqa: B006
         opted_out: bool = False, **kwargs: object):
    return check_push(channel=channel, now=now, previous_sends=sends,  # type: ignore[arg-type]
                      last_customer_message_at=last, opted_out=opted_out, **kwargs)  # type: ignore[arg-type]


def test_subscription_one_per_day() -> None:
    assert push("wechat_mass_subscription", at(2024, 5, 10, 10)).allowed
    decision = push("wechat_mass_subscription", at(2024, 5, 10, 15), [at(2024, 5, 10, 9)])
    assert not decision.allowed
    assert "订阅号每天只能群发 1 次" in decision.reason
    assert decision.next_allowed_at == at(2024, 5, 11, 8)  # midnight is quiet; first slot 08:00


def test_subscription_day_boundary_is_local_not_utc() -> None:
    sent = at(2024, 5, 9, 20)  # 12:00 UTC on 9 May
    now = at(2024, 5, 10, 7, 30)  # 23:30 UTC on 9 May: same UTC day, next local day
    assert sent.astimezone(timezone.utc).date() == now.astimezone(timezone.utc).date()
    assert push("wechat_mass_subscription", now, [sent], quiet_start=0, quiet_end=0).allowed
    utc = push("wechat_mass_subscription", now, [sent], quiet_start=0, quiet_end=0, tz="UTC")
    assert not utc.allowed and utc.next_allowed_at == datetime(2024, 5, 10, tzinfo=ZoneInfo("UTC"))


def test_send_just_before_local_midnight_counts_for_that_day() -> None:
    sends = [at(2024, 5, 10, 21, 59)]
    assert not push("wechat_mass_subscription", at(2024, 5, 10, 21, 59, 30), sends).allowed
    assert push("wechat_mass_subscription", at(2024, 5, 11, 8, 0), sends).allowed


def test_service_account_four_per_natural_month() -> None:
    sends = [at(2024, 1, d, 10) for d in (3, 10, 17)]
    assert push("wechat_mass_service", at(2024, 1, 30, 10), sends).allowed
    sends.append(at(2024, 1, 24, 10))
    decision = push("wechat_mass_service", at(2024, 1, 30, 10), sends)
    assert not decision.allowed and "自然月" in decision.reason
    assert decision.next_allowed_at == at(2024, 2, 1, 8)


def test_service_month_boundary_in_local_time_and_december() -> None:
    # 31 Jan 17:00 UTC is already 1 Feb 01:00 in Shanghai: it belongs to February's quota.
    feb_sends = [datetime(2024, 1, 31, 17, tzinfo=timezone.utc)] + [at(2024, 2, d, 10) for d in (5, 6, 7)]
    assert not push("wechat_mass_service", at(2024, 2, 20, 10), feb_sends).allowed
    assert push("wechat_mass_service", at(2024, 1, 31, 20), feb_sends[1:]).allowed
    dec_sends = [at(2024, 12, d, 10) for d in (1, 2, 3, 4)]
    decision = push("wechat_mass_service", at(2024, 12, 31, 12), dec_sends)
    assert decision.next_allowed_at == at(2025, 1, 1, 8)


def test_customer_service_48_hour_window() -> None:
    last = at(2024, 5, 10, 12)
    assert push("wechat_customer_service", last + timedelta(hours=47, minutes=59), last=last).allowed
    expired = push("wechat_customer_service", last + timedelta(hours=48), last=last)
    assert not expired.allowed and "48 小时" in expired.reason
    assert expired.next_allowed_at is None
    never = push("wechat_customer_service", at(2024, 5, 10, 12), last=None)
    assert not never.allowed and never.next_allowed_at is None


def test_customer_service_window_closing_during_quiet_hours() -> None:
    last = at(2024, 5, 9, 5)  # window ends 11 May 05:00, inside the night
    decision = push("wechat_customer_service", at(2024, 5, 10, 23), last=last)
    assert not decision.allowed and decision.next_allowed_at is None
    still_open = push("wechat_customer_service", at(2024, 5, 10, 23), last=at(2024, 5, 10, 9))
    assert not still_open.allowed and still_open.next_allowed_at == at(2024, 5, 11, 8)


def test_live_conversation_may_be_answered_at_night() -> None:
    last = at(2024, 5, 10, 23, 10)
    assert push("wechat_customer_service", at(2024, 5, 10, 23, 20), last=last).allowed
    assert push("weibo_dm", at(2024, 5, 10, 23, 20), last=last).allowed


@pytest.mark.parametrize(
    ("hour", "minute", "allowed", "resume"),
    [
        (21, 59, True, None),
        (22, 0, False, (2024, 5, 11, 8)),
        (23, 30, False, (2024, 5, 11, 8)),
        (0, 30, False, (2024, 5, 10, 8)),
        (7, 59, False, (2024, 5, 10, 8)),
        (8, 0, True, None),
    ],
)
def test_quiet_hours_span_midnight(hour: int, minute: int, allowed: bool, resume: tuple[int, ...] | None) -> None:
    decision = push("weibo_post", at(2024, 5, 10, hour, minute))
    assert decision.allowed is allowed
    assert decision.next_allowed_at == (at(*resume) if resume else None)
    if not allowed:
        assert "免打扰" in decision.reason


def test_quiet_hours_within_one_day_and_disabled() -> None:
    decision = push("weibo_post", at(2024, 5, 10, 13), quiet_start=12, quiet_end=14)
    assert decision.next_allowed_at == at(2024, 5, 10, 14)
    assert push("weibo_post", at(2024, 5, 10, 3), quiet_start=0, quiet_end=0).allowed


def test_other_timezone() -> None:
    ny = ZoneInfo("America/New_York")
    now = datetime(2024, 5, 10, 23, tzinfo=ny)
    decision = push("weibo_post", now, tz="America/New_York")
    assert decision.next_allowed_at == datetime(2024, 5, 11, 8, tzinfo=ny)
    assert push("weibo_post", now).allowed  # 11:00 in Shanghai


def test_opted_out_is_never() -> None:
    decision = push("wechat_mass_subscription", at(2024, 5, 10, 10), opted_out=True)
    assert not decision.allowed and decision.next_allowed_at is None
    assert "退订" in decision.reason


def test_weibo_dm_only_to_customers_who_wrote() -> None:
    assert not push("weibo_dm", at(2024, 5, 10, 10)).allowed
    last = at(2024, 5, 8, 10)
    assert push("weibo_dm", at(2024, 5, 10, 10), last=last).allowed
    again = push("weibo_dm", at(2024, 5, 10, 15), [at(2024, 5, 10, 10)], last=last)
    assert not again.allowed and again.next_allowed_at == at(2024, 5, 11, 8)
    assert not push("weibo_dm", at(2024, 5, 15, 10, 1), last=last).allowed


def test_daily_caps_for_moments_and_weibo_posts() -> None:
    day = [at(2024, 5, 10, h) for h in (9, 10, 11, 12, 13)]
    assert push("wechat_moments", at(2024, 5, 10, 14), day[:2]).allowed
    assert not push("wechat_moments", at(2024, 5, 10, 14), day[:3]).allowed
    assert push("weibo_post", at(2024, 5, 10, 14), day[:4]).allowed
    assert not push("weibo_post", at(2024, 5, 10, 14), day).allowed


def test_future_sends_are_ignored_and_naive_datetimes_rejected() -> None:
    assert push("wechat_mass_subscription", at(2024, 5, 10, 10), [at(2024, 5, 10, 11)]).allowed
    with pytest.raises(DianxiaoerError):
        push("weibo_post", datetime(2024, 5, 10, 10))
    with pytest.raises(DianxiaoerError):
        push("weibo_post", at(2024, 5, 10, 10), tz="Mars/Base")
