"""Push templates: files in prompts/push/, one per channel × format, reviewed like code.

A file holds lists of openings, bodies and closings (plus titles and digests for an article),
and a `soft` section of lower-key ones for the "soften" button. Optional lines — the interest
line and the tier-benefit line — have their own lists. Variant n takes the n-th entry of every
list, so two variants differ in opening, body and closing, not in a word.

Templates are `str.format` strings over a fixed set of fields; a file using any other field, or
stating a fact of its own (a number, 包邮, 明天…), is refused when loaded: every fact in a push
must come from the brief or a cited FAQ entry.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot.errors import ConfigError
from bot.push.facts import facts

FIELDS = frozenset(
    {"hello", "name", "shop", "brief", "headline", "summary", "interest", "tier", "benefit",
     "interest_line", "benefit_line", "topics", "tip", "tip_question", "tip_line"}
)
PARTS = ("openings", "bodies", "closings")
# `asked_lines` name an interest the customer raised with us themselves («您之前问过…»); a tag the
# merchant set gets `interest_lines`, which claim nothing about what the customer said.
# `tip_lines` carry a care tip quoted from the FAQ (bot/push/tips.py) in the formats with room for one.
OPTIONAL = ("interest_lines", "asked_lines", "benefit_lines", "tip_lines", "titles", "digests")


@dataclass(frozen=True)
class TemplateSet:
    openings: tuple[str, ...]
    bodies: tuple[str, ...]
    closings: tuple[str, ...]
    interest_lines: tuple[str, ...] = ()
    asked_lines: tuple[str, ...] = ()
    benefit_lines: tuple[str, ...] = ()
    tip_lines: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()
    digests: tuple[str, ...] = ()

    def pick(self, part: str, n: int) -> str:
        options: tuple[str, ...] = getattr(self, part)
        return options[n % len(options)] if options else ""

    @property
    def size(self) -> int:
        """How many variants differ in every part."""
        return min(len(self.openings), len(self.bodies), len(self.closings))


@dataclass(frozen=True)
class Templates:
    key: str
    normal: TemplateSet
    soft: TemplateSet


def _fields(text: str, where: str) -> set[str]:
    try:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as exc:
        raise ConfigError(f"{where}：花括号不成对（字面的花括号写作 {{{{ 和 }}}}）：{exc}") from exc


def _literal(text: str) -> str:
    return "".join(lit for lit, _, _, _ in string.Formatter().parse(text))


def _set(data: object, where: str, inherit: TemplateSet | None = None) -> TemplateSet:
    if not isinstance(data, dict):
        raise ConfigError(f"{where} 应是一个映射（openings、bodies、closings …）")
    unknown = set(data) - set(PARTS) - set(OPTIONAL) - {"soft"}
    if unknown:
        raise ConfigError(f"{where} 有未知的键：{', '.join(sorted(unknown))}")
    values: dict[str, tuple[str, ...]] = {}
    for part in PARTS + OPTIONAL:
        items = data.get(part)
        if items is None:
            if part in PARTS and inherit is None:
                raise ConfigError(f"{where} 缺少 {part}")
            values[part] = getattr(inherit, part) if inherit is not None else ()
            continue
        if not isinstance(items, list) or not items or not all(isinstance(i, str) and i.strip() for i in items):
            raise ConfigError(f"{where} 的 {part} 应是非空的文字列表")
        for n, item in enumerate(items, start=1):
            spot = f"{where} {part} 第 {n} 条"
            if extra := _fields(item, spot) - FIELDS:
                raise ConfigError(f"{spot} 用了未知的字段：{', '.join(sorted(extra))}（可用：{', '.join(sorted(FIELDS))}）")
            if stated := facts(_literal(item)):
                raise ConfigError(
                    f"{spot} 自带事实「{stated[0][0]}」：模板不能写数字、优惠或日期，这些只能来自简报或知识库"
                )
        values[part] = tuple(items)
    return TemplateSet(**values)


def load_templates(directory: Path, key: str) -> Templates:
    """Load prompts/push/<key>.yaml (key = channel_format, e.g. wechat_service)."""
    path = directory / f"{key}.yaml"
    return _load(path.resolve(), path.stat().st_mtime_ns if path.exists() else 0)


@lru_cache(maxsize=32)
def _load(path: Path, _mtime: int) -> Templates:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"找不到推送模板文件：{path}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"推送模板文件 {path} 不是有效的 YAML：{exc}") from exc
    normal = _set(data, str(path))
    soft = _set(data["soft"], f"{path} soft", inherit=normal) if "soft" in data else normal
    return Templates(path.stem, normal, soft)


def render(template: str, values: dict[str, str]) -> str:
    return template.format_map(values)
