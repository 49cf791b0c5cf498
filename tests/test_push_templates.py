"""Push templates and the fact check they rest on; the customer profile that personalises them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import REPO_ROOT
from bot.errors import ConfigError
from bot.knowledge.entries import Hit
from bot.memory import crud
from bot.push.facts import facts, unsupported
from bot.push.formats import FORMATS
from bot.push.profile import build_profile, tier_benefit
from bot.push.templates import FIELDS, load_templates

SHIPPED = REPO_ROOT / "prompts" / "push"


@pytest.mark.parametrize("key", sorted({spec.key for spec in FORMATS.values()}))
def test_every_shipped_template_set_loads_with_several_varied_parts(key):
    templates = load_templates(SHIPPED, key)
    for tset in (templates.normal, templates.soft):
        assert tset.size >= 3
        for part in ("openings", "bodies", "closings"):
            assert len(set(getattr(tset, part))) == len(getattr(tset, part))


def test_facts_are_normalised_so_a_rewording_does_not_hide_a_number():
    assert {key for _, key in facts("三天内发货，两盒起")} == {"3", "2"}
    assert {key for _, key in facts("全场八折")} == {"折8"}
    assert unsupported("满２００减２０", ["满200减20"]) == []  # full-width digits
    assert unsupported("打85折", ["全场八五折"]) == []
    assert unsupported("下单包邮，送您试饮装", ["满99元包邮"]) == ["送您", "试饮装"]
    assert unsupported("一起喝茶，一定好喝", []) == []  # 一 before no unit is not a figure
    assert unsupported("明天发货", ["当天发货"]) == ["明天"]


def write(tmp_path, text):
    (tmp_path / "wechat_service.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_a_template_stating_its_own_fact_is_refused_with_where(tmp_path):
    bad = 'openings: ["{hello}，今天下单包邮！"]\nbodies: ["{brief}"]\nclosings: ["回复「退订」即可。"]\n'
    with pytest.raises(ConfigError, match="openings 第 1 条 自带事实「包邮」"):
        load_templates(write(tmp_path, bad), "wechat_service")


def test_a_template_with_an_unknown_field_or_missing_part_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="未知的字段：price"):
        load_templates(write(tmp_path, 'openings: ["{price}"]\nbodies: ["{brief}"]\nclosings: ["好"]\n'),
                       "wechat_service")
    with pytest.raises(ConfigError, match="缺少 closings"):
        load_templates(write(tmp_path, 'openings: ["x"]\nbodies: ["{brief}"]\n'), "wechat_service")
    with pytest.raises(ConfigError, match="找不到推送模板文件"):
        load_templates(tmp_path, "weibo_dm")
    assert "brief" in FIELDS and "price" not in FIELDS


def test_tier_benefit_quotes_the_faq_sentence_for_that_tier_only():
    hit = Hit(id="t", question="会员有什么权益？", source="m.md", score=1.0,
              answer="普通会员每消费 1 元积 1 分；金卡会员积分加倍，每季度可领一次试饮装。")
    benefit, cited = tier_benefit("金卡会员", lambda query, k: [hit])
    assert benefit == "积分加倍，每季度可领一次试饮装" and cited is hit
    assert tier_benefit("钻石会员", lambda query, k: [hit]) is None
    assert tier_benefit("金卡会员", None) is None


def test_profile_reads_interests_and_what_memory_learned(session):
    person = crud.create_customer(session=session, display_name="王芳", tags=["金卡会员", "普洱爱好者"])
    when = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    for channel, text, hours in (("wechat", "龙井怎么泡", 0), ("weibo", "白茶能放多久", 5)):
        conv = crud.start_conversation(session=session, customer_id=person.id, channel=channel, now=when)
        crud.add_message(session=session, conversation_id=conv.id, role="customer", text=text,
                         now=when + timedelta(hours=hours))
        crud.create_draft(session=session, customer_id=person.id, conversation_id=conv.id, text="…",
                          cited_entry_ids=[f"entry-{channel}"])
    profile = build_profile(session=session, customer=person, entry_question={"entry-wechat": "龙井怎么冲泡？"}.get)
    assert profile.tier == "金卡会员"
    assert profile.interests[0] == "普洱" and {"龙井", "白茶"} <= set(profile.interests)
    assert profile.asked == ["龙井怎么冲泡？"]  # an entry no longer in the FAQ is left out
    assert profile.last_contact == {"wechat": when, "weibo": when + timedelta(hours=5)}


@pytest.mark.parametrize("key", ["wechat_service", "weibo_dm"])
def test_one_to_one_templates_do_not_pose_as_a_service_reply(key):
    # 「仅供参考」「如有疑问」 mark a service reply to the checker; in a template they would pass any
    # promotion off as service. Only asked_lines, used when the customer did ask, may say so.
    from bot.compliance.rules import OPT_OUT, SERVICE_CONTEXT

    templates = load_templates(SHIPPED, key)
    for tset in (templates.normal, templates.soft):
        for part in ("openings", "bodies", "closings", "interest_lines", "benefit_lines"):
            for line in getattr(tset, part):
                assert not SERVICE_CONTEXT.search(OPT_OUT.sub("", line)), (key, part, line)
