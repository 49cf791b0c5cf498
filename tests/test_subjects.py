from bot.knowledge.entries import Hit
from bot.policy.evaluate import evaluate
from bot.policy.subjects import swapped_subject
from bot.knowledge.lexical import LexicalDoc, LexicalIndex

ENTRIES = {
    "longjing": ("龙井的保质期多久？", "密封冷藏保质期 18 个月，开封后 1 个月内喝完。", ["龙井能放多久"]),
    "white": ("白茶适合什么人喝？", "白茶性凉，适合体质偏热的朋友。", ["白茶谁能喝"]),
    "puer": ("普洱茶饼怎么保存？", "放在通风、干燥、无异味的地方。", ["普洱放哪里好"]),
    "damp": ("收到的茶叶受潮或破损怎么办？", "签收后 48 小时内拍照联系客服。", ["茶叶坏了"]),
}


def _index() -> LexicalIndex:
    docs = [LexicalDoc(eid, text, f"{eid}:{n}") for eid, (q, _, similar) in ENTRIES.items() for n, text in enumerate([q, *similar])]
    entries = {eid: {"question": q, "answer": a} for eid, (q, a, _) in ENTRIES.items()}
    return LexicalIndex(docs, entries)


def _swapped(query: str, entry: str) -> tuple[str, str] | None:
    question, answer, similar = ENTRIES[entry]
    return swapped_subject(query, question, [question, *similar, answer], _index())


def test_the_same_question_about_another_product_is_not_answered_by_this_entry() -> None:
    assert _swapped("白茶的保质期是多久", "longjing") == ("白茶", "龙井")
    assert _swapped("普洱能放多久", "longjing")
    assert _swapped("姐妹们 白茶开封后能放多久", "longjing")  # whom they address is not the subject
    assert _swapped("你们的白茶保质期是多久", "longjing")
    assert _swapped("上次买的白茶能放几年", "longjing")
    assert _swapped("新白茶没拆的话保质期多长", "longjing")  # a word before a product an entry is about


def test_the_entry_s_own_subject_a_kind_of_it_or_a_thing_no_entry_is_about_pass() -> None:
    assert _swapped("龙井开封了能放多久", "longjing") is None
    assert _swapped("白茶收到一股潮味，是受潮了吗", "damp") is None  # 白茶 is a kind of 茶叶
    assert _swapped("红茶的保质期多久", "longjing") is None  # no entry is about 红茶: the model decides
    # An after-sales entry serves whatever was bought: 龙井 shares no character with 茶叶.
    assert _swapped("收到的龙井有点受潮，怎么处理", "damp") is None


def test_a_service_is_not_a_product() -> None:
    entries = {"track": ("怎么查物流？", "在「我的订单」里点开订单即可看到快递单号。", ["物流信息在哪看"])}
    docs = [LexicalDoc("track", t, f"track:{n}") for n, t in enumerate(["怎么查物流？", "物流信息在哪看"])]
    lexical = LexicalIndex(docs + [LexicalDoc(e, q, f"{e}:0") for e, (q, _, _) in ENTRIES.items()],
                           {**{e: {"question": q, "answer": a} for e, (q, a, _) in ENTRIES.items()},
                            "track": {"question": "怎么查物流？", "answer": entries["track"][1]}})
    question, answer, similar = entries["track"]
    assert swapped_subject("上周买的龙井，快递单号在哪看", question, [question, *similar, answer], lexical) is None


def test_the_evaluator_names_the_subject_rule_and_the_words_it_fired_on() -> None:
    question, answer, _ = ENTRIES["longjing"]
    hit = evaluate("你们的白茶保质期是多久", Hit(id="longjing", question=question, answer=answer, source="x", score=1.0), _index())
    assert hit.rule == "swapped_subject" and hit.text == "白茶"
    assert hit.reason == "顾客问的是「白茶」，匹配到的条目讲的是「龙井」"
