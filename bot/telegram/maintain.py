"""Maintaining the knowledge: /kb, /reindex, uploading a knowledge file, /candidates, /gaps."""

from __future__ import annotations

import html
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.errors import DianxiaoerError, KnowledgeFileError
from bot.knowledge.readers import SUPPORTED_SUFFIXES, is_knowledge_file, iter_knowledge_files, read_file
from bot.knowledge.sync import SyncReport
from bot.memory import crud, faq_candidates
from bot.memory.gaps import cluster_questions
from bot.memory.models import Draft
from bot.telegram.cards import candidate_keyboard, clip
from bot.telegram.common import (actor, allowed, blocking, edit_quietly, pressed, requires, services, session, topic,
                                 typing)

# Telegram bots may download files up to 20 MB; a FAQ file is far smaller.
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
UPLOAD_SUFFIXES = {".csv", ".tsv", ".xlsx", ".md", ".txt", ".json", ".jsonl"} & SUPPORTED_SUFFIXES
SHOWN_ERRORS = 5
SHOWN_LINE = 300
SHOWN_CANDIDATES = 10
# A candidate decided on another /candidates list: (what was done, the card's status).
CANDIDATE_DONE = {"accepted": ("采纳入库", " · ✅ 已采纳"), "dismissed": ("忽略", " · 🗑 已忽略")}


def report_text(report: SyncReport) -> str:
    lines = [
        f"已同步：{report.files} 个文件 · 新增 {len(report.added)} · 更新 {len(report.updated)} · "
        f"删除 {len(report.removed)} · 未变 {report.unchanged} · 错误 {len(report.errors)}"
    ]
    if report.kept_despite_errors:
        lines.append(f"因文件有错误，保留了 {report.kept_despite_errors} 条已同步的旧条目。")
    # Clipped: a warning may quote a whole answer, and the report must stay one message.
    lines += [f"❗ {html.escape(clip(str(e), SHOWN_LINE))}" for e in report.errors[:SHOWN_ERRORS]]
    lines += [f"⚠️ {html.escape(clip(w, SHOWN_LINE))}" for w in report.warnings[:SHOWN_ERRORS]]
    hidden = max(0, len(report.errors) - SHOWN_ERRORS) + max(0, len(report.warnings) - SHOWN_ERRORS)
    if hidden:
        lines.append(f"…另有 {hidden} 条错误或提醒，完整列表见 dianxiaoer index")
    return "\n".join(lines)


def _last_index_update(context: ContextTypes.DEFAULT_TYPE) -> str:
    """When the index was last synced: the sync's own record when this version keeps one, else
    when the lexical index was last written, or a sync this process ran."""
    kb = services(context).knowledge
    stamps: list[float] = []
    state_path = getattr(kb, "_state_path", None)
    if state_path is not None:
        try:
            from bot.knowledge.freshness import SyncState

            state = SyncState.read(state_path)
            if state is not None:
                stamps.append(datetime.fromisoformat(state.finished_at).timestamp())
        except (ImportError, ValueError):
            pass
    folder = getattr(kb, "_lexical_dir", None)
    if not stamps and folder is not None and folder.is_dir():
        stamps += [p.stat().st_mtime for p in folder.iterdir()]
    recorded = context.application.bot_data.get("last_sync")
    if recorded is not None:
        stamps.append(recorded.timestamp())
    if not stamps:
        return "尚未同步"
    return datetime.fromtimestamp(max(stamps), UTC).astimezone().strftime("%Y-%m-%d %H:%M")


