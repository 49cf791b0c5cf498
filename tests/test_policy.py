"""The hand-off policy: every rule's own examples, the rules file's validation, a shop's own rules."""

import pytest

from bot.knowledge.normalize import to_simplified
from bot.policy import loader
from bot.policy.evaluate import evaluate_entry, rules_in_force
from bot.policy.loader import RulesFileError, read_rules_file, shipped_words, use_shop_rules
from bot.policy.rules import EntryView, Example


@pytest.fixture(autouse=True)
def _shipped_rules_only():
    use_shop_rules(None)
    yield
    use_shop_rules(None)


def _view(example: Example) -> EntryView:
    question, answer = example.entry
    phrasings = (to_simplified(question),) if question else ()
    return EntryView(to_simplified(question), to_simplified(answer), phrasings)


SHIPPED_RULES = rules_in_force()
FIRES = [(rule.id, example) for rule in SHIPPED_RULES for example in rule.fires]
PASSES = [(rule.id, example) for rule in SHIPPED_RULES for example in rule.passes]


def _ids(cases):
    return [f"{rule_id}-{n}" for n, (rule_id, _) in enumerate(cases)]


@pytest.mark.parametrize("rule_id, example", FIRES, ids=_ids(FIRES))
def test_each_rule_fires_on_its_examples(rule_id, example):
    hit = evaluate_entry(example.question, _view(example))
    assert hit is not None, f"{example.where or rule_id}: 「{example.question}」 fired no rule"
    assert hit.rule == rule_id, f"{example.where or rule_id}: 「{example.question}」 fired {hit.rule}"
    assert hit.text and example.question[hit.span[0] : hit.span[1]] == hit.text
    assert hit.reason


@pytest.mark.parametrize("rule_id, example", PASSES, ids=_ids(PASSES))
def test_no_rule_fires_on_a_rule_s_counter_examples(rule_id, example):
    hit = evaluate_entry(example.question, _view(example))
    assert hit is None, f"{example.where or rule_id}: 「{example.question}」 fired {hit.rule}"


def test_every_rule_is_named_once_says_why_and_has_an_example_that_fires():
    ids = [rule.id for rule in SHIPPED_RULES]
    assert len(ids) == len(set(ids))
    for rule in SHIPPED_RULES:
        assert rule.asks and rule.answered_by and rule.reason, rule.id
        # The subject rule needs a whole FAQ to fire: tests/test_subjects.py.
        assert rule.fires or rule.id == "swapped_subject", f"{rule.id} ({rule.source}) has no example that fires"


def test_the_reason_names_what_was_asked():
    hit = evaluate_entry("抖音直播间买的能在这退吗", _view(Example("x", ("可以退货吗？", "收到 7 天内可无理由退货。"))))
    assert hit.rule == "other_channel" and "其他购买渠道" in hit.reason and hit.text == "抖音"
    assert "投诉" in evaluate_entry("东西太差了我要给差评", _view(Example("x"))).reason
    assert "打招呼" in evaluate_entry("在吗？？", _view(Example("x"))).reason


def test_trade_words_are_data_and_rules_in_code_hold_in_any_shop():
    words = shipped_words()
    kinds = {rule.id: rule.kind for rule in SHIPPED_RULES}
    assert {r.id for r in words.facets} | {r.id for r in words.conditions} == {
        i for i, k in kinds.items() if k in ("facet", "condition")
    }
    assert {i for i, k in kinds.items() if k == "universal"} == {
        "greeting", "person", "promise", "order_number", "own_records", "price", "unlisted_price", "stock"
    }
    assert dict(words.topics)["dispatch"].startswith("发货")


SHOP_RULES = """\
facets:
  - id: engraving
    asks: 刻字
    asked: 刻字|刻名字
    addressed: 刻字|雕刻
    fires: [能刻名字吗]
    passes:
      - q: 能刻字吗
        entry: [可以刻字吗？, 可以，免费刻 6 个字以内。]
topics:
  dispatch: 出仓
not_a_subject: [套餐]
off: [chit_chat]
"""


