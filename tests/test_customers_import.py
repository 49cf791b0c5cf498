"""Customer CSV import: encodings, Chinese headers, update by id, bad rows reported, re-run idempotent."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from bot.cli import cli
from bot.errors import DianxiaoerError
from bot.memory import crud
from bot.memory.customers import import_customers
from bot.memory.models import Customer

ENGLISH = (
    "id,name,wechat_id,weibo_id,tags,opted_out_wechat,opted_out_weibo,notes\n"
    "C001,王芳,wx_wang,,金卡会员|龙井爱好者,0,0,老客户\n"
    "C002,李哥,wx_li,wb_li,普洱爱好者,1,no,\n"
)
CHINESE = (
    "编号,姓名,微信,微博,标签,退订微信,退订微博,备注\n"
    "C001,王芳,wx_wang,,金卡会员|龙井爱好者,否,否,老客户\n"
    "C002,李哥,wx_li,wb_li,普洱爱好者,是,否,\n"
)


def write(tmp_path, text, encoding="utf-8", name="customers.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def people(session):
    return {c.ref: c for c in session.exec(select(Customer)).all()}


@pytest.mark.parametrize("text", [ENGLISH, CHINESE])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_import_reads_every_encoding_and_header_language(session, tmp_path, text, encoding):
    report = import_customers(session=session, path=write(tmp_path, text, encoding))
    assert (report.added, report.updated, report.errors) == (2, 0, [])
    found = people(session)
    assert found["C001"].display_name == "王芳" and found["C001"].tags == ["金卡会员", "龙井爱好者"]
    assert found["C001"].notes == "老客户" and found["C001"].weibo_id is None
    assert found["C002"].opted_out_wechat is True and found["C002"].opted_out_weibo is False


def test_reimport_changes_nothing_and_an_edit_updates_by_id(session, tmp_path):
    path = write(tmp_path, CHINESE)
    import_customers(session=session, path=path)
    before = {ref: c.model_dump() for ref, c in people(session).items()}
    again = import_customers(session=session, path=path)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
    assert {ref: c.model_dump() for ref, c in people(session).items()} == before
    edited = write(tmp_path, CHINESE.replace("王芳,wx_wang,,金卡会员", "王芳芳,wx_wang,,银卡会员"), name="v2.csv")
    third = import_customers(session=session, path=edited)
    assert (third.added, third.updated, third.unchanged) == (0, 1, 1)
    found = people(session)
    assert len(found) == 2 and found["C001"].display_name == "王芳芳" and found["C001"].tags[0] == "银卡会员"
    assert found["C001"].id == before["C001"]["id"]


def test_bad_rows_are_reported_with_line_and_reason_and_the_rest_imports(session, tmp_path):
    text = (
        "id,name,tags,opted_out_wechat\n"
        "C001,王芳,金卡会员,0\n"
        ",无名,,0\n"  # line 3: no id
        "C003,赵姐,,maybe\n"  # line 4: not a yes/no
        "C001,王芳又一次,,0\n"  # line 5: duplicate id in the file
        "C006,钱叔,a,0,extra\n"  # line 6: more columns than the header
        "\n"
        '"C008,"孙姨"\n'  # line 8: broken quoting
    )
    report = import_customers(session=session, path=write(tmp_path, text))
    lines = {e.line: e.reason for e in report.errors}
    assert set(lines) == {3, 4, 5, 6, 8}
    assert "id" in lines[3] and "maybe" in lines[4] and "第 2 行" in lines[5] and "列" in lines[6]
    assert "CSV" in lines[8]
    assert set(people(session)) == {"C001"} and report.added == 1


def test_missing_id_column_and_unreadable_encoding_are_clear_errors(session, tmp_path):
    with pytest.raises(DianxiaoerError, match="id/编号"):
        import_customers(session=session, path=write(tmp_path, "name,tags\n王芳,a\n"))
    with pytest.raises(DianxiaoerError, match="customers.csv"):
        import_customers(session=session, path=write(tmp_path, "\x00\x01binary"))


def test_someone_met_in_chat_by_wechat_id_gets_the_merchants_id(session, tmp_path):
    met = crud.get_or_create_customer(session=session, display_name="wx_wang", wechat_id="wx_wang")
    session.commit()
    import_customers(session=session, path=write(tmp_path, ENGLISH))
    found = people(session)
    assert found["C001"].id == met.id and len(found) == 2


def test_find_customer_resolves_the_imported_id_first(session, tmp_path):
    import_customers(session=session, path=write(tmp_path, "id,name\n2,王芳\n1,李哥\n"))
    # "2" is the merchant's id of 王芳 (row 1), not the row id 2 (李哥).
    assert crud.find_customer(session=session, ref="2").display_name == "王芳"
    assert crud.find_customer(session=session, ref="李哥").ref == "1"
    assert [c.ref for c in crud.list_customers(session=session, tag=None)] == ["2", "1"]


def test_cli_import_and_list_with_segment_and_memory(tmp_path):
    env = {"DIANXIAOER_DATA_DIR": str(tmp_path / "data"), "DIANXIAOER_KNOWLEDGE_DIR": str(tmp_path / "k")}
    path = write(tmp_path, CHINESE + "C003,赵姐,,,金卡会员,x,否,\n", "gbk")
    runner = CliRunner()
    result = runner.invoke(cli, ["customers", "import", str(path), "--json"], env=env)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["added"] == 2 and payload["errors"][0]["line"] == 4
    listed = runner.invoke(cli, ["customers", "list", "--segment", "金卡会员", "--json"], env=env)
    rows = json.loads(listed.stdout)
    assert [r["id"] for r in rows] == ["C001"]
    assert rows[0]["tier"] == "金卡会员" and rows[0]["interests"] == ["龙井"] and rows[0]["last_contact"] == {}
    human = runner.invoke(cli, ["customers", "import", str(path)], env=env)
    assert "未变 2" in human.output and f"{path}:4" in human.output


def test_cli_list_prints_no_terminal_escapes_from_an_imported_file(tmp_path):
    env = {"DIANXIAOER_DATA_DIR": str(tmp_path / "data"), "DIANXIAOER_KNOWLEDGE_DIR": str(tmp_path / "k")}
    path = tmp_path / "c.csv"
    path.write_text("编号,姓名,标签\nC001\x1b]0;hacked\x07,王芳\x1b[2J,金卡\u202e会员\n", encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(cli, ["customers", "import", str(path)], env=env).exit_code == 0
    human = runner.invoke(cli, ["customers", "list"], env=env)
    assert "王芳" in human.output and not any(c in human.output for c in "\x1b\x07\u202e")
    listed = runner.invoke(cli, ["customers", "list", "--json"], env=env)
    assert "\u202e" not in listed.stdout and json.loads(listed.stdout)[0]["name"].startswith("王芳")


def test_a_broken_quote_is_explained_in_chinese(tmp_path, session):
    from bot.memory.customers import import_customers

    path = tmp_path / "c.csv"
    path.write_text('编号,姓名,备注\nC001,王芳,"爱喝龙井\nC002,李哥,\n', encoding="utf-8")
    report = import_customers(session=session, path=path)
    [error] = report.errors
    assert error.line == 2 and "引号没有闭合" in error.reason and "unexpected" not in error.reason
