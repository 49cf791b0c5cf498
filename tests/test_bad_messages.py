"""Bad messages at the edge: batch files in any encoding a shop's computer writes, terminal escapes
in pasted copy, secrets in logged URLs, and library debug lines kept off stderr."""

from __future__ import annotations

import json
import logging

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.drafting.llm import make_chat_model
from bot.errors import DianxiaoerError
from bot.logs import RedactSecrets, install_redaction, redact, setup_logging
from bot.textio import printable, read_batch_lines, safe_json

LINES = ["龙井怎么泡", "包邮吗？", "能开发票吗"]


# --- Batch files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encoding,prefix",
    [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("gbk", b""), ("gb18030", b""), ("utf-16", b"")],
)
def test_batch_files_decode_like_knowledge_files(tmp_path, encoding, prefix):
    path = tmp_path / "batch.txt"
    path.write_bytes(prefix + "\r\n".join(LINES).encode(encoding))
    assert read_batch_lines(path) == LINES


def test_damaged_utf8_names_the_line(tmp_path):
    path = tmp_path / "batch.txt"
    good = "\n".join(f"第{i}条：龙井怎么泡，保质期多久" for i in range(1, 40)).encode()
    path.write_bytes(good + "\n坏了".encode() + b"\xff" + "一行\n最后一行".encode())
    with pytest.raises(DianxiaoerError, match=r"batch\.txt:40: 不是有效的 UTF-8"):
        read_batch_lines(path)


def test_binary_file_is_refused_with_its_name(tmp_path):
    path = tmp_path / "photo.txt"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(DianxiaoerError, match="photo.txt"):
        read_batch_lines(path)


@pytest.mark.parametrize("command", ["check", "ask", "search"])
def test_every_batch_command_gives_the_same_clear_error(tmp_path, command):
    path = tmp_path / "batch.txt"
    path.write_bytes(("好的\n" * 30).encode() + b"\xff\xfe\xfd broken\n")
    env = {"DIANXIAOER_DATA_DIR": str(tmp_path / "data"), "DIANXIAOER_KNOWLEDGE_DIR": str(tmp_path / "k")}
    result = CliRunner().invoke(cli, [command, "--batch", str(path)], env=env)
    assert result.exit_code == 1
    assert f"{path}:31: 不是有效的 UTF-8" in result.stderr and "Traceback" not in result.output