def test_a_shop_extends_the_shipped_rules_from_its_knowledge_folder(tmp_path):
    (tmp_path / "店小二规则.yaml").write_text(SHOP_RULES, encoding="utf-8")
    words = use_shop_rules(tmp_path)
    assert words.files == ("bot/policy/data/rules.yaml", "店小二规则.yaml")
    neutral = _view(Example("x"))
    hit = evaluate_entry("能刻名字吗", neutral)
    assert hit.rule == "engraving" and hit.reason == "顾客问到刻字，匹配到的条目没有提到" and hit.text == "刻名字"
    assert evaluate_entry("杭州明天会下雨吗", neutral) is None  # the shop switched chit_chat off
    from bot.knowledge.topics import topics

    assert "dispatch" in topics("今天能出仓吗")
    assert "套餐" in words.not_a_subject
    use_shop_rules(None)
    assert evaluate_entry("能刻名字吗", neutral) is None
    assert "dispatch" not in topics("今天能出仓吗")


def test_a_shop_rule_replaces_a_shipped_one_with_the_same_id(tmp_path):
    (tmp_path / "_rules.yaml").write_text(
        "facets:\n  - id: jobs\n    asks: 招人\n    asked: 招学徒\n    fires: [招学徒吗]\n", encoding="utf-8"
    )
    use_shop_rules(tmp_path)
    neutral = _view(Example("x"))
    assert evaluate_entry("招学徒吗", neutral).rule == "jobs"
    assert evaluate_entry("你们招聘吗", neutral) is None
    assert [r.id for r in rules_in_force()].count("jobs") == 1


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("facets:\n  - id: bad\n    asks: 坏\n    asked: '刻字(|'\n", 4, "不是有效的正则表达式"),
        ("facets:\n  - id: bad\n    asks: 坏\n    asked: '刻字|'\n", 4, "能匹配空文字"),
        ("facets:\n  - id: bad\n    asked: 刻字\n", 2, "缺少 asks"),
        ("facets:\n  - id: Bad Id\n    asks: 坏\n    asked: 刻字\n", 2, "小写英文"),
        ("facets:\n  - id: bad\n    asks: 坏\n    asked: 刻字\n    colour: red\n", 5, "未知的键「colour」"),
        ("topics:\n  dispatch: '出仓(?<=a+)'\n", 2, "不是有效的正则表达式"),
        ("facets: [\n", 2, "不是有效的 YAML"),
        ("off:\n  - chit_chat\n  - price\n", 3, "适用于任何店铺，不能关闭"),
        ("off: [no_such_rule]\n", 1, "不存在"),
        ("conditions:\n  - id: x\n    who: 某人\n    asked: 某病\n  - id: x\n    who: 另一人\n    asked: 另一病\n", 5, "出现了两次"),
        ("facets:\n  - id: bad\n    asks: 坏\n    asked: 刻字\n    fires:\n      - q: 刻字吗\n        entry: [只有问题]\n", 7, "entry 应为"),
    ],
)
def test_a_bad_shop_rules_file_is_a_clear_error_naming_file_and_line(tmp_path, text, line, message):
    (tmp_path / "店小二规则.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(RulesFileError) as error:
        use_shop_rules(tmp_path)
    assert error.value.path == "店小二规则.yaml" and error.value.line == line
    assert str(error.value).startswith(f"店小二规则.yaml:{line}: ") and message in str(error.value)
    assert loader.active_words() is shipped_words()  # the rules in force are left as they were


def test_the_shipped_rules_file_reads_cleanly():
    words = read_rules_file(loader.SHIPPED)
    assert len(words.facets) > 100 and words.conditions and words.topics


def test_a_shop_rule_whose_example_does_not_fire_is_an_error_naming_the_example_s_line(tmp_path):
    (tmp_path / "店小二规则.yaml").write_text(
        "facets:\n  - id: engraving\n    asks: 刻字\n    asked: 刻字\n    fires:\n      - 能刻个名字吗\n",
        encoding="utf-8",
    )
    with pytest.raises(RulesFileError, match=r"^店小二规则.yaml:6: 规则 engraving 的例子「能刻个名字吗」应当命中它"):
        use_shop_rules(tmp_path)


def test_a_shop_s_own_words_are_read_as_its_faq_words_them(tmp_path):
    from bot.knowledge.normalize import normalize_message

    assert normalize_message("出貨要幾耐") == "发货要多久"  # shipped: a Taiwanese shop word
    (tmp_path / "店小二规则.yaml").write_text(
        "shop_words:\n  - [出仓, 发货]\nenglish_words:\n  - [yyds, 最受欢迎]\n", encoding="utf-8"
    )
    use_shop_rules(tmp_path)
    assert normalize_message("今天能出仓吗") == "今天能发货吗"
    assert normalize_message("哪款YYDS") == "哪款最受欢迎"
    use_shop_rules(None)
    assert normalize_message("今天能出仓吗") == "今天能出仓吗"


def test_a_bad_shop_word_pattern_names_the_line(tmp_path):
    (tmp_path / "店小二规则.yaml").write_text("shop_words:\n  - [出仓, 发货]\n  - ['出(仓', 发货]\n", encoding="utf-8")
    with pytest.raises(RulesFileError, match=r"^店小二规则.yaml:3: .*正则表达式"):
        use_shop_rules(tmp_path)


def test_a_sync_puts_an_edited_rules_file_in_force_and_reports_a_bad_one(tmp_path, e5):
    from bot.config import Settings
    from bot.knowledge.base import KnowledgeBase

    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / "faq.md").write_text("# 常见问题\n\n## 包邮吗？\n满 99 元包邮。\n", encoding="utf-8")
    kb = KnowledgeBase(Settings(data_dir=tmp_path / "data", knowledge_dir=knowledge, _env_file=None), embedder=e5)
    kb.sync()
    rules = knowledge / "店小二规则.yaml"
    rules.write_text("facets:\n  - id: engraving\n    asks: 刻字\n    asked: 刻名字\n    fires: [能刻名字吗]\n", encoding="utf-8")
    report = kb.sync()
    assert not report.errors and not report.changed  # not a FAQ file
    assert "engraving" in [r.id for r in rules_in_force()]
    rules.write_text("facets:\n  - id: engraving\n    asks: 刻字\n    asked: '刻字('\n", encoding="utf-8")
    planned = kb.sync(dry_run=True)  # a dry run reads the rules file too, and puts nothing in force
    assert [(e.path, e.line) for e in planned.errors] == [("店小二规则.yaml", 4)]
    report = kb.sync()
    assert [(e.path, e.line) for e in report.errors] == [("店小二规则.yaml", 4)]
    assert "engraving" in [r.id for r in rules_in_force()]  # the last good rules stay in force
    rules.write_text("facets:\n  - id: lettering\n    asks: 刻字\n    asked: 刻名字\n    fires: [能刻名字吗]\n", encoding="utf-8")
    assert not kb.sync(dry_run=True).errors
    assert "engraving" in [r.id for r in rules_in_force()] and "lettering" not in [r.id for r in rules_in_force()]


def test_the_documented_example_shop_file_loads(tmp_path):
    example = loader.__doc__.split("same shape:\n\n")[1].split("\n\nA bad pattern")[0]
    (tmp_path / "店小二规则.yaml").write_text("\n".join(line[4:] for line in example.splitlines()), encoding="utf-8")
    words = use_shop_rules(tmp_path)
    assert [r.id for r in words.facets][-1] == "engraving" and "chit_chat" not in [r.id for r in words.facets]
