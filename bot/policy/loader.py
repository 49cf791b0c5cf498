"""Read the trade words of the hand-off policy from YAML: the shipped file, then the shop's own.

The shipped file (bot/policy/data/rules.yaml) holds what earlier rounds learned from shops:
facets a near entry often leaves out, conditions only the answer itself may reassure about,
the topic cues retrieval and the subject rule read, and nouns that are not products. A shop
extends it with 店小二规则.yaml (or _rules.yaml) in its knowledge folder, in the same shape:

    facets:                      # new ids are added after the shipped ones; a shipped id is replaced
      - id: engraving
        asks: 刻字
        asked: 刻字|刻名字        # what the customer says (a regular expression)
        addressed: 刻字|雕刻      # what the entry says when it settles it (default: asked)
        fires: [能刻名字吗]
        passes: [{q: 能刻字吗, entry: [可以刻字吗？, 可以，免费刻 6 个字以内。]}]
    topics:                      # more ways of naming a topic, or a new topic
      dispatch: 出仓
    not_a_subject: [套餐]
    off: [chit_chat]             # shipped rules this shop does without (not those in code)
    shop_words:                  # how customers say what the FAQ words otherwise
      - [出仓, 发货]

A bad pattern, a missing field, an unknown key or id, or an example that does not do what it
says is an error naming the file and line. The sync never reads .yaml files as FAQ
(bot/knowledge/readers.py), so this file is not an entry; each sync puts it in force again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.errors import KnowledgeFileError
from bot.policy.rules import NEUTRAL_ENTRY, Example, Rule

SHIPPED = Path(__file__).with_name("data") / "rules.yaml"
SHOP_FILES = ("店小二规则.yaml", "_rules.yaml")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
FACET_KEYS = {"id", "asks", "asked", "addressed", "answered_by", "reason", "fires", "passes"}
CONDITION_KEYS = {"id", "who", "asked", "said", "fires", "passes"}
TOP_KEYS = {
    "conditions", "facets", "topics", "not_a_subject", "after_sales", "off", "shop_words", "english_words"
}


class RulesFileError(KnowledgeFileError):
    """A rules file cannot be used; the message names file, line and why."""


@dataclass(frozen=True)
class TradeWords:
    """What one rules file (or the shipped and the shop's together) says."""

    conditions: tuple[Rule, ...]
    facets: tuple[Rule, ...]
    topics: tuple[tuple[str, str], ...]  # (topic, cue pattern), in order
    not_a_subject: frozenset[str]
    after_sales: frozenset[str]
    off: frozenset[str]
    files: tuple[str, ...]
    off_lines: tuple[tuple[str, str, int], ...] = ()  # (rule id, file, line) of each `off` item
    shop_words: tuple[tuple[str, str], ...] = ()  # (pattern, replacement): how the FAQ words it
    english_words: tuple[tuple[str, str], ...] = ()  # the same for whole Latin words, any case


class _Reader:
    def __init__(self, path: Path, shown: str) -> None:
        self.path, self.shown = path, shown

    def fail(self, node: Node | None, reason: str) -> RulesFileError:
        return RulesFileError(self.shown, node.start_mark.line + 1 if node is not None else None, reason)

    def text(self, node: Node, what: str) -> str:
        if not isinstance(node, ScalarNode) or not str(node.value).strip():
            raise self.fail(node, f"{what} 应为非空文字")
        return str(node.value)

    def pattern(self, node: Node, what: str, flags: int = re.I) -> re.Pattern[str]:
        source = self.text(node, what)
        try:
            compiled = re.compile(source, flags)
        except re.error as exc:
            raise self.fail(node, f"{what} 不是有效的正则表达式（{exc.msg}，第 {exc.pos} 个字符）：{source}") from None
        if compiled.search(""):
            raise self.fail(node, f"{what} 能匹配空文字，每句话都会命中：{source}")
        return compiled

    def mapping(self, node: Node, what: str, keys: set[str]) -> dict[str, Node]:
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{what} 应为键值对")
        fields: dict[str, Node] = {}
        for key, value in node.value:
            name = self.text(key, "键")
            if name not in keys:
                raise self.fail(key, f"{what} 里有未知的键「{name}」（可用：{'、'.join(sorted(keys))}）")
            fields[name] = value
        return fields

    def sequence(self, node: Node, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            raise self.fail(node, f"{what} 应为列表")
        return list(node.value)

    def examples(self, node: Node | None, what: str) -> tuple[Example, ...]:
        if node is None:
            return ()
        found = []
        for item in self.sequence(node, what):
            where = f"{self.shown}:{item.start_mark.line + 1}"
            if isinstance(item, ScalarNode):
                found.append(Example(self.text(item, what), NEUTRAL_ENTRY, where))
                continue
            fields = self.mapping(item, what, {"q", "entry"})
            if "q" not in fields:
                raise self.fail(item, f"{what} 的例子缺少 q（顾客的问题）")
            entry = NEUTRAL_ENTRY
            if "entry" in fields:
                items = self.sequence(fields["entry"], "entry")
                parts = [str(p.value) if isinstance(p, ScalarNode) else "" for p in items]
                if len(parts) != 2 or not parts[1].strip():
                    raise self.fail(fields["entry"], "entry 应为 [条目的问题, 条目的答案]（问题可以是空的 ''）")
                entry = (parts[0], parts[1])
            found.append(Example(self.text(fields["q"], "q"), entry, where))
        return tuple(found)

    def rule_id(self, fields: dict[str, Node], node: Node, seen: set[str]) -> str:
        if "id" not in fields:
            raise self.fail(node, "规则缺少 id")
        rule_id = self.text(fields["id"], "id")
        if not _ID.match(rule_id):
            raise self.fail(fields["id"], f"id「{rule_id}」应为小写英文、数字和下划线")
        if rule_id in seen:
            raise self.fail(fields["id"], f"id「{rule_id}」在本文件里出现了两次")
        seen.add(rule_id)
        return rule_id

    def require(self, fields: dict[str, Node], key: str, node: Node, rule_id: str) -> Node:
        if key not in fields:
            raise self.fail(node, f"规则 {rule_id} 缺少 {key}")
        return fields[key]

    def facet(self, node: Node, seen: set[str]) -> Rule:
        fields = self.mapping(node, "facets 的一条", FACET_KEYS)
        rule_id = self.rule_id(fields, node, seen)
        asks = self.text(self.require(fields, "asks", node, rule_id), "asks")
        asked_node = self.require(fields, "asked", node, rule_id)
        addressed = self.pattern(fields["addressed"], "addressed") if "addressed" in fields else None
        return Rule(
            rule_id, "facet", asks,
            self.text(fields["answered_by"], "answered_by") if "answered_by" in fields
            else f"条目说到：{(addressed or self.pattern(asked_node, 'asked')).pattern}",
            self.text(fields["reason"], "reason") if "reason" in fields else f"顾客问到{asks}，匹配到的条目没有提到",
            asked=self.pattern(asked_node, "asked"), addressed=addressed,
            fires=self.examples(fields.get("fires"), "fires"),
            passes=self.examples(fields.get("passes"), "passes"),
            source=f"{self.shown}:{node.start_mark.line + 1}",
        )

    def condition(self, node: Node, seen: set[str]) -> Rule:
        fields = self.mapping(node, "conditions 的一条", CONDITION_KEYS)
        rule_id = self.rule_id(fields, node, seen)
        who = self.text(self.require(fields, "who", node, rule_id), "who")
        asked = self.pattern(self.require(fields, "asked", node, rule_id), "asked", 0)
        said = self.pattern(fields["said"], "said", 0) if "said" in fields else None
        return Rule(
            rule_id, "condition", f"{who}能不能用", f"条目的答案本身说到：{(said or asked).pattern}",
            f"顾客问{who}能不能用，条目的答案没有说到", asked=asked, addressed=said,
            fires=self.examples(fields.get("fires"), "fires"),
            passes=self.examples(fields.get("passes"), "passes"),
            source=f"{self.shown}:{node.start_mark.line + 1}",
        )

    def read(self) -> TradeWords:
        try:
            text = self.path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise self.fail(None, "不是 UTF-8 编码的文字") from None
        except OSError as exc:
            raise self.fail(None, f"无法读取：{exc.strerror}") from None
        try:
            root = yaml.compose(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark else None
            raise RulesFileError(self.shown, line, f"不是有效的 YAML（{getattr(exc, 'problem', exc)}）") from None
        if root is None:
            return TradeWords((), (), (), frozenset(), frozenset(), frozenset(), (self.shown,))
        top = self.mapping(root, "文件", TOP_KEYS)
        seen: set[str] = set()

        def items(key: str) -> list[Node]:
            return self.sequence(top[key], key) if key in top else []

        conditions = tuple(self.condition(n, seen) for n in items("conditions"))
        facets = tuple(self.facet(n, seen) for n in items("facets"))
        topics: list[tuple[str, str]] = []
        if "topics" in top:
            for key, value in self.mapping(top["topics"], "topics", _AnyKey()).items():
                if not _ID.match(key):
                    raise self.fail(value, f"话题名「{key}」应为小写英文、数字和下划线")
                topics.append((key, self.pattern(value, f"话题 {key}", 0).pattern))

        def words(key: str) -> frozenset[str]:
            return frozenset(self.text(n, key) for n in items(key))

        off_lines = tuple((self.text(n, "off"), self.shown, n.start_mark.line + 1) for n in items("off"))
        return TradeWords(
            conditions, facets, tuple(topics), words("not_a_subject"), words("after_sales"), words("off"),
            (self.shown,), off_lines, self.replacements(top.get("shop_words"), "shop_words", 0),
            self.replacements(top.get("english_words"), "english_words", re.I),
        )

    def replacements(self, node: Node | None, what: str, flags: int) -> tuple[tuple[str, str], ...]:
        if node is None:
            return ()
        found = []
        for item in self.sequence(node, what):
            pair = self.sequence(item, what)
            if len(pair) != 2:
                raise self.fail(item, f"{what} 的每一项应为 [顾客的说法, 知识库的说法]")
            found.append((self.pattern(pair[0], what, flags).pattern, self.text(pair[1], what)))
        return tuple(found)


class _AnyKey(set[str]):
    """Topic names are the shop's to choose: any key is allowed (and checked by the caller)."""

    def __contains__(self, _: object) -> bool:
        return True


def read_rules_file(path: Path, shown: str | None = None) -> TradeWords:
    """Read and validate one rules file; a RulesFileError names the file and line of any fault."""
    return _Reader(path, shown or str(path)).read()


def shop_rules_file(knowledge_dir: Path) -> Path | None:
    """The shop's own rules file in its knowledge folder, if it has one."""
    return next((knowledge_dir / name for name in SHOP_FILES if (knowledge_dir / name).is_file()), None)


def merge(base: TradeWords, shop: TradeWords) -> TradeWords:
    """The shipped words extended by a shop's: its rules replace same-id ones or come after."""

    def combined(ours: tuple[Rule, ...], theirs: tuple[Rule, ...]) -> tuple[Rule, ...]:
        replacing = {r.id: r for r in theirs}
        kept = tuple(replacing.pop(r.id, r) for r in ours)
        added = tuple(r for r in theirs if r.id in replacing)
        return tuple(r for r in kept if r.id not in shop.off) + added

    cues = dict(base.topics)
    for topic, cue in shop.topics:
        cues[topic] = f"{cues[topic]}|{cue}" if topic in cues else cue
    return TradeWords(
        combined(base.conditions, shop.conditions),
        combined(base.facets, shop.facets),
        tuple(cues.items()),
        base.not_a_subject | shop.not_a_subject,
        base.after_sales | shop.after_sales,
        base.off | shop.off,
        base.files + shop.files,
        base.off_lines + shop.off_lines,
        base.shop_words + shop.shop_words,
        base.english_words + shop.english_words,
    )


@lru_cache(maxsize=1)
def shipped_words() -> TradeWords:
    return read_rules_file(SHIPPED, "bot/policy/data/rules.yaml")


_active: TradeWords | None = None


def active_words() -> TradeWords:
    """The trade words in force in this process: the shop's over the shipped ones once
    `use_shop_rules` has run, else the shipped ones."""
    return _active or shipped_words()


def shop_rules(knowledge_dir: Path | None) -> TradeWords:
    """The shipped rules with the shop's rules file (if its knowledge folder has one) over them,
    read and checked (a bad file raises RulesFileError), not put in force."""
    words = shipped_words()
    path = shop_rules_file(knowledge_dir) if knowledge_dir is not None else None
    if path is not None:
        shop = read_rules_file(path, path.name)
        _check_off(shop, words)
        words = merge(words, shop)
        _check_examples(shop, words)
    return words


def use_shop_rules(knowledge_dir: Path | None) -> TradeWords:
    """Put the shop's rules file (if its knowledge folder has one) in force over the shipped one.

    A process serves one shop, so this is process-wide: retrieval's topic cues read it too.
    """
    global _active
    _active = shop_rules(knowledge_dir)
    return _active


def _check_off(shop: TradeWords, shipped: TradeWords) -> None:
    """Only the trade's rules can be switched off; the rules that hold in any shop cannot."""
    from bot.policy.universal import UNIVERSAL

    known = {r.id for r in (*shipped.conditions, *shipped.facets)} | {"swapped_subject"}
    for rule_id, path, line in shop.off_lines:
        if rule_id in {r.id for r in UNIVERSAL}:
            raise RulesFileError(path, line, f"规则 {rule_id} 适用于任何店铺，不能关闭")
        if rule_id not in known:
            raise RulesFileError(path, line, f"off 里的规则 {rule_id} 不存在（dianxiaoer explain 会显示命中的规则 id）")


def _check_examples(shop: TradeWords, words: TradeWords) -> None:
    """A shop's rule must do what its own examples say, with every other rule in force."""
    from bot.knowledge.normalize import to_simplified
    from bot.policy.evaluate import build_rules, evaluate_entry_with
    from bot.policy.rules import EntryView

    rules = build_rules(words)
    for rule in (*shop.conditions, *shop.facets):
        for example, must_fire in [(e, True) for e in rule.fires] + [(e, False) for e in rule.passes]:
            question, answer = example.entry
            question, answer = to_simplified(question), to_simplified(answer)
            view = EntryView(question, answer, (question,) if question else ())
            hit = evaluate_entry_with(rules, example.question, view)
            if must_fire and (hit is None or hit.rule != rule.id):
                found = f"规则 {hit.rule} 先命中了" if hit else "没有规则命中"
                raise RulesFileError(
                    *_where(example), f"规则 {rule.id} 的例子「{example.question}」应当命中它，但{found}"
                )
            if not must_fire and hit is not None:
                raise RulesFileError(
                    *_where(example), f"规则 {rule.id} 的反例「{example.question}」不应命中，但规则 {hit.rule} 命中了"
                )


def _where(example: Example) -> tuple[str, int | None]:
    path, _, line = example.where.rpartition(":")
    return path, int(line) if line.isdigit() else None
