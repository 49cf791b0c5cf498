"""店小二's own rule set for promotional copy, written from the statutes and platform rules.

Each rule names the provision it rests on (`basis`), says in Chinese why the span is a problem
(`reason`) and how to say it compliantly (`suggestion`), and tells the rewriter what to do with
the span (`fix`). The lexicons are written from the text of 《广告法》, 《互联网广告管理办法》, the SAMR
enforcement guides and the WeChat / Weibo operating rules; they are not copied from other
projects' word lists.

Severity decides the points a finding adds to the score (see `checker.py`):
- "high": a statutory prohibition (广告法第九条, 第十七条, 第二十八条 …) or a platform ban that
  gets accounts blocked (诱导分享). One is enough to flag a draft.
- "medium": a likely violation that depends on facts we cannot see (no source for a number,
  原价 without basis), or a strong push-spam signal.
- "low": pushy style that is lawful alone but adds up (urgency words, ！！！, phone numbers).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["high", "medium", "low"]
Channel = Literal["wechat", "weibo"]

# How the rewriter treats a span: replace it with text, drop the span, drop the whole clause
# (claims that cannot be softened word by word), or drop it only if the text is still flagged
# after the first pass (contact details and other lawful-but-pushy parts of service messages).
FixKind = Literal["replace", "drop", "drop_clause", "drop_if_needed", "keep"]

CATEGORY_LABELS: dict[str, str] = {
    "absolute": "绝对化用语",
    "unsourced_data": "无出处的数据或排名",
    "medical": "医疗功效宣称",
    "false_claim": "虚假或保证性承诺",
    "state_name": "使用国家机关名义",
    "risky_offer": "高风险行业推销",
    "inducement": "诱导分享或关注",
    "urgency": "紧迫感与稀缺施压",
    "price": "价格欺诈风险",
    "promotion": "营销元素堆叠",
    "contact": "站外导流与联系方式",
    "spam_form": "骚扰式排版",
    "channel": "渠道规则",
}

# Statute citations used by several rules.
AD_LAW_9_3 = "广告法第九条第三项"
AD_LAW_11 = "广告法第十一条第二款"
AD_LAW_17 = "广告法第十七条"
AD_LAW_28 = "广告法第二十八条"
PRICE_FRAUD = "明码标价和禁止价格欺诈规定"
PROMO_RULES = "规范促销行为暂行规定（限时促销须明示期限）"
WECHAT_INDUCE_SHARE = "微信公众平台运营规范 诱导分享"
WECHAT_INDUCE_FOLLOW = "微信公众平台运营规范 诱导关注"
WEIBO_MARKETING = "微博商业行为规范办法"


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    severity: Severity
    pattern: re.Pattern[str]
    reason: str
    basis: str
    suggestion: str
    fix: FixKind = "drop"
    # For fix == "replace": matched text -> replacement (a callable, or a fixed string).
    replacement: Callable[[str], str] | str = ""
    # Weibo rules differ from WeChat's for the same behaviour; None means same basis on both.
    basis_weibo: str | None = None
    # Lawful uses: given the whole text and the match, True means leave it alone.
    exempt: Callable[[str, re.Match[str]], bool] | None = None
    # Soft findings are discounted when the text is plainly a transaction notice.
    soft: bool = False

    def basis_for(self, channel: Channel) -> str:
        return self.basis_weibo if channel == "weibo" and self.basis_weibo else self.basis


def _table(mapping: dict[str, str], default: str) -> Callable[[str], str]:
    def replace(matched: str) -> str:
        return mapping.get(matched, default)

    return replace


# --- Context detectors shared by exemptions -------------------------------------------------

CN_NUM = "一二两三四五六七八九十几百千"

# A stated offer period ("活动时间：11月1日至11月11日", "截止12月31日", "即日起至…"), which the
# promotion rules require and which turns 限时/最后一天 from pressure into information.
STATED_PERIOD = re.compile(
    r"(?:活动|优惠|促销|特价)(?:时间|期间|日期|期限)\s*[:：为]"
    r"|有效期(?:至|到|为|[:：])"
    r"|\d{1,2}\s*月\s*\d{1,2}\s*[日号]?\s*(?:\d{1,2}\s*[:：点]\s*\d{0,2}\s*)?(?:至|到|~|～|-|—|–)\s*"
    r"(?:\d{1,2}\s*月\s*)?\d{1,2}\s*[日号]"
    r"|(?:截[止至]|结束于|到期日)\s*(?:到|至|于)?\s*(?:\d{4}\s*年\s*)?\d{1,2}\s*月\s*\d{1,2}\s*[日号]"
    r"|\d{1,2}\s*月\s*\d{1,2}\s*[日号]\s*(?:\d{1,2}\s*[:：点]\s*\d{0,2}\s*)?(?:前|截止|结束|止)"
    r"|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\s*(?:至|到|~|-|—)"
)

# A dated, sourced claim: SAMR's absolute-terms guide accepts a ranking limited in time and scope
# that can be verified, and 广告法第十一条 asks for the source.
_YEAR = re.compile(r"(?:19|20)\d{2}\s*(?:年|年度|财年)")
_SOURCE = re.compile(r"(?:数据)?来源\s*[:：]|据[^，。；]{1,20}(?:统计|数据|发布|公布|榜单)|出处\s*[:：]|以[^，。]{1,12}公布为准")


def has_dated_source(text: str) -> bool:
    return bool(_YEAR.search(text)) and bool(_SOURCE.search(text))


def _sourced(text: str, _: re.Match[str]) -> bool:
    return has_dated_source(text)


def _period_stated(text: str, _: re.Match[str]) -> bool:
    return bool(STATED_PERIOD.search(text))


# 最好 as advice (“had better”): 最好在阴凉处保存, 最好提前预约, 最好用80度的水冲泡 is a tip for the
# customer, not a claim that the product is the best. 最好不过 and 最好的龙井 still are.
_ADVICE_AFTER_BEST = re.compile(
    r"在|是|能|可以|还是|不要|不能|不宜|别|不(?!过|错)|先|再|提前|尽快|尽早|及时|当天|当日|趁|避"
    r"|放|存|冷藏|冷冻|密封|分|每|选|联系|咨询|备注|留|自己|直接"
)
# 最好的办法是先买小样 advises a way to go about it.
_BEST_WAY = re.compile(r"的(?:办法|方法|做法)")
# …and 最好用 before what to use (80度的水, 紫砂壶) says how to brew, not that it is the handiest.
_WHAT_TO_USE = re.compile(r" ?(?:\d|约|大约|[一二两三四五六七八九十]|[温热冷开沸凉纯净]水|山泉|矿泉|紫砂|玻璃|盖碗|瓷)")


def _advice(text: str, match: re.Match[str]) -> bool:
    if match.group() == "最好":
        return (_ADVICE_AFTER_BEST.match(text, match.end()) is not None
                or _BEST_WAY.match(text, match.end()) is not None)
    if match.group() == "最好用":
        return _WHAT_TO_USE.match(text, match.end()) is not None
    return False


def _price_basis_stated(text: str, match: re.Match[str]) -> bool:
    # The promotion rules take the base price as the lowest price of the prior 7 days; saying
    # so (or naming the base) is the lawful way to show a 原价.
    return bool(re.search(r"(?:前|近|过去)\s*(?:7|七)\s*(?:日|天)|划线价|原价(?:说明|指|为.{0,12}成交)", text))


# --- The rules -------------------------------------------------------------------------------

_SUPERLATIVE_MAP = {
    "最好": "很好", "最佳": "优质", "最优": "优质", "最棒": "很棒", "最强": "很强", "最大": "大",
    "最便宜": "实惠", "最实惠": "实惠", "最划算": "划算", "最超值": "超值", "最正宗": "正宗",
    "最顶级": "优质", "最先进": "先进", "最受欢迎": "受欢迎", "最畅销": "畅销", "最热销": "热销",
    "最火": "很受欢迎", "最流行": "流行", "最时尚": "时尚", "最新鲜": "新鲜", "最纯正": "纯正",
    "最安全": "安全", "最有效": "有效", "最权威": "专业", "最专业": "专业", "最牛": "很棒",
    "最赞": "很赞", "最美": "很美", "最香": "很香", "最值得": "值得", "最全": "齐全", "最齐全": "齐全",
    "最高级": "高品质", "最高端": "高品质", "最低价": "实惠价格", "最高": "很高", "最低": "较低",
    "最好喝": "好喝", "最好吃": "好吃", "最好用": "好用", "最舒适": "舒适", "最健康": "健康",
    "最完美": "出色", "最精致": "精致", "最具": "颇具", "最适合": "适合", "最优惠": "优惠",
}

_ABSOLUTE_WORD_MAP = {
    "国家级": "专业级", "世界级": "高水准", "国际级": "高水准", "全球级": "高水准", "宇宙级": "出色",
    "顶级": "优质", "顶尖": "优质", "极品": "精选", "极致": "出色", "至尊": "尊享", "巅峰": "出色",
    "无敌": "出色", "唯一": "特色", "独一无二": "独具特色", "绝无仅有": "少见", "史无前例": "难得",
    "史上最": "非常", "前所未有": "难得", "空前绝后": "难得", "万能": "多用途", "首选": "推荐之选",
    "王牌": "招牌", "天花板": "标杆", "绝对": "", "全网第一": "热销", "全国第一": "热销",
    "第一品牌": "知名品牌", "销量冠军": "热销", "冠军": "热销",
}

# SAMR's guide leaves consumer tips alone: 最佳赏味期, 最佳冲泡温度, 最佳食用时间.
_TIP_AFTER_BEST = "食用|赏味|饮用|品饮|冲泡|泡饮|使用|保存|储存|存放|观赏|品尝|适饮|养护|穿着|洗涤|体验时间"
_LIMIT_AFTER = r"(?:为|是|值|不超过|不得超过|[^，。！？；\d]{0,6}(?:可达|达到|可至)|满\s*\d)"
_SUPERLATIVE = re.compile(
    r"最(?:"
    r"佳(?!(?:" + _TIP_AFTER_BEST + r"))"
    r"|好(?:喝|吃|用)?|优惠|优|棒|强|便宜|实惠|划算|超值|正宗|顶级|先进|受欢迎|畅销|热销|火|流行"
    r"|时尚|新鲜|纯正|安全|有效|权威|专业|牛|赞|美|香|值得|齐全|全(?!部)|高级|高端|低价|舒适|健康"
    r"|完美|精致|具|适合"
    # 最大/最高/最低 are plain facts when they state a limit: 最大号, 最高可减50元, 最低消费,
    # 最大为5注, 最高优惠可达5折, 最高满198减100.
    # 最大的区别 answers 「这两款有什么区别」: a comparison, not a claim.
    r"|大(?![号码尺杯份瓶盒袋]|限度|程度|可|\d|的?(?:区别|不同|差别|差异)|" + _LIMIT_AFTER + r")"
    r"|高(?![可享减返送立\d温气消还额限至到为达抵]|" + _LIMIT_AFTER + r")"
    r"|低(?![可享减返送立\d温气消还额限至到为达起]|" + _LIMIT_AFTER + r")"
    r")"
)

_ABSOLUTE_WORDS = re.compile(
    r"国家级|世界级|国际级|全球级|宇宙级|顶级|顶尖|极品|极致|至尊|巅峰|无敌|独一无二|绝无仅有"
    r"|史无前例|史上最|前所未有|空前绝后|万能|首选|王牌|天花板|绝对(?!值|温度)"
    # 唯一 naming the official service channel (唯一客服热线, 唯一官网) is an anti-fraud notice, not a claim.
    r"|(?<![价])唯一(?!指定联系|联系|官方|(?:客服)?(?:热线|电话|客服|官网|网址|渠道|途径|号码))"
    r"|全网第一|全国第一|第一品牌|销量冠军|冠军"
)

# 第一 as an ordinal (第一次购买, 第一泡, 第一批新茶) is lawful; as a ranking it needs a date and a
# source. The lookahead lists the counters that make it an ordinal.
_FIRST = re.compile(
    r"(?:NO\.?\s?1|No\.?\s?1|TOP\s?1|Top\s?1)(?![0-9])"
    r"|第[一1１](?![0-9０-９十百])(?![次天批件步期季口杯泡单个章节条项款轮届周年月道波份手时印位层页课代套盒包瓶罐箱斤两克回遍轮场集部篇眼])"
)

_STATE_NAME = re.compile(
    r"国家机关(?:推荐|指定|专用)|(?:政府|机关|部委|军队|部队)(?:特供|专供|指定|推荐)|特供|专供|国宴(?:专用|指定|用茶)?"
    r"|领导人(?:推荐|专用|喜爱)|中南海"
)

_MEDICAL = re.compile(
    r"治百病|包治|根治|治愈|治疗|疗效|药到病除|药效|处方|偏方"
    r"|降(?:血压|血糖|血脂|三高|尿酸|压)|(?:抗|防)(?:癌|肿瘤|病毒|衰老|过敏)|消炎|杀菌|抑菌|抗菌"
    r"|预防(?:疾病|感冒|癌症|糖尿病|高血压|心脑血管)|调理(?:肠胃|血压|血糖|内分泌)"
    r"|(?:增强|提高|提升|增加)(?:人体)?免疫力|排毒|养肝|护肝|补肾|壮阳|延年益寿|延缓衰老|长生"
    r"|祛斑|祛痘|去痘|减肥|瘦身|燃脂|降火|清热解毒|活血化瘀|止咳|治失眠|改善失眠|助眠|安神"
    r"|通便|润肠|美白祛斑"
)

_FALSE_CLAIM = re.compile(
    r"(?:100|百分之?百)\s*[%％]?\s*(?:有效|安全|正品|满意|好评|治愈|见效|无副作用|成功|保证)"
    r"|立竿见影|一夜(?:见效|美白|变白|瘦)|永不反弹|无(?:任何)?副作用|零风险|包退包换到永久"
    r"|保证(?:有效|见效|治愈|安全|效果)|(?:无效|没效果)(?:全额)?退款"
    # 互联网广告管理办法第十一条: false prize notices lure clicks.
    r"|恭喜(?:您|你)?[^，。]{0,8}(?:获得|中奖|抽中|被抽中)|您已(?:中奖|获得[^，。]{0,6}大奖)"
)

_INVEST = re.compile(
    r"保本|稳赚|包赚|躺赚|日赚|保证收益|保底收益|(?:年化)?收益率?\s*(?:高达|达|超)?\s*\d+(?:\.\d+)?\s*[%％]"
    r"|高回报|零风险投资|翻倍|涨停|牛股|黑马股?|内幕消息|(?:带|指导)[^，。]{0,6}(?:买入|介入|建仓|布局)"
    r"|资金杠杆|杠杆\s*\d+\s*倍|入金(?:即)?送"
)

_EDU_GUARANTEE = re.compile(r"包过|保过|保证通过|包通过|通过率(?:高达)?\s*\d+\s*[%％]|保(?:送|录取)|提分\s*\d+|稳上|保分")

_REAL_ESTATE_RETURN = re.compile(r"升值(?:潜力|空间)?|增值潜力|投资回报|坐享收益|稳定收租|坐收租金|租金回报|财富增值")

_INVOICE = re.compile(r"代开(?:各类|各种|正规)?发票|发票代开|(?:开|办)(?:具)?(?:各类|各种|正规|增值税)?发票[^，。]{0,8}(?:联系|电话|税点|优惠)|增值税(?:专用)?发票[^，。]{0,6}(?:代开|点数|税点)")

_GAMBLING_SUPERSTITION = re.compile(r"博彩|百家乐|时时彩|六合彩|赌场|彩金|娱乐城|网投|真人荷官|算命|改运|转运|命犯|命里|八字|风水大师")

_LOAN = re.compile(r"无抵押|免抵押|低息(?:贷款)?|(?:快速|当天|当日|极速)放款|秒批|秒到账|信用贷|急用钱|贷款(?:额度|咨询|办理)|可(?:帮)?办(?:理)?贷款|无需担保")

_UNSOURCED = re.compile(
    r"\d{1,3}(?:\.\d+)?\s*[%％]\s*(?:的)?(?:用户|顾客|客户|消费者|买家|人|女性|宝妈|茶友|回头客)"
    r"|(?:好评率|回购率|复购率|满意度)\s*(?:高达|达|超|超过)?\s*\d"
    r"|销量(?:突破|超过|超|已达|破)\s*\d+(?:\.\d+)?\s*[万亿千]?"
    r"|(?:万人|百万|千万|亿万)(?:抢购|选择|好评|推荐|信赖|见证)|全网热销|(?:专家|医生|教授|权威机构|明星)(?:推荐|认证|认可|证明|同款)"
)

_INDUCE_SHARE = re.compile(
    r"(?:转发|分享)(?:到|至|给|进|此文|本文|文章|这条|链接)?[^，。！？\n]{0,6}(?:朋友圈|微信群|群聊|好友|(?:\d+|[" + CN_NUM + r"]+)\s*[个位名]?(?:好友|群|人|朋友))"
    r"|@\s*(?:\d+|[" + CN_NUM + r"]+)\s*[个位名]?(?:好友|朋友|人)"
    r"|集(?:满)?\s*(?:\d+|[" + CN_NUM + r"]+)?\s*个?赞|(?:点赞|赞)(?:数)?(?:满|达到|超过)?\s*(?:\d+|[" + CN_NUM + r"]+)?\s*个?[^，。]{0,3}(?:即)?(?:送|领|得|免费|有礼|抽奖|免单)"
    r"|砍一刀|帮(?:我|忙)?砍|砍价(?:免费)?(?:拿|领)|好友助力|助力(?:领|得|免费|抽奖|免单)"
    r"|(?:邀请|拉)\s*(?:\d+|[" + CN_NUM + r"]+)?\s*(?:个|位|名)?(?:好友|朋友|人)[^，。]{0,8}(?:得|送|领|返|免单|奖励|有礼|拼团|成团|助力|砍价)"
    r"|不转不是|转发(?:后)?[^，。]{0,4}(?:平安|好运|发财|健康)"
    r"|转发(?:即|就|后)?[^，。]{0,6}(?:抽奖|送|领|有礼|免单|红包|赢|中奖)"
    r"|(?:转发|分享|点赞|评论)\s*[+＋和、&与并]+\s*(?:转发|分享|点赞|评论|@)"
)

_INDUCE_FOLLOW = re.compile(
    # 「关注公众号即可免费领取」: a word or two may sit between the condition and the reward.
    r"(?:关注|加关注)(?:我们|公众号|本号|本店|后)?[^，。！？\n]{0,6}(?:才能|即可|就能|方可|才可|可)[^，。！？\n]{0,4}?(?:领取|查看|阅读|参与|获得|抽奖|下载|看到|解锁|领|看)"
    r"|(?:关注后|关注即)(?:领|送|得|抽)"
)

_PERIOD_URGENCY = re.compile(
    r"限时(?:抢购|秒杀|特价|优惠|折扣|特惠|福利|抢)?|倒计时(?:\s*(?:\d+|[一二两三四五六七八九十]+)\s*(?:天|小时|分钟))?"
    r"|最后(?:一天|\d+\s*天|[一二两三]天|\d+\s*小时|几小时|一波|机会|[一二三]小时)"
    r"|(?:今天|今日|今晚|明天|明日)(?:截止|结束|恢复原价|涨价)|即将(?:结束|截止|涨价|售罄|恢复原价)|马上(?:涨价|结束|截止)"
    r"|(?:仅|只)限(?:今天|今日|今晚|当天|当日)"
)

# The countdowns among them: pressure even where the offer's period is stated (限时 then is not).
COUNTDOWN = re.compile(
    r"倒计时(?:\s*(?:\d+|[一二两三四五六七八九十]+)\s*(?:天|小时|分钟))?|最后(?:一天|\d+\s*天|[一二两三]天|\d+\s*小时|几小时|一波|机会|[一二三]小时)"
    r"|(?:今天|今日|今晚|明天|明日)(?:截止|结束|恢复原价|涨价)|即将(?:结束|截止|涨价|售罄|恢复原价)|马上(?:涨价|结束|截止)"
    r"|(?:仅|只)限(?:今天|今日|今晚|当天|当日)"
)

# Scarcity stated as the last few units (最后3饼, 最后十盒) presses like 仅剩.
_LAST_UNITS = r"|最后\s*(?:\d+|[" + CN_NUM + r"]+)\s*(?:件|个|份|盒|饼|套|罐|瓶|单|位|名|席|张)"

_PRESSURE = re.compile(
    r"(?:仅|只)剩(?:最后)?\s*(?:\d+|[" + CN_NUM + r"]+)?\s*(?:件|个|份|盒|名|位|套|罐|饼|单|天|小时)?"
    r"|手慢无|先到先得|名额有限|数量有限|售完即止|抢完即止|卖完即止|限量(?:\d+\s*[件份盒个套])?"
    r"|错过(?:再等|就|今天|不再|这次)[^，。！？]{0,6}|再不(?:买|抢|下单)[^，。！？]{0,6}"
    r"|(?:今天|今日|现在)不(?:买|抢|下单)|赶快|赶紧|速来|速抢|快来抢|疯抢|抢疯了|抢购|秒杀|火速|马上抢|立即抢|欲购从速|机不可失|不容错过|千万别错过|抓紧时间"
    + _LAST_UNITS
)

_ORIGINAL_PRICE = re.compile(r"原价\s*[:：]?\s*[¥￥]?\s*\d+(?:\.\d+)?\s*(?:元|块)?\s*[，,、；;/ ]?")

_PRICE_WORDS = re.compile(
    r"跳楼(?:价|大甩卖)?|亏本(?:甩卖|价|清仓|大甩卖|处理)?|赔本|血亏|挥泪(?:大)?(?:甩卖|清仓)|大甩卖|甩卖"
    r"|骨折价|白菜价|成本价|出厂价|批发价|厂价直销|零利润|不赚钱|倒贴|史低|价格屠夫|跳水价|地板价"
)

# "Lowest price" is both an absolute term and a price claim nobody can prove.
_LOWEST_PRICE = re.compile(r"(?:全网|全国|全市|全城|市场|历史|同行)最低(?:价|价格)?|最低价格?|(?:全网|全国|全市|全城|市场|同行)?最便宜")

_PRICE_WORD_MAP = {
    "跳楼价": "优惠价", "骨折价": "优惠价", "白菜价": "实惠价", "跳水价": "优惠价", "地板价": "优惠价",
    "亏本甩卖": "特惠", "亏本价": "优惠价", "亏本清仓": "清仓特惠", "亏本大甩卖": "特惠", "亏本处理": "特惠",
    "大甩卖": "特惠", "甩卖": "特惠", "挥泪甩卖": "特惠", "挥泪清仓": "清仓特惠", "挥泪大甩卖": "特惠",
    "全网最低价": "实惠价格", "全国最低价": "实惠价格", "全网最低": "实惠", "全国最低": "实惠",
    "最便宜": "实惠", "全城最便宜": "实惠", "全网最便宜": "实惠", "全城最低价": "实惠价格", "同行最低价": "实惠价格", "全市最低价": "实惠价格",
    "市场最低价": "实惠价格", "历史最低价": "优惠价格", "最低价": "实惠价格", "最低价格": "实惠价格",
    "成本价": "优惠价", "出厂价": "优惠价", "批发价": "优惠价", "厂价直销": "源头直供", "史低": "优惠",
}

# Selling vocabulary: lawful on its own, a push-ad signal when stacked with prices, calls to
# action and contact details. Grouped by what is being sold so that the common unsolicited
# offers (housing, loans, certificates, courses, clinics) count as selling, not just 优惠.
PROMO_TERMS = re.compile(
    # discounts, gifts and prizes
    r"优惠|特价|特惠|钜惠|巨惠|折扣|(?<!\d)\d+(?:\.\d)?\s*折|[" + CN_NUM + r"]折|低至|直降|大降价|降价|减价|让利|满\s*\d+\s*减|立减|返现|返利"
    r"|红包|代金券|优惠券|现金券|抵用券|免单|免费(?:领|送|试|体验|下载|办理|品尝|赠送|拿|得|参加|参与)|赠送|赠品|好礼|豪礼|大礼|送礼|买[一\d]送[一\d]"
    r"|抽奖|大奖|中奖|奖品|礼品|惊喜|积分(?:兑换|翻倍|\d倍)|礼包"
    # campaigns and retail
    r"|狂欢|促销|热卖|热销|团购|大促|福利|回馈|店庆|周年庆|开业|新品|上新|到货|全场|清仓|特卖|专柜|品牌团"
    r"|超值|实惠|划算|性价比|包邮|尊享|独享|专享"
    # stated prices
    r"|(?:仅|只)(?:需|售|要|卖)\s*[¥￥]?\d|[¥￥]\s*\d|(?<!\d)\d+(?:\.\d+)?\s*(?:元|块)\s*(?:/\S{1,2})?\s*起|(?<!\d)\d+(?:\.\d+)?\s*万\s*元?\s*起"
    r"|总价|单价|首付|起售|售价|价值\s*\d+\s*元|再减|减\s*\d+\s*元"
    # housing, certificates, courses, personal services, franchising
    r"|楼盘|户型|(?<!\d)\d+\s*(?:平米|平方米|㎡)|精装|样板(?:间|房)|现房|期房|开盘|认购|认筹|排卡|加推|洋房|别墅|公寓|商铺|铺面|写字楼"
    r"|学区房|不限购|不限贷|看房|购房|置业|楼王"
    r"|办证|代办|学历|职称|文凭|刻章|发票|税票|培训|招生|试听|开班|辅导班|补习|学费|报名"
    r"|养生|会所|美容|整形|医美|足浴|按摩|加盟|招商加盟"
)

# What an offer gives the customer (a discount, a gift, a prize, a price): the thing a deadline or
# a condition in the same message is about. Narrower than PROMO_TERMS, where 到货 or 新品 sell too.
BENEFIT = re.compile(
    r"优惠|特价|特惠|钜惠|折扣|(?<!\d)\d+(?:\.\d)?\s*折|[" + CN_NUM + r"]折|低至|直降|降价|减价|让利|满\s*\d+\s*减|立减|返现|返利"
    r"|红包|代金券|优惠券|现金券|抵用券|免单|免费|赠|送|领取?|抽奖|奖品|礼品|礼包|积分|包邮|半价|秒杀"
    # From a number's first digit only (the lookbehind): tried from every digit of a long run it is quadratic.
    r"|[¥￥]\s*\d|(?<![\d.])\d+(?:\.\d+)?\s*(?:元|块)|(?:特|优惠|会员|折后|到手|活动|现|低|惠|团购|秒杀)价"
)

# A clause that only states the terms of an offer (until when, for whom, how to claim it). Cut the
# offer and such a clause refers to nothing: 「转发集赞送试饮装，3月20日前有效」 must not become
# 「3月20日前有效」 under whatever is left.
OFFER_TERMS = re.compile(
    r"前有效|内有效|止有效|有效期|截[止至]|为止|活动(?:时间|期间|日期|期限)|即日起|(?:每人|每户|每个账号)限"
    r"|限前\s*\d+|先到先得|名额有限|数量有限|售完即止|领完即止|送完即止|凭[^，。；]{0,10}(?:领取|兑换|核销)"
    r"|(?:领取|参与|兑换)(?:方式|规则|条件)|核销|不可叠加|不与其他优惠同享|仅限"
    r"|" + STATED_PERIOD.pattern
)

CALL_TO_ACTION = re.compile(
    r"详询|垂询|咨询|致电|来电|热线|专线|订购电话|欢迎(?:光临|选购|惠顾|来店|到店|莅临|品鉴|参观|订购)|预约|预订|登录|登陆"
    r"|点击(?:链接|进入|领取|查看|下载)?|下载|回复\s*\d+|回\s*[0-9A-Za-z]{1,3}(?![0-9A-Za-z])|扫码|扫描二维码|进店|到店|莅临|立即|马上|速[来抢订购]|抢"
)

URL = re.compile(
    r"(?:https?://|www\.)[^\s，。！？、；）)】]+|(?<![@\w])[a-z0-9][a-z0-9-]{1,30}\.(?:com|cn|net|cc|me|top|vip|shop|xyz|org)(?:/[^\s，。！？、；）)】]*)?",
    re.IGNORECASE,
)
# A bare 7–8 digit run is a landline only when nothing says it is something else: a quantity
# (2500000克, 1500000人次) or a date (20260320) cut from a reply would change what it says.
_NOT_A_LANDLINE = (
    r"(?!(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?!\d))"
)
_UNIT_AFTER = r"(?![\d.]|\s?[元块斤克两件个份盒瓶罐箱包袋饼人次年月日号天吨米%％万亿千百])"
PHONE = re.compile(
    r"(?<!\d)(?:1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}|[48]00[\s-]?\d{3}[\s-]?\d{4}|0\d{2,3}[\s-]?\d{7,8}"
    r"|" + _NOT_A_LANDLINE + r"\d{7,8}(?=[^\d]*$)" + _UNIT_AFTER + r")(?!\d)"
)
CONTACT_ID = re.compile(
    r"(?:加|添加|\+)\s*(?:V|v|VX|vx|wx|WX|微信|薇信|威信|V信|v信|微|扣扣|QQ|qq|Q|q)(?:号)?\s*[:：]?\s*[A-Za-z0-9_-]{0,20}"
    r"|(?:微信号|VX|vx|wx|WX|薇信|威信|V信|QQ群?|qq群?)\s*[:：]\s*[A-Za-z0-9_-]{4,20}"
)

EXCLAIM_RUN = re.compile(r"[!！]{2,}|[?？]{2,}|[~～]{3,}|[.。]{4,}")
# Emoji are counted per run: a few are friendly, a flood is spam form.
EMOJI_RUN = re.compile(r"[\U0001F300-\U0001FAFF\u2600-\u27BF\uE000-\uF8FF\u2B50\u2B55\u203C\u2049]{3,}")
EMOJI = re.compile(r"[\U0001F300-\U0001FAFF\u2600-\u27BF\uE000-\uF8FF\u2B50\u2B55]")
SHOUT = re.compile(
    r"(?<![A-Za-z])(?:[A-Z]{2,}(?:\s+[A-Z]{2,})+"
    r"|(?!(?:VIP|SVIP|APP|QQ|WIFI|WiFi|USB|LED|SPA|DIY|CEO|NFC|GPS|LOGO|OK|TD)(?![A-Za-z]))[A-Z]{4,})(?![A-Za-z])"
)

# Signs of a transaction notice or a service reply — exactly the messages the checker must let
# through. They discount soft signals only, never a statutory finding.
TRANSACTIONAL = re.compile(
    r"验证码|校验码|动态码|动态密码|尾号\s*\d{3,4}|余额|(?:支出|消费|存入|转入|收入|入账|扣款|还款|交易)(?:\(消费\))?(?:人民币)?\s*\d"
    r"|账单|已(?:成功|发货|签收|受理|到账|开通|退款|办理|取消)|订单(?:号|编号)?\s*[:：]?\s*\d|物流|快递单号|运单号|取件码?"
    r"|剩余\s*\d|请勿(?:泄露|转告|告诉)|退订|回T退|回复\s*(?:TD|T|N|R|Q)\s*(?:退订|拒收)|拒收请回复|如非本人操作"
    r"|您的(?:订单|包裹|快递|预约|账户|话费)|感谢您的(?:咨询|购买|反馈|耐心)"
)

# Marks of a message that serves the customer (an answer, a notice about their order or
# account). One-to-one messages without any of these are pushes, not service.
SERVICE_CONTEXT = re.compile(
    TRANSACTIONAL.pattern
    + r"|您(?:好|的)?[^，。]{0,6}(?:咨询|询问|问的|反馈|预约|订单|包裹|申请|办理|查询|定制|账户|套餐)"
    r"|已为您|为您(?:查询|办理|预留|安排|服务)|如有(?:疑问|问题)|请(?:您)?(?:查收|确认|凭|妥善)|提醒您"
    r"|特此(?:通知|提醒)|仅供参考"
)

RULES: tuple[Rule, ...] = (
    Rule(
        "absolute.superlative", "absolute", "high", _SUPERLATIVE,
        reason="“最”字头的绝对化用语，广告中禁止使用（法定消费提示如“最佳赏味期”除外）。",
        basis=AD_LAW_9_3,
        suggestion="改成不含比较的描述，如“很好”“口感出众”，或说清具体事实（产地、工艺、等级）。",
        fix="replace", replacement=_table(_SUPERLATIVE_MAP, "很"), exempt=_advice,
    ),
    Rule(
        "absolute.word", "absolute", "high", _ABSOLUTE_WORDS,
        reason="“国家级”“顶级”“唯一”等与“最高级、最佳”含义相同的用语，属于绝对化用语。",
        basis=AD_LAW_9_3,
        suggestion="删去或改为可证明的具体事实，如“核心产区原料”“手工采摘”。",
        fix="replace", replacement=_table(_ABSOLUTE_WORD_MAP, ""),
    ),
    Rule(
        "absolute.first", "absolute", "high", _FIRST,
        reason="“第一”“NO.1”作排名使用且未注明时间范围与数据来源，属于绝对化用语。",
        basis=AD_LAW_9_3,
        suggestion="删除排名，或写明年份、范围和来源，如“2024年天猫茶叶类目销量第一（数据来源：…）”。",
        fix="replace", replacement="领先", exempt=_sourced,
    ),
    Rule(
        "state.name", "state_name", "high", _STATE_NAME,
        reason="使用国家机关、国家机关工作人员的名义或暗示特供，广告中禁止。",
        basis="广告法第九条第二项",
        suggestion="删除“特供”“专供”等字样，只介绍商品本身。",
        fix="replace", replacement="",
    ),
    Rule(
        "medical.claim", "medical", "high", _MEDICAL,
        reason="普通商品（如茶叶、食品、服装）的广告不得涉及疾病治疗或保健功能，不得使用医疗用语。",
        basis=AD_LAW_17, basis_weibo=AD_LAW_17,
        suggestion="删去功效说法，改写口感、产地、冲泡方法等事实。",
        fix="drop_clause",
    ),
    Rule(
        "false.guarantee", "false_claim", "high", _FALSE_CLAIM,
        reason="无法证明的效果保证或虚假中奖提示，构成虚假或引人误解的广告。",
        basis=AD_LAW_28,
        suggestion="删除保证性说法，只陈述可以证明的事实；售后承诺请写清条件。",
        fix="drop_clause",
    ),
    Rule(
        "risky.invest", "risky_offer", "high", _INVEST,
        reason="对投资收益作保证性承诺或暗示“稳赚”，金融投资类广告禁止。",
        basis="广告法第二十五条",
        suggestion="删除收益承诺，须提示“投资有风险”，并确认自身具备相应资质。",
        fix="drop_clause",
    ),
    Rule(
        "risky.education", "risky_offer", "high", _EDU_GUARANTEE,
        reason="教育、培训广告不得对升学、通过考试或学习效果作出保证。",
        basis="广告法第二十四条",
        suggestion="删除“包过”“保过”等承诺，介绍课程内容与师资即可。",
        fix="drop_clause",
    ),
    Rule(
        "risky.real_estate", "risky_offer", "high", _REAL_ESTATE_RETURN,
        reason="房地产广告不得作升值或者投资回报的承诺。",
        basis="广告法第二十六条",
        suggestion="删除升值、收益说法，如实介绍房屋本身。",
        fix="drop_clause",
    ),
    Rule(
        "risky.invoice", "risky_offer", "high", _INVOICE,
        reason="代开发票属于违法行为，相关推销信息是典型的违法骚扰信息。",
        basis="发票管理办法（禁止虚开、代开发票）",
        suggestion="不要发送此类内容。",
        fix="drop_clause",
    ),
    Rule(
        "risky.gambling", "risky_offer", "high", _GAMBLING_SUPERSTITION,
        reason="广告不得含有赌博、迷信内容。",
        basis="广告法第九条第八项",
        suggestion="删除相关内容。",
        fix="drop_clause",
    ),
    Rule(
        "risky.loan", "risky_offer", "medium", _LOAN,
        reason="贷款推销用语（无抵押、秒批、当天放款）隐去了利率和条件，是常见的骚扰营销。",
        basis="广告法第八条（条件须准确、清楚、明白）",
        suggestion="如确有信贷业务，须写明利率、费用和资质，只发给主动咨询的客户。",
        fix="drop_clause", soft=True,
    ),
    Rule(
        "data.unsourced", "unsourced_data", "medium", _UNSOURCED,
        reason="使用数据、统计或推荐背书，但没有写明出处和时间范围。",
        basis=AD_LAW_11,
        suggestion="写明数据来源和统计时间，如“（2024年店铺后台数据）”，或删去这句。",
        fix="drop_clause", exempt=_sourced,
    ),
    Rule(
        "induce.share", "inducement", "high", _INDUCE_SHARE,
        reason="以奖励诱导用户转发、分享、集赞或邀请好友，平台明令禁止，会被封禁链接或账号。",
        basis=WECHAT_INDUCE_SHARE,
        basis_weibo=WEIBO_MARKETING + "（有奖转发须使用微博抽奖平台并公示规则）",
        suggestion="去掉“转发/集赞/砍一刀/分享给好友”等条件，直接说明活动内容，欢迎自愿分享。",
        fix="drop_clause",
    ),
    Rule(
        "induce.follow", "inducement", "high", _INDUCE_FOLLOW,
        reason="以“关注后才能领取/查看”诱导关注，平台明令禁止。",
        basis=WECHAT_INDUCE_FOLLOW,
        basis_weibo=WEIBO_MARKETING,
        suggestion="不要把关注设为领取或查看的条件，可以写“欢迎关注，及时获取上新消息”。",
        fix="drop_clause",
    ),
    Rule(
        "urgency.deadline", "urgency", "low", _PERIOD_URGENCY,
        reason="“限时”“最后一天”等期限说法，却没有写明活动起止时间。",
        basis=PROMO_RULES,
        suggestion="写明活动时间，如“活动时间：11月1日至11月11日”，去掉催促字眼。",
        fix="drop", exempt=_period_stated, soft=True,
    ),
    Rule(
        "urgency.pressure", "urgency", "low", _PRESSURE,
        reason="“仅剩”“手慢无”“秒杀”等稀缺施压用语，容易被视为诱导性营销，堆叠使用更明显。",
        basis="广告法第四条（不得引人误解）；微信公众平台运营规范",
        basis_weibo="广告法第四条（不得引人误解）；" + WEIBO_MARKETING,
        suggestion="删去催促字眼，如实说明库存或活动时间即可。",
        fix="drop", soft=True,
    ),
    Rule(
        "price.original", "price", "medium", _ORIGINAL_PRICE,
        reason="标“原价”却没有说明依据；原价应为促销前七日内最低成交价，虚构原价属价格欺诈。",
        basis=PRICE_FRAUD,
        suggestion="删去原价，只写现价；或注明“原价为活动前7日内最低成交价”。",
        fix="drop", exempt=_price_basis_stated,
    ),
    Rule(
        "price.fraud_words", "price", "medium", _PRICE_WORDS,
        reason="“跳楼价”“亏本甩卖”“全网最低价”等说法没有依据，属价格欺诈风险用语。",
        basis=PRICE_FRAUD,
        basis_weibo=PRICE_FRAUD,
        suggestion="改为“优惠价”“实惠价格”，并写明具体价格和活动时间。",
        fix="replace", replacement=_table(_PRICE_WORD_MAP, "优惠价"),
    ),
    Rule(
        "price.lowest", "price", "high", _LOWEST_PRICE,
        reason="“全网最低价”“最便宜”既是绝对化用语，也是无法证明的价格比较，属价格欺诈风险。",
        basis=AD_LAW_9_3 + "；" + PRICE_FRAUD,
        suggestion="改为“实惠价格”，写明具体价格和活动时间。",
        fix="replace", replacement=_table(_PRICE_WORD_MAP, "实惠价格"),
    ),
    Rule(
        "contact.id", "contact", "medium", CONTACT_ID,
        reason="正文中“加V/加微信/QQ号”是站外导流，平台会限流或处罚。",
        basis="微信公众平台运营规范（不得导流至第三方）",
        basis_weibo=WEIBO_MARKETING + "（站外导流）",
        suggestion="删去个人账号，引导客户在公众号/微博私信里咨询。",
        fix="drop", soft=True,
    ),
    Rule(
        "contact.phone", "contact", "low", PHONE,
        reason="推送正文带电话号码，是骚扰营销的常见特征。",
        basis="广告法第四十三条（电子信息广告须经同意并可拒收）",
        suggestion="服务通知可保留客服电话；营销推送建议删去号码，让客户在对话里咨询。",
        fix="drop_if_needed", soft=True,
    ),
    Rule(
        "contact.url", "contact", "low", URL,
        reason="推送正文带外部链接，是骚扰营销的常见特征，外链内容也须合规。",
        basis="互联网广告管理办法第十八条",
        suggestion="用公众号文章或小程序页面代替外链，或只保留一个必要链接。",
        fix="drop_if_needed", soft=True,
    ),
    Rule(
        "form.exclaim", "spam_form", "low", EXCLAIM_RUN,
        reason="连续的感叹号、问号或省略号，让信息显得在喊叫。",
        basis="平台营销内容规范（骚扰式排版）",
        suggestion="每句最多一个感叹号。",
        fix="replace", replacement=lambda s: s[0] if s[0] in "!！?？" else s[:1] if s[0] in "~～" else "…",
        soft=True,
    ),
    Rule(
        "form.emoji", "spam_form", "low", EMOJI_RUN,
        reason="连串表情符号刷屏，像群发广告。",
        basis="平台营销内容规范（骚扰式排版）",
        suggestion="全文保留一两个表情即可。",
        fix="replace", replacement=lambda s: s[0], soft=True,
    ),
    Rule(
        "form.shout", "spam_form", "low", SHOUT,
        reason="连续大写英文字母显得在喊叫。",
        basis="平台营销内容规范（骚扰式排版）",
        suggestion="改用中文或正常大小写。",
        fix="replace", replacement=lambda s: s.capitalize(), soft=True,
    ),
)

# Rules that are not a regex over the text but a property of it; they live in checker.py and
# use these descriptions.
STACKING = Rule(
    "promotion.stacking", "promotion", "medium", PROMO_TERMS,
    reason="优惠、抽奖、引导下单、联系方式等营销元素堆叠在一条消息里，读起来像骚扰营销。",
    basis="广告法第四十三条；互联网广告管理办法第十七条",
    suggestion="一条消息只讲一件事：写清商品、价格和活动时间，删去多余的促销字眼和联系方式。",
    fix="keep", soft=True,
)
# Urgency cues stacked in one breath (「最后3小时！错过再等一年」「限时秒杀，仅剩3件，手慢无」): each cue
# alone is everyday copy; packed together, and shouted, they are the countdown pressure the rules
# on misleading and harassing marketing aim at. Found by the checker from the cues' positions.
URGENCY_STACKING = Rule(
    "urgency.stacking", "urgency", "high", _PRESSURE,
    reason="一句话里堆叠多个催促、倒计时或稀缺说法（再加感叹号），是制造焦虑的施压式营销。",
    basis="广告法第四条（不得引人误解）；" + PROMO_RULES,
    basis_weibo="广告法第四条（不得引人误解）；" + WEIBO_MARKETING,
    suggestion="最多保留一个如实的期限（写明起止时间）或库存说明，删去其余催促字眼和感叹号。",
    fix="keep", soft=True,
)
MANY_LINKS = Rule(
    "form.links", "spam_form", "medium", URL,
    reason="一条消息里有多个链接，是垃圾信息的典型形式。",
    basis="互联网广告管理办法第十八条",
    suggestion="只保留一个必要链接。",
    fix="drop_if_needed", soft=True,
)
EMOJI_FLOOD = Rule(
    "form.emoji_count", "spam_form", "medium", EMOJI,
    reason="全文表情符号过多，像群发广告。",
    basis="平台营销内容规范（骚扰式排版）",
    suggestion="全文保留一两个表情即可。",
    fix="drop_if_needed", soft=True,
)
CHANNEL_TEMPLATE = Rule(
    "channel.template", "channel", "high", PROMO_TERMS,
    reason="模板消息只能发送重要服务通知，不支持广告等营销类内容，违规会被删除模板乃至封禁接口。",
    basis="微信公众平台模板消息运营规范",
    suggestion="把促销内容改用群发消息发送；模板消息只写订单、物流、预约等服务信息。",
    fix="drop_clause",
)
CHANNEL_CUSTOMER_SERVICE = Rule(
    "channel.customer_service", "channel", "high", PROMO_TERMS,
    reason="客服消息用于回复客户咨询，不能借机主动推送营销内容；在即时通讯消息中附加广告也被禁止。",
    basis="微信客服消息接口规则；互联网广告管理办法第十七条第二款",
    suggestion="只回答客户的问题；促销信息请通过群发消息发送给已关注的客户。",
    fix="drop_clause",
)
CHANNEL_WEIBO_DM = Rule(
    "channel.weibo_dm", "channel", "medium", PROMO_TERMS,
    reason="通过私信向用户发送营销信息，被举报会扣信用分、删除内容。",
    basis=WEIBO_MARKETING + "（私信营销）",
    suggestion="私信只回复客户的问题；活动信息请发在微博正文。",
    fix="drop_clause",
)
CHANNEL_UNRELATED_PROMOTION = Rule(
    "channel.unrelated_promotion", "channel", "high", PROMO_TERMS,
    reason="客服消息和私信只用来回应客户最近的咨询；这条消息只在推销，和客户最近问的事无关，等于借客服通道发广告。",
    basis="微信客服消息接口规则（仅用于回复48小时内发过消息的用户）；互联网广告管理办法第十七条第二款",
    basis_weibo=WEIBO_MARKETING + "（私信营销）；广告法第四十三条",
    suggestion="先回应客户问过的事（他问的商品、订单或问题）；和它无关的活动请改用公众号群发图文、朋友圈或微博正文。",
    fix="drop_clause",
)
# 「您上次问的…」「谢谢您的咨询」: a claim that the customer asked, which only the conversation can
# back. Checked against what they wrote, it is no service mark by itself.
ASKED_CLAIM = re.compile(
    r"(?:谢谢|感谢)您(?:的|上次的|之前的)?(?:咨询|询问|反馈|留言)"
    r"|您(?:好|的)?[^，。]{0,6}(?:咨询|询问|问的|问过|问到|反馈|关心的|关注的)"
)
# An opt-out line is what a marketing message must carry (广告法第四十三条), not a sign of service.
OPT_OUT = re.compile(r"退订|回T退|回复\s*(?:TD|T|N|R|Q)\s*(?:退订|拒收)|拒收请回复|不再接收|不想再?收到")
CHANNEL_ONE_TO_ONE_LINK = Rule(
    "channel.unsolicited_link", "channel", "high", URL,
    reason="一对一消息里没有服务内容（答复、订单、预约等），却附带链接、电话或账号引导对方，属于未经请求的推送。",
    basis="广告法第四十三条；互联网广告管理办法第十七条第二款",
    basis_weibo=WEIBO_MARKETING + "（私信营销）；广告法第四十三条",
    suggestion="一对一消息只用来回答客户的问题；要推送内容，请发到公众号或微博正文。",
    fix="drop",
)
