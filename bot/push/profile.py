"""What push copy may know about a customer: name, tier, interests, what they asked, last contact.

Interests are the merchant's tags and what memory learned from conversations (the products the
customer named, the FAQ entries their replies cited). The tier's benefits are never written from
a template: they are quoted from the FAQ entry that states them, which is then cited.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime

from sqlmodel import Session, col, select

from bot.knowledge.entries import Hit
from bot.memory import crud
from bot.memory.models import Conversation, Customer, Message
from bot.memory.salutation import salutation_name

# Tags that name a membership level rather than an interest.
TIER = re.compile(r"(金卡|银卡|铜卡|白金|钻石|黑卡|VIP|vip|普通会员|会员)")
# 普洱爱好者 / 红茶控 / 白茶粉 are interests in 普洱 / 红茶 / 白茶.
_FAN = re.compile(r"(爱好者|控|粉丝|粉|迷|党)$")
_SENTENCE = re.compile(r"[^。；;！!\n]+")

Search = Callable[[str, int], Sequence[Hit]]
# What a customer named in their last messages; older interests live on in the merchant's tags.
RECENT_MESSAGES = 20


@lru_cache(maxsize=4096)
def cached_topic(message: str) -> str | None:
    # jieba's tagger takes milliseconds a message, and a segment's customers ask alike.
    from bot.drafting.followup import topic_of

    return topic_of(message)


@dataclass
class Profile:
    customer_id: int | None
    ref: str | None
    name: str | None
    tier: str | None = None
    tags: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)  # named in the customer's own messages
    asked: list[str] = field(default_factory=list)  # questions of FAQ entries cited in replies
    last_contact: dict[str, datetime] = field(default_factory=dict)

    @property
    def interests(self) -> list[str]:
        """Tags (as plain interests), then products the customer named, each once."""
        plain = [_FAN.sub("", t) for t in self.tags if not TIER.search(t)]
        return list(dict.fromkeys(i for i in plain + self.products if len(i) >= 2))

    def raised(self, interest: str) -> bool:
        """Did the customer bring `interest` up with us (named it, or asked an entry about it)? Only
        then may copy say «您之前问过…»; a merchant's tag is no memory of the customer's."""
        return bool(interest) and any(interest in said for said in self.products + self.asked)

    def as_json(self) -> dict[str, object]:
        return {
            "tier": self.tier,
            "interests": self.interests,
            "asked": self.asked,
            "last_contact": {ch: at.isoformat() for ch, at in sorted(self.last_contact.items())},
        }


def recent_messages(*, session: Session, customer_id: int, channel: str, since: datetime, limit: int) -> list[str]:
    """What the customer wrote to us on `channel` since `since`, most recent first: the conversation
    a one-to-one push answers."""
    rows = session.exec(
        select(Message.text)
        .join(Conversation, col(Conversation.id) == Message.conversation_id)
        .where(Conversation.customer_id == customer_id, Message.role == "customer",
               col(Conversation.channel).startswith(channel), Message.created_at >= since)
        .order_by(col(Message.created_at).desc(), col(Message.id).desc())
        .limit(limit)
    ).all()
    return list(rows)


def tier_of(customer: Customer) -> str | None:
    if customer.tier:
        return customer.tier
    return next((t for t in customer.tags if TIER.search(t)), None)


def build_profile(
    *, session: Session, customer: Customer, entry_question: Callable[[str], str | None] | None = None,
    topic: Callable[[str], str | None] | None = None,
) -> Profile:
    """Read the profile of `customer`; `topic` picks the product out of a message (jieba by default)."""
    assert customer.id is not None
    if topic is None:
        topic = cached_topic
    recent = crud.customer_messages(session=session, customer_id=customer.id, limit=RECENT_MESSAGES)
    products = [t for t in map(topic, recent) if t]
    asked_ids = crud.asked_entry_ids(session=session, customer_id=customer.id)
    asked = [q for q in (entry_question(i) if entry_question else i for i in asked_ids) if q]
    return Profile(
        customer_id=customer.id,
        ref=customer.ref,
        name=salutation_name(customer),
        tier=tier_of(customer),
        tags=list(customer.tags),
        products=list(dict.fromkeys(products))[:5],
        asked=list(dict.fromkeys(asked))[:5],
        last_contact=crud.last_contact_by_channel(session=session, customer_id=customer.id),
    )


def _core(tier: str) -> str:
    """金卡会员 → 金卡: the word an FAQ answer uses for the tier."""
    core = tier.removesuffix("会员")
    return core if len(core) >= 2 else tier


def tier_benefit(tier: str, search: Search | None) -> tuple[str, Hit] | None:
    """The FAQ's own sentence about `tier`'s benefits and the entry it comes from, if one says so."""
    if search is None:
        return None
    core = _core(tier)
    for hit in search(f"{tier}有什么权益", 3):
        if hit.kind != "faq" or core not in hit.answer:
            continue
        sentences = [s.strip(" ，,") for s in _SENTENCE.findall(hit.answer) if core in s]
        if sentences:
            # A sentence naming several tiers is cut to the clauses about this one.
            parts = re.split(r"[；;]", sentences[0])
            clause = sentences[0]
            if len(parts) > 1:
                clause = next(p for p in parts if core in p)
            # 「金卡会员积分加倍」 → 「积分加倍」: the copy names the tier itself.
            rest = clause[clause.find(core) + len(core):].removeprefix("会员").lstrip(" ，,：:")
            return rest or clause.strip(" ，,"), hit
    return None
