"""Benchmark push copy without an LLM: drafts per second, and how often a brief needs a rewrite.

    .venv/bin/python benchmarks/push_drafts.py [--customers 60] [--variants 3] [--repeat 1]

Thirty briefs written for this benchmark (a tea shop's month of pushes across every channel and
format: launches, restocks, events, service notices, and the pushy ones merchants really write —
全网最低价, 转发集赞, 手慢无, 加微信) are drafted through the product's own `PushWriter` for the
sample shop in knowledge/ (indexed into a temporary folder) and a generated customer list
(tiers, interests, opt-outs, recent messages on WeChat and Weibo). No LLM. Printed:

- drafts per second over every `draft()` call (database reads, profile, FAQ search for the tier's
  benefits, checker on brief and drafts, fact check, storing the drafts);
- the share of briefs whose offered drafts needed the checker's rewrite (`changed`), of those
  whose brief itself was flagged, and of briefs refused whole (what is left after the rewrite is
  not the message: see `HOLLOW_SHARE` in bot/push/writer.py);
- how many drafts carry a care tip quoted from the FAQ (bot/push/tips.py);
- a re-check of every offered draft: flagged by the checker, a fact outside the brief and the cited
  entries, or over the format's limit — each must be 0.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlmodel import Session  # noqa: E402

from bot.compliance.checker import check_text  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.knowledge.base import KnowledgeBase  # noqa: E402
from bot.knowledge.embeddings import make_embeddings  # noqa: E402
from bot.memory import crud  # noqa: E402
from bot.memory.db import init_db, make_engine  # noqa: E402
from bot.push.facts import unsupported  # noqa: E402
from bot.push.formats import FORMATS  # noqa: E402
from bot.push.tips import CARE  # noqa: E402
from bot.push.writer import PushWriter, UnusableBrief  # noqa: E402

SHOP = Path(__file__).resolve().parent.parent / "knowledge"
NOW = datetime(2026, 4, 8, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai, outside quiet hours

# (channel, format, segment, brief): written for this benchmark, not taken from any dataset.
BRIEFS: list[tuple[str, str, str, str]] = [
    ("wechat", "article", "龙井爱好者", "今年的明前龙井4月10日到店，头采数量不多，老客户可以先到门店试饮，线上4月12日开售。"),
    ("wechat", "article", "普洱爱好者", "2019年的勐海熟普洱茶饼补货了，357克一饼，适合日常口粮，存放方法见菜单「冲泡指南」。"),
    ("wechat", "article", "金卡会员", "本周六下午两点在杭州门店办一场白茶品鉴会，名额20位，在会员中心报名。"),
    ("wechat", "article", "普通会员", "全网最低价！明前龙井今天下单立减50元，转发本文集满30个赞再送茶具一套！！！"),
    ("wechat", "article", "白茶爱好者", "白茶上新：2021年福鼎白牡丹，100克一盒，4月30日前购买两盒包邮。"),
    ("wechat", "article", "龙井爱好者", "史上最好喝的龙井，国家级品质，喝了能降血压，错过再等一年！"),
    ("wechat", "service", "金卡会员", "您上次问的明前龙井已经到货了，4月15日前金卡会员下单满300减30。"),
    ("wechat", "service", "龙井爱好者", "明前龙井到了，这周可以到门店免费试饮，不买也没关系。"),
    ("wechat", "service", "普洱爱好者", "您关注的熟普洱茶饼补货了，现在下单当天发货。"),
    ("wechat", "service", "金卡会员", "限时秒杀！仅剩3盒，手慢无，加微信tea8888抢购，点击链接 http://t.cn/abc 立即下单！"),
    ("wechat", "service", "普通会员", "五一期间（5月1日至5月5日）物流停发，4月30日下午4点前的订单当天发出。"),
    ("wechat", "service", "白茶爱好者", "新到的白牡丹适合夏天冷泡，冲泡方法回复「冷泡」可以看到。"),
    ("wechat", "moments", "龙井爱好者", "今天在茶园拍到了采茶的师傅，明前龙井4月10日到店，欢迎来喝一杯。"),
    ("wechat", "moments", "普洱爱好者", "普洱熟茶第一泡醒茶，第二泡开始喝，冬天来一壶正好。"),
    ("wechat", "moments", "金卡会员", "全网销量第一的龙井！今天转发朋友圈截图给客服，送试饮装一份！"),
    ("wechat", "moments", "白茶爱好者", "白茶三年是药七年是宝，包治百病，买到就是赚到。"),
    ("wechat", "moments", "普通会员", "周末门店新到一批紫砂壶，喜欢的朋友可以来看看。"),
    ("weibo", "post", "龙井爱好者", "#明前龙井# 今年的明前龙井4月10日开售，500克礼盒装，4月20日前下单满200减20。"),
    ("weibo", "post", "普洱爱好者", "聊聊普洱：生茶和熟茶怎么选？熟茶温和适合新手，生茶适合喜欢回甘的朋友。"),
    ("weibo", "post", "金卡会员", "转发+关注+@三位好友，抽5位送明前龙井一盒，4月15日开奖！"),
    ("weibo", "post", "普通会员", "茶小铺五周年，4月18日至4月20日全场九折，会员积分双倍。"),
    ("weibo", "post", "白茶爱好者", "顶级白茶，全网最低，最后一天，错过等明年！！！"),
    ("weibo", "post", "龙井爱好者", "#春茶季# #龙井# 龙井怎么泡才好喝？水温80度左右，玻璃杯下投法，三分钟出汤。"),
    ("weibo", "post", "普洱爱好者", "普洱茶饼开封后用紫砂罐或纸箱存放，避光、通风、远离异味。"),
    ("weibo", "dm", "金卡会员", "谢谢您上次的咨询，明前龙井已经到货，金卡会员4月15日前下单满300减30。"),
    ("weibo", "dm", "龙井爱好者", "您预约的明前龙井到货提醒：4月12日上午10点开售。"),
    ("weibo", "dm", "普洱爱好者", "亲，最后3饼了，马上涨价，赶紧下单，私信发您专属链接！"),
    ("weibo", "dm", "白茶爱好者", "您问的白牡丹冷泡方法：100毫升冷水放3克茶，冷藏6小时即可。"),
    ("weibo", "dm", "普通会员", "积分有效期到年底，100积分抵1元，可以在结算页勾选使用。"),
    ("weibo", "dm", "金卡会员", "金卡会员专属：本月可领一次新茶试饮装，在会员中心申请即可。"),
]
TAGS = ("龙井爱好者", "普洱爱好者", "白茶爱好者")
TIERS = ("金卡会员", "普通会员")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
CALLS = ("姐", "哥", "先生", "女士", "老师")


def make_customers(engine, count: int, rng: random.Random) -> None:
    """Generated customers: a tier, one or two interests, some opted out, some wrote recently."""
    with Session(engine) as session:
        for n in range(count):
            name = rng.choice(SURNAMES) + rng.choice(CALLS)
            tags = [TIERS[n % 2], *rng.sample(TAGS, k=1 + n % 2)]
            person = crud.create_customer(session=session, display_name=name, tags=tags)
            person.ref = f"B{n:04d}"
            person.opted_out_wechat = n % 7 == 3
            person.opted_out_weibo = n % 9 == 4
            for channel in ("wechat", "weibo"):
                if rng.random() < 0.6:
                    wrote = NOW - timedelta(hours=rng.uniform(0.5, 30))
                    conv = crud.start_conversation(session=session, customer_id=person.id, channel=channel, now=wrote)
                    crud.add_message(session=session, conversation_id=conv.id, role="customer",
                                     text=rng.choice(["龙井怎么泡", "普洱怎么保存", "白茶能放多久", "包邮吗"]), now=wrote)
        session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=60)
    parser.add_argument("--variants", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1, help="Run the 30 briefs this many times (timing).")
    parser.add_argument("--list", action="store_true", help="Say what happened to each brief.")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="push_bench_"))
    try:
        shutil.copytree(SHOP, root / "knowledge")
        settings = Settings(data_dir=root / "data", knowledge_dir=root / "knowledge", _env_file=None)
        knowledge = KnowledgeBase(settings, embedder=make_embeddings(settings))
        knowledge.sync()
        engine = make_engine(settings)
        init_db(engine)
        make_customers(engine, args.customers, random.Random(17))
        writer = PushWriter(settings, engine=engine, knowledge=knowledge)
        # Warm-up: jieba loads its dictionary (about 2 s) on first use, once per process.
        writer.draft(channel="weibo", fmt="post", brief="春茶到了。", now=NOW, store=False)

        drafts = refusals = rewritten = brief_flagged = hollow = 0
        problems: Counter[str] = Counter()
        by_format: Counter[str] = Counter()
        with_tip: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        elapsed = 0.0
        for _ in range(args.repeat):
            rewritten = brief_flagged = hollow = 0
            for channel, fmt, segment, brief in BRIEFS:
                start = time.perf_counter()
                try:
                    result = writer.draft(channel=channel, fmt=fmt, brief=brief, segment=segment,
                                          variants=args.variants, now=NOW)
                except UnusableBrief:
                    elapsed += time.perf_counter() - start
                    hollow += 1  # the brief itself: mostly what the surface forbids
                    if args.list:
                        print(f"refused   {channel}/{fmt}: {brief}")
                    continue
                elapsed += time.perf_counter() - start
                drafts += len(result.drafts)
                refusals += len(result.refused)
                by_format[f"{channel}/{fmt}"] += len(result.drafts)
                reasons.update(r.reason.split("，最早")[0] for r in result.refused)
                if any(d.changed for d in result.drafts):
                    rewritten += 1
                if args.list:
                    state = "rewritten" if any(d.changed for d in result.drafts) else "as is"
                    print(f"{state:<9} {channel}/{fmt}: {brief}")
                if any(d.dropped and d.changed for d in result.drafts) and _brief_flagged(writer, channel, fmt, brief):
                    brief_flagged += 1
                spec = FORMATS[(channel, fmt)]
                for d in result.drafts:
                    if any(CARE.search(h.question) for h in d.sources):
                        with_tip[f"{channel}/{fmt}"] += 1
                    sources = [brief, *(h.answer for h in d.sources), settings.shop_name]
                    if check_text(d.text, channel=channel, surface=spec.surface, settings=settings).flagged:
                        problems["flagged by a re-check"] += 1
                    if unsupported(d.text + (d.title or "") + (d.digest or ""), sources):
                        problems["fact outside brief and cited entries"] += 1
                    if len(d.text) > spec.max_chars:
                        problems["over the length limit"] += 1
        n = len(BRIEFS)
        print(f"briefs: {n} × {args.repeat}, customers: {args.customers}, variants: {args.variants}, no LLM")
        print(f"drafts offered: {drafts}, refused (opt-out, caps, windows): {refusals}")
        print(f"drafts per second: {drafts / elapsed:.1f}  ({elapsed:.2f} s in draft())")
        print(f"briefs whose drafts needed a rewrite: {rewritten}/{n} = {rewritten / n:.2f}")
        print(f"  of which the brief itself was flagged for its surface: {brief_flagged}/{n}")
        print(f"briefs refused as a whole (UnusableBrief: mostly what the surface forbids): {hollow}/{n}")
        print("drafts by format: " + ", ".join(f"{k} {v}" for k, v in sorted(by_format.items())))
        print("drafts carrying a care tip from the FAQ: "
              + ", ".join(f"{k} {with_tip[k]}/{v}" for k, v in sorted(by_format.items())))
        print("refusal reasons: " + "; ".join(f"{v}× {k[:40]}" for k, v in reasons.most_common()))
        print("re-check of offered drafts: " + (", ".join(f"{k}: {v}" for k, v in problems.items()) or "0 problems"))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _brief_flagged(writer: PushWriter, channel: str, fmt: str, brief: str) -> bool:
    spec = FORMATS[(channel, fmt)]
    return check_text(brief, channel=channel, surface=spec.surface, settings=writer.settings).flagged


if __name__ == "__main__":
    main()
