"""Who may do what: admins (the merchant) everything, staff serve customers and check copy,
maintainers manage the knowledge. Anyone else is refused."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.config import Settings

Role = Literal["admin", "staff", "maintainer"]
Permission = Literal["serve", "copy", "knowledge", "stats"]

ALLOWED: dict[Permission, frozenset[Role]] = {
    "serve": frozenset({"admin", "staff"}),  # /customer, customers' messages, card buttons
    "copy": frozenset({"admin", "staff"}),  # /check, /push
    "knowledge": frozenset({"admin", "maintainer"}),  # /kb, /reindex, documents, /candidates, /gaps
    "stats": frozenset({"admin", "staff", "maintainer"}),
}
ROLE_NAMES: dict[Role, str] = {"admin": "店主", "staff": "客服", "maintainer": "知识库维护"}


def _ids(value: str) -> frozenset[int]:
    return frozenset(int(part) for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Roles:
    admins: frozenset[int]
    staff: frozenset[int]
    maintainers: frozenset[int]

    @classmethod
    def from_settings(cls, settings: Settings) -> Roles:
        return cls(
            admins=_ids(settings.telegram_admins),
            staff=_ids(settings.telegram_staff),
            maintainers=_ids(settings.telegram_maintainers),
        )

    def of(self, user_id: int | None) -> set[Role]:
        if user_id is None:
            return set()
        found: set[Role] = set()
        for role, ids in (("admin", self.admins), ("staff", self.staff), ("maintainer", self.maintainers)):
            if user_id in ids:
                found.add(role)  # type: ignore[arg-type]
        return found

    def may(self, user_id: int | None, permission: Permission) -> bool:
        return bool(self.of(user_id) & ALLOWED[permission])

    def known(self, user_id: int | None) -> bool:
        return bool(self.of(user_id))
