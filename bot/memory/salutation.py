"""Whom a reply or push may greet by name: a person's name, never the reference staff typed.

`ask --customer C001` or Telegram's /customer C001 for someone not in the imported list creates a
customer from that reference; 「C001，您好」 greets nobody. A reference shaped like an id (ASCII
letters, digits, `_`, `-`, `.`) is kept as the customer's `ref` and is not a name; Chinese text
such as 王芳 may be one, and becomes the display name.
"""

from __future__ import annotations

import re

from bot.memory.models import Customer

_ID_SHAPED = re.compile(r"[A-Za-z0-9_.\-]+")
# Shaped like an id and not like a name: a digit or a separator in it (C001, wx_abc), not "Tom".
# Letters taken possessively, and only from a run's start: searched over a long run, any other
# spelling of this pattern is quadratic.
_NOT_A_NAME = re.compile(r"(?<![A-Za-z0-9_.\-])[A-Za-z]*+[0-9_.\-][A-Za-z0-9_.\-]*")


def looks_like_id(reference: str) -> bool:
    """True for a reference that identifies rather than names (C001, wx_abc, 13800138000, Tom)."""
    return _ID_SHAPED.fullmatch(reference.strip()) is not None


def salutation_name(customer: Customer | None) -> str | None:
    """The name to greet `customer` by; None when there is none to use.

    Not one of the customer's ids (the import falls back to the WeChat id when the list gave no
    name), and not an id-shaped display name left by a release that stored an unknown reference
    as the name.
    """
    if customer is None:
        return None
    name = (customer.display_name or "").strip()
    if not name or name in {customer.ref, customer.wechat_id, customer.weibo_id}:
        return None
    return None if _NOT_A_NAME.fullmatch(name) else name