@requires("knowledge")
async def kb(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    knowledge = services(context).knowledge
    root = services(context).settings.knowledge_dir
    files = await blocking(lambda: list(iter_knowledge_files(root)) if root.is_dir() else [])
    count = await blocking(knowledge.entry_count)
    names = "、".join(html.escape(p.relative_to(root).as_posix()) for p in files[:10])
    more = f" 等 {len(files)} 个" if len(files) > 10 else ""
    await update.effective_message.reply_text(
        f"📚 知识库：{count} 条，{len(files)} 个文件（{names}{more}）\n最近一次索引更新：{_last_index_update(context)}"
    )


async def _sync(context: ContextTypes.DEFAULT_TYPE) -> SyncReport:
    report = await blocking(services(context).knowledge.sync)
    context.application.bot_data["last_sync"] = datetime.now(UTC)
    return report


@requires("knowledge")
async def reindex(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    assert msg is not None
    async with typing(context, msg.chat_id, topic(msg)):
        report = await _sync(context)
    await msg.reply_text(report_text(report))


async def document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A knowledge file sent as a document: check it, save it into the folder, sync.

    The file is read in a scratch folder first; if any row is bad it is refused with the reasons
    and the knowledge folder is not touched.
    """
    msg = update.effective_message
    assert msg is not None and msg.document is not None
    if not _for_the_bot(msg, context.bot.username):
        return  # a file staff share among themselves in the group: neither refused nor imported
    if not await allowed(update, context, "knowledge"):
        return
    name = Path(msg.document.file_name or "").name
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES or not is_knowledge_file(Path(name)):
        kinds = "、".join(sorted(s.lstrip(".") for s in UPLOAD_SUFFIXES))
        raise DianxiaoerError(f"不能导入「{name or '无名文件'}」：知识库文件应为 {kinds}（文件名不能以 . 或 _ 开头，也不能叫 README）")
    if (msg.document.file_size or 0) > MAX_UPLOAD_BYTES:
        raise DianxiaoerError(f"「{name}」超过 {MAX_UPLOAD_BYTES // 1024 // 1024} MB，请拆分后再发")
    root = services(context).settings.knowledge_dir
    async with typing(context, msg.chat_id, topic(msg)):
        telegram_file = await msg.document.get_file()
        with tempfile.TemporaryDirectory(prefix="upload-") as scratch:
            staged = Path(scratch) / name
            await telegram_file.download_to_drive(staged)
            if staged.stat().st_size > MAX_UPLOAD_BYTES:
                raise DianxiaoerError(f"「{name}」超过 {MAX_UPLOAD_BYTES // 1024 // 1024} MB，请拆分后再发")
            reasons = await blocking(_problems, staged, Path(scratch))
            if reasons:
                shown = "\n".join(f"❗ {html.escape(clip(r, SHOWN_LINE))}" for r in reasons[:SHOWN_ERRORS])
                await msg.reply_text(f"「{html.escape(name)}」没有导入，知识库未改动：\n{shown}")
                return
            root.mkdir(parents=True, exist_ok=True)
            # Copy next to the target, then rename over it: the folder never holds half a file.
            target = root / name
            fd, partial = tempfile.mkstemp(dir=root, prefix=".upload-", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(staged.read_bytes())
                os.replace(partial, target)
            except BaseException:
                Path(partial).unlink(missing_ok=True)
                raise
        report = await _sync(context)
    await msg.reply_text(f"已导入「{html.escape(name)}」。\n" + report_text(report))


def _for_the_bot(msg: Message, bot_username: str) -> bool:
    """A document is for the bot in a private chat; in a group, when its caption @mentions the bot
    or it replies to the bot (as the text handler reads group messages)."""
    if msg.chat.type == ChatType.PRIVATE:
        return True
    if (msg.caption or "").strip().lower().startswith(f"@{bot_username}".lower()):
        return True
    replied = msg.reply_to_message
    return replied is not None and replied.from_user is not None and replied.from_user.username == bot_username


def _problems(path: Path, root: Path) -> list[str]:
    """Why this file must not go into the knowledge folder (empty: it may)."""
    try:
        read = read_file(path, root)
    except KnowledgeFileError as exc:
        return [str(exc)]
    except Exception as exc:  # a damaged file of any kind is refused, never half-imported
        return [f"{path.name}: 无法读取（{type(exc).__name__}）"]
    if read.errors:
        return [str(e) for e in read.errors]
    return [] if read.entries else [f"{path.name}: 文件里没有读到任何问答或段落"]


@requires("knowledge")
async def candidates(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    assert msg is not None
    with session(context) as db:
        pending = faq_candidates.list_candidates(session=db, limit=SHOWN_CANDIDATES)
        total = faq_candidates.count_candidates(session=db)
    if not pending:
        await msg.reply_text("没有待处理的 FAQ 候选。")
        return
    shown = f"，先列出最早的 {len(pending)} 条；处理后再发 /candidates 看下一批" if total > len(pending) else ""
    await msg.reply_text(f"{total} 条待处理的 FAQ 候选（店员修改过的答案）{shown}：")
    for candidate in pending:
        assert candidate.id is not None
        await msg.reply_text(_candidate_text(candidate, replaced=_cited(context, candidate),
                                             written=_written(context, candidate)),
                             reply_markup=candidate_keyboard(candidate.id))


def _written(context: ContextTypes.DEFAULT_TYPE, candidate: faq_candidates.FaqCandidate) -> str:
    """What accepting writes as the question, or why it cannot, when that is not the message as
    staff pasted it (a long paste is cut to the clause the cited entry matches)."""
    try:
        question = faq_candidates.question_to_write(candidate, matched=_matched(context, candidate))
    except DianxiaoerError as exc:
        return f"⚠️ {exc}"
    return "" if question == candidate.question.strip() else question


def _candidate_text(candidate: faq_candidates.FaqCandidate, status: str = "",
                    replaced: list[tuple[str, str, str]] = (), written: str = "") -> str:
    """`replaced`: (question, source, answer) of the entries the draft had cited, so the maintainer
    sees which answer staff found wrong, and in which file it still stands. `written`: the
    question accepting would write, when it is not the customer's message (or why it cannot)."""
    head = f"💡 <b>候选 #{candidate.id}</b>{status}"
    if written.startswith("⚠️"):
        asked = [f"<b>客户原话：</b>{html.escape(clip(candidate.question, 300))}", html.escape(written)]
    elif written:
        asked = [f"<b>问：</b>{html.escape(written)}",
                 f"<i>（取自客户的 {len(candidate.question)} 字原话：{html.escape(clip(candidate.question, 120))}）</i>"]
    else:
        asked = [f"<b>问：</b>{html.escape(clip(candidate.question, 500))}"]
    lines = [head, *asked, f"<b>答：</b>{html.escape(clip(candidate.answer, 2000))}"]
    for question, source, answer in replaced[:2]:
        lines.append(f"<b>改写前依据：</b>{html.escape(clip(question, 100))} — <i>{html.escape(source)}</i>"
                     f"\n  原答案：{html.escape(clip(answer, 300))}")
    lines.append(f"<i>提出：{html.escape(candidate.proposed_by)}</i>")
    return "\n".join(lines)


def _cited_ids(context: ContextTypes.DEFAULT_TYPE, candidate: faq_candidates.FaqCandidate) -> list[str]:
    if candidate.draft_id is None:
        return []
    with session(context) as db:
        draft = db.get(Draft, candidate.draft_id)
        return list(draft.cited_entry_ids) if draft is not None else []


def _matched(context: ContextTypes.DEFAULT_TYPE, candidate: faq_candidates.FaqCandidate) -> list[str]:
    """The cited entries' phrasings: what retrieval matched in the customer's message."""
    phrasings = services(context).knowledge.lexical.phrasings
    return [p for i in _cited_ids(context, candidate) for p in phrasings.get(i, [])]


def _cited(context: ContextTypes.DEFAULT_TYPE, candidate: faq_candidates.FaqCandidate) -> list[tuple[str, str, str]]:
    ids = _cited_ids(context, candidate)
    entries = services(context).knowledge.lexical.entries
    return [(str(entries[i].get("question", "")), str(entries[i].get("source", "")), str(entries[i].get("answer", "")))
            for i in ids if i in entries]


@requires("knowledge")
async def candidate_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if (press := await pressed(update)) is None:
        return
    query, user, action, (candidate_id, *_) = press
    root = services(context).settings.knowledge_dir
    with session(context) as db:
        pending = db.get(faq_candidates.FaqCandidate, candidate_id)
    if pending is not None and pending.status in CANDIDATE_DONE:
        # Decided on another list of /candidates (a colleague's, or an earlier one): say so.
        done, status = CANDIDATE_DONE[pending.status]
        await query.answer(f"候选 #{candidate_id} 已由 {pending.decided_by or '他人'} {done}。")
        await edit_quietly(query.message, _candidate_text(pending, status))  # type: ignore[arg-type]
        return
    matched = _matched(context, pending) if action == "accept_candidate" and pending is not None else []
    with session(context) as db:
        if action == "accept_candidate":
            path = faq_candidates.accept_candidate(session=db, candidate_id=candidate_id, knowledge_dir=root,
                                                   by=actor(user), matched=matched)
        else:
            faq_candidates.dismiss_candidate(session=db, candidate_id=candidate_id, by=actor(user))
        db.commit()
        candidate = db.get(faq_candidates.FaqCandidate, candidate_id)
        assert candidate is not None
    if action == "accept_candidate":
        await query.answer("已采纳，正在同步知识库")
        report = await _sync(context)
        status = f" · ✅ 已写入 {html.escape(path.name)}"
        await edit_quietly(query.message, _candidate_text(candidate, status))  # type: ignore[arg-type]
        card = query.message if isinstance(query.message, Message) else None
        await context.bot.send_message(query.message.chat_id, report_text(report),  # type: ignore[union-attr]
                                       message_thread_id=topic(card) if card is not None else None)
    else:
        await query.answer("已忽略")
        await edit_quietly(query.message, _candidate_text(candidate, " · 🗑 已忽略"))  # type: ignore[arg-type]


@requires("knowledge")
async def gaps(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    assert msg is not None

    def unanswered() -> list[str]:
        with session(context) as db:
            return [q.text for q in crud.list_unanswered(session=db)]

    # Off the event loop: a year of handed-off questions takes a while to read (20,000: 0.5 s).
    texts = await blocking(unanswered)
    if not texts:
        await msg.reply_text("还没有未解答的问题。")
        return
    embedder = services(context).knowledge.embedder
    embed = getattr(embedder, "encode_queries", None)
    async with typing(context, msg.chat_id, topic(msg)):
        clusters = (await blocking(cluster_questions, texts, embed, getattr(embedder, "same_question_cosine", None)))[:15]
    await msg.reply_text(gaps_text(len(texts), clusters))


def gaps_text(total: int, clusters: list[Any]) -> str:
    lines = [f"{total} 个未解答的问题；最常见的 {len(clusters)} 类："]
    for n, cluster in enumerate(clusters, start=1):
        others = [e for e in cluster.examples if e != cluster.representative][:2]
        block = [f"{n}. ×{cluster.count} {html.escape(clip(cluster.representative, 120))}",
                 *(f"    · {html.escape(clip(o, 80))}" for o in others)]
        # Whole clusters only: cutting the text at a character count can split an HTML entity
        # (&amp;), which Telegram refuses to parse.
        if len("\n".join([*lines, *block])) > 4000:
            lines.append(f"…另有 {len(clusters) - n + 1} 类未列出")
            break
        lines += block
    return "\n".join(lines)