def test_check_batch_reads_gbk(tmp_path):
    path = tmp_path / "copy.txt"
    path.write_bytes("全网最低价\n新茶上市\n".encode("gbk"))
    env = {"DIANXIAOER_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(cli, ["check", "--batch", str(path), "--no-model"], env=env)
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["flagged"] and first["findings"][0]["span"]["text"] == "全网最低价"
    assert not second["flagged"]


# --- Terminal escapes in check's output -----------------------------------------------------

HOSTILE_COPY = (
    "\x1b[2J\x1b[31m全网最低价\x1b[0m！\x1b]0;pwned\x07加V:abc123\x1b]8;;http://evil\x1b\\链接\x1b]8;;\x1b\\"
    "\x9b31m\u202e反转\u202c\r覆盖\x08\x00"
)


def test_printable_strips_escapes_and_controls():
    clean = printable(HOSTILE_COPY)
    assert clean == "全网最低价！加V:abc123链接反转覆盖"
    assert printable("第一行\n\t第二行") == "第一行\n\t第二行"
    assert printable("普通文本 ok") == "普通文本 ok"


def test_check_report_prints_no_control_characters(tmp_path):
    env = {"DIANXIAOER_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(cli, ["check", HOSTILE_COPY, "--no-model"], env=env)
    assert result.exit_code == 0, result.output
    assert "全网最低价" in result.stdout and "改写建议" in result.stdout
    assert not any(ord(ch) < 0x20 and ch not in "\n\t" or 0x7F <= ord(ch) <= 0x9F for ch in result.stdout)
    assert "\u202e" not in result.stdout and "pwned" not in result.stdout


def test_check_json_keeps_the_data_but_escapes_it(tmp_path):
    env = {"DIANXIAOER_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(cli, ["check", HOSTILE_COPY, "--json", "--no-model"], env=env)
    assert result.exit_code == 0, result.output
    assert not any(ord(ch) < 0x20 and ch != "\n" or 0x7F <= ord(ch) <= 0x9F for ch in result.stdout)
    assert "\u202e" not in result.stdout
    plain = "新茶上市\x9b31m，欢迎品尝\u202e"
    result = CliRunner().invoke(cli, ["check", plain, "--json", "--no-model"], env=env)
    assert "\x9b" not in result.stdout and json.loads(result.stdout)["rewrite"] == plain  # same data
    assert safe_json('"\x9b\u202e"') == '"\\u009b\\u202e"'


# --- Secrets in log lines -------------------------------------------------------------------


@pytest.mark.parametrize(
    "line,secret",
    [
        ("POST https://alice:s3cret-pw@api.example.com/v1/chat/completions", "s3cret-pw"),
        ("GET https://api.example.com/v1/models?api_key=tok-123456&x=1", "tok-123456"),
        ("GET https://api.example.com/v1/models?x=1&token=tok-abcdef", "tok-abcdef"),
        ("HTTP Request: POST https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getUpdates", "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"),
        ("token 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw in a message", "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"),
        ("Authorization: Bearer sk-live-9f8e7d6c5b4a3210", "9f8e7d6c5b4a3210"),
        ("key sk-proj-abcdefghijklmnop leaked", "abcdefghijklmnop"),
    ],
)
def test_redact(line, secret):
    cleaned = redact(line)
    assert secret not in cleaned and "***" in cleaned


def test_redact_keeps_what_is_not_secret():
    line = "POST https://api.example.com/v1/chat/completions \"HTTP/1.1 200 OK\" 满99元包邮"
    assert redact(line) == line
    assert redact("1" * 100_000 + "a") == "1" * 100_000 + "a"  # and is linear on a long line


def test_filter_redacts_arguments_and_tracebacks():
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "HTTP Request: %s %s", ("POST", "http://u:pw@h/x?key=k1"), None)
    try:
        raise ConnectionError("cannot reach http://u:pw@h/x?key=k1")
    except ConnectionError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactSecrets().filter(record)
    formatted = logging.Formatter().format(record)
    assert "pw" not in formatted and "k1" not in formatted and "h/x" in formatted


def test_cli_logging_redacts_every_line_and_keeps_debug_off_stderr(capsys):
    setup_logging(verbose=False)
    bm25s = logging.getLogger("bm25s")
    bm25s.setLevel(logging.DEBUG)  # what bm25s does to its own logger when imported
    bm25s.debug("Building index from tokens")
    logging.getLogger("httpx").info("HTTP Request: POST http://a:b@h/v1")
    logging.getLogger("anything").warning("failed: http://user:hunter2@h/v1?key=zzz")
    err = capsys.readouterr().err
    assert "Building index" not in err and "HTTP Request" not in err
    assert "failed: http://***@h/v1?key=***" in err and "hunter2" not in err
    setup_logging(verbose=True)
    logging.getLogger("httpx").info("HTTP Request: POST http://a:b@h/v1")
    err = capsys.readouterr().err
    assert "HTTP Request: POST http://***@h/v1" in err
    handler = logging.Handler()
    assert install_redaction(handler) is handler and len(install_redaction(handler).filters) == 1


def test_secret_llm_base_url_never_reaches_stderr_with_verbose(capsys):
    from tests.test_llm_path import PROMPT, SHIPPING, OpenAIStub
    from bot.config import Settings
    from bot.drafting.llm_reply import draft_with_llm

    stub = OpenAIStub()
    try:
        stub.replies.append("满 99 元包邮～")
        host = stub.url.removeprefix("http://")
        url = f"http://shopuser:pw-0xSECRET@{host}?api_key=QUERYSECRET"
        setup_logging(verbose=True)
        logging.getLogger("openai").setLevel(logging.DEBUG)  # as chatty as a library may be
        model = make_chat_model(Settings(_env_file=None, llm_provider="openai", llm_base_url=url, llm_api_key="sk-notreal-123456789"))
        draft_with_llm(model, PROMPT, shop_name="茶小铺", question="包邮吗", history=[], hits=[SHIPPING])
    finally:
        stub.close()
        logging.getLogger("openai").setLevel(logging.NOTSET)
        setup_logging(verbose=False)
    err = capsys.readouterr().err
    assert "HTTP Request" in err  # the request was logged, so the check below means something
    for secret in ("pw-0xSECRET", "QUERYSECRET", "sk-notreal-123456789"):
        assert secret not in err


def test_index_without_verbose_prints_no_bm25s_debug_line(tmp_path):
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / "faq.csv").write_text("question,answer\n包邮吗？,满 99 元包邮。\n", encoding="utf-8")
    env = {"DIANXIAOER_DATA_DIR": str(tmp_path / "data"), "DIANXIAOER_KNOWLEDGE_DIR": str(knowledge)}
    for command in (["index"], ["search", "包邮吗"]):
        result = CliRunner().invoke(cli, command, env=env)
        assert result.exit_code == 0, result.output
        assert "bm25s" not in result.stderr and "DEBUG" not in result.stderr


def test_check_train_reads_gbk_labels_and_names_a_bad_line(tmp_path):
    from bot.compliance.model import read_labelled_tsv

    gbk = tmp_path / "labels.tsv"
    gbk.write_bytes("1\t全网最低价\n0\t新茶到了\n".encode("gbk"))
    assert read_labelled_tsv(gbk) == [(1, "全网最低价"), (0, "新茶到了")]
    damaged = tmp_path / "damaged.tsv"
    damaged.write_bytes(("0\t好的\n" * 20).encode() + b"1\t\xff\xfe\n")
    with pytest.raises(DianxiaoerError, match=r"damaged\.tsv:21"):
        read_labelled_tsv(damaged)


def test_a_key_in_the_llm_url_path_and_configured_secrets_are_masked(monkeypatch, tmp_path):
    # Some gateways take the key in the path (https://gw/v1/<key>/chat/completions); the
    # settings say which strings are secrets, so their shape does not matter.
    from bot.config import load_settings

    monkeypatch.setenv("DIANXIAOER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DIANXIAOER_LLM_BASE_URL", "https://gw.example.com/v1/k7Hq2Lp9Zx4Rt8Wm/openai")
    monkeypatch.setenv("DIANXIAOER_LLM_API_KEY", "plainwordsecret")
    load_settings(_env_file=None)
    line = redact("POST https://gw.example.com/v1/k7Hq2Lp9Zx4Rt8Wm/openai/chat/completions key=plainwordsecret")
    assert "k7Hq2Lp9Zx4Rt8Wm" not in line and "plainwordsecret" not in line
    assert "https://gw.example.com/v1/***/openai/chat/completions" in line
    assert redact("/v1/chat/completions 满99元包邮") == "/v1/chat/completions 满99元包邮"


def test_a_configured_secret_inside_another_is_masked_whole():
    # One configured secret may contain another (a key, and the gateway path segment holding part
    # of it): masking the shorter first would leave the rest of the longer one in the line.
    from bot.logs import remember_secret

    key = "sk-live-Q3v9Tn2Wx8Lm5Rp7Zk4Hb6Jd1Fc0"
    parts = [key[:n] for n in range(12, len(key), 3)]
    for secret in [*parts, key]:
        remember_secret(secret)
    line = redact(f"calling gateway with {key} now")
    assert line == "calling gateway with *** now"
