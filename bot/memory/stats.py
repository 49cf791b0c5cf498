"""How the service is doing: answered share, acceptance share and how long customers waited for a
staff decision, over reply drafts since a given time.

The seeds hold a 15-minute response as the standard, so the share decided within it is reported
beside the median and the 90th percentile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from bot.memory.models import Draft, StaffCard

RESPONSE_STANDARD = timedelta(minutes=15)


@dataclass(frozen=True)
class ServiceStats:
    drafts: int  # reply drafts created in the period
    answered: int  # of those, drafted from the FAQ (not handed to a person)
    decided: int  # of those, decided on by staff
    accepted: int  # of the decided, approved as drafted (approved, or sent without an edit)
    edited: int
    rejected: int
    median_wait: timedelta | None  # question to staff decision
    p90_wait: timedelta | None
    within_standard: int  # decisions within RESPONSE_STANDARD
    escalated: int = 0  # answered drafts staff handed to a person (转人工 on a Telegram card)
    median_escalation_wait: timedelta | None = None  # question to that press

    @property
    def answered_share(self) -> float | None:
        return self.answered / self.drafts if self.drafts else None

    @property
    def acceptance_share(self) -> float | None:
        return self.accepted / self.decided if self.decided else None

    @property
    def within_standard_share(self) -> float | None:
        return self.within_standard / self.decided if self.decided else None


def _percentile(sorted_values: list[timedelta], q: float) -> timedelta | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * q
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def service_stats(*, session: Session, since: datetime) -> ServiceStats:
    """Figures over reply drafts created at or after `since`.

    A draft's creation is the question's arrival (drafting takes milliseconds) unless its card
    says the customer asked earlier (`StaffCard.asked_at`: a forwarded message's original time, or
    the first card's time when staff corrected the message and it was re-drafted). Its decision
    time is `decided_at`, which marking it sent later leaves alone. A draft superseded by such a
    re-draft is not a question of its own and is left out.
    """
    drafts = session.exec(
        select(Draft).where(
            Draft.kind == "reply", col(Draft.created_at) >= since, Draft.status != "superseded"
        )
    ).all()
    decided = [d for d in drafts if d.decided_at is not None and d.status != "pending"]
    accepted = [d for d in decided if d.status == "approved" or (d.status == "sent" and not d.edited_text)]
    asked = {d.id: d.created_at for d in drafts}
    if asked:
        for draft_id, asked_at in session.exec(
            select(StaffCard.draft_id, StaffCard.asked_at).where(
                col(StaffCard.draft_id).in_(list(asked)), col(StaffCard.asked_at).is_not(None)
            )
        ):
            asked[draft_id] = min(asked[draft_id], asked_at)  # type: ignore[type-var]
    waits = sorted(d.decided_at - asked[d.id] for d in decided)  # type: ignore[operator]
    cards = session.exec(
        select(StaffCard).where(col(StaffCard.draft_id).in_(list(asked)), col(StaffCard.escalated))
    ).all() if asked else []
    # Cards escalated before the press was timed (escalated_at empty) count, but have no wait.
    escalation_waits = sorted(
        c.escalated_at - asked[c.draft_id] for c in cards if c.escalated_at is not None
    )
    return ServiceStats(
        drafts=len(drafts),
        answered=sum(1 for d in drafts if not d.needs_human),
        decided=len(decided),
        accepted=len(accepted),
        edited=sum(1 for d in decided if d.edited_text),
        rejected=sum(1 for d in decided if d.status == "rejected"),
        median_wait=_percentile(waits, 0.5),
        p90_wait=_percentile(waits, 0.9),
        within_standard=sum(1 for w in waits if w <= RESPONSE_STANDARD),
        escalated=len(cards),
        median_escalation_wait=_percentile(escalation_waits, 0.5),
    )
