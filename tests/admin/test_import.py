"""Bulk creation of officers (API, console, ``idp accounts import``) and units from CSV: all or nothing,
a line-by-line report, and an audit event for every refused file."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from idp.accounts.models import Account, AccountRole, Unit
from idp.admin.models import UnitChange
from idp.db import db
from idp.events import AuditEvent
from tests.conftest import CSRF_RE

API = "/admin/api/v1"
HEADER = "full_name,citizen_id,email,phone,unit_code,position,roles\n"
GOOD = (HEADER
        + "Nguyễn Văn Một,096195000001,mot@camau.gov.vn,0912000001,31234,Chuyên viên,one_stop.receiver\n"
        + "Trần Thị Hai,096195000002,hai@camau.gov.vn,,31234.VP,Văn thư,\n"
        + "Lê Văn Ba,,ba@camau.gov.vn,0912000003,31234,,\n")


def officers(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Account).where(Account.kind == "officer"))


def refusals(app):
    with app.app_context():
        return [e.details for e in db.session.scalars(select(AuditEvent).where(AuditEvent.tag ==
                                                                                "admin:request:refuse"))]


def post_csv(app, headers, body, path="/accounts/import", **params):
    data = body.encode("utf-8") if isinstance(body, str) else body
    return app.test_client().post(f"{API}{path}", data=data, query_string=params,
                                  headers={**headers, "Content-Type": "text/csv"})


def test_a_good_file_creates_everyone_with_roles(app, world, token):
    before = officers(app)
    response = post_csv(app, token("an_phu_admin"), GOOD)
    assert response.status_code == 201, response.json
    assert response.json["committed"] and [r["line"] for r in response.json["created"]] == [2, 3, 4]
    assert officers(app) == before + 3
    with app.app_context():
        one = db.session.scalar(select(Account).where(Account.citizen_id == "096195000001"))
        assert one.unit.code == "31234" and [g.role.code for g in one.roles] == ["one_stop.receiver"]
        assert one.phone == "+84912000001" and one.position == "Chuyên viên"
        imported = db.session.scalars(select(AuditEvent).where(AuditEvent.tag == "admin:account:import")).one()
        assert imported.details["count"] == 3


def test_dry_run_writes_nothing(app, world, token):
    before = officers(app)
    response = post_csv(app, token("an_phu_admin"), GOOD, dry_run="true")
    assert response.status_code == 200 and not response.json["committed"] and len(response.json["created"]) == 3
    assert officers(app) == before


@pytest.mark.parametrize("body, reason_code", [
    ("full_name,citizen_id,unit_code\nNguyễn Văn Một,096195000001,31234\n".encode("cp1258", errors="replace"), "csv.encoding"),
    ("full_name,citizen_id\nNguyễn Văn Một,096195000001\n", "csv.missing_columns"),
    ("full_name,unit_code,salary\nA,31234,1\n", "csv.unknown_columns"),
    ("full_name,unit_code,unit_code\nA,31234,31234\n", "csv.duplicate_columns"),
    ("", "csv.empty"),
    ("full_name,unit_code\n", "csv.no_rows"),
])
def test_a_malformed_file_is_refused_whole(app, world, token, body, reason_code):
    before = officers(app)
    response = post_csv(app, token("an_phu_admin"), body)
    assert response.status_code == 422 and response.json["errors"]["file"]["code"] == reason_code
    assert response.json["errors"]["file"]["message"]
    assert officers(app) == before
    assert refusals(app)[-1]["problem"] == reason_code


def test_a_failing_row_in_the_middle_commits_nothing_and_names_every_problem(app, world, token):
    before = officers(app)
    body = (HEADER
            + "Nguyễn Văn Một,096195000001,mot@camau.gov.vn,,31234,,\n"
            + "Sai Số,12345,sai@camau.gov.vn,,31234,,\n"             # bad ID number
            + "Trùng Lặp,096195000001,khac@camau.gov.vn,,31234,,\n"  # same ID as line 2
            + "Ngoài Xã,096195000004,ngoai@camau.gov.vn,,31240,,\n"   # another commune
            + "Đã Có,096195000005,cb.anphu@camau.gov.vn,,31234,,\n"   # email already taken
            + "Quyền Cao,096195000006,cao@camau.gov.vn,,31234,,idp.admin\n"
            + "Không Rõ,096195000007,khongro@camau.gov.vn,,99999,,\n"
            + "Cuối Cùng,096195000008,cuoi@camau.gov.vn,,31234,,\n")
    response = post_csv(app, token("an_phu_admin"), body)
    assert response.status_code == 422
    problems = {p["line"]: {f: e["code"] for f, e in p["errors"].items()} for p in response.json["report"]["problems"]}
    assert problems == {3: {"citizen_id": "citizen_id.shape"}, 4: {"citizen_id": "row.duplicate"},
                        5: {"unit_code": "unit.out_of_scope"}, 6: {"email": "email.taken"},
                        7: {"roles": "role.admin_not_importable"}, 8: {"unit_code": "unit.unknown"}}
    assert not response.json["report"]["committed"]
    assert officers(app) == before
    with app.app_context():
        assert db.session.scalar(select(Account).where(Account.email == "mot@camau.gov.vn")) is None
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.tag == "account:account:create",
                                        AuditEvent.actor_id == world.people["an_phu_admin"]["id"])) == 0
    assert refusals(app)[-1]["problem_lines"] == [3, 4, 5, 6, 7, 8]


def test_a_row_of_the_wrong_width_is_reported(app, world, token):
    response = post_csv(app, token("an_phu_admin"), "full_name,unit_code\nA,31234,extra\n")
    assert response.json["report"]["problems"] == [{"line": 2, "errors": {"row": {
        "code": "row.fields", "message": "Dòng này không có cùng số trường với dòng tiêu đề."}}}] or \
        response.json["report"]["problems"][0]["errors"]["row"]["code"] == "row.fields"


def test_semicolons_and_a_bom_are_accepted(app, world, token):
    body = "\ufeff" + GOOD.replace(",", ";")
    assert post_csv(app, token("province"), body).status_code == 201


def test_the_wrong_media_type_is_refused(app, world, token):
    response = app.test_client().post(f"{API}/accounts/import", json={"a": 1}, headers=token("province"))
    assert response.status_code == 415


def test_console_import_shows_the_report(app, world, browser):
    b = browser("an_phu_admin")
    token = CSRF_RE.search(b.get("/admin/accounts/import").get_data(as_text=True)).group(1)
    bad = GOOD.replace("096195000002", "12")
    response = b.post("/admin/accounts/import", data={"csrf_token": token, "file": (io.BytesIO(bad.encode()), "x.csv")},
                      content_type="multipart/form-data")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "<td>3</td><td>citizen_id</td>" in page
    response = b.post("/admin/accounts/import", data={"csrf_token": token, "file": (io.BytesIO(GOOD.encode()), "x.csv")},
                      content_type="multipart/form-data")
    assert response.status_code == 200 and officers(app) == 10


def test_cli_import(app, world, runner, tmp_path):
    good = tmp_path / "officers.csv"
    good.write_text(GOOD, encoding="utf-8")
    result = runner.invoke(args=["accounts", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "3 rows imported" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(GOOD.replace("Hai", "Hải").encode("cp1258", errors="replace"))
    result = runner.invoke(args=["accounts", "import", str(bad)])
    assert result.exit_code == 1 and "UTF-8" in result.output


# -- units ------------------------------------------------------------------------------------------------------
UNITS_CSV = ("code,code_list,name,kind,parent_code,parent_code_list,valid_from\n"
             "31300,QĐ19/2025,Xã Mới A,commune,96,QĐ19/2025,2025-07-01\n"
             "31300.VP,MotID-2025,Văn phòng xã Mới A,agency,31300,QĐ19/2025,\n"
             "96,QĐ19/2025,Tỉnh Cà Mau,province,,,2025-07-01\n")


def test_units_import_creates_updates_and_links_parents(app, world, token):
    response = post_csv(app, token("province"), UNITS_CSV, path="/units/import")
    assert response.status_code == 201, response.json
    assert [r["action"] for r in response.json["created"]] == ["create", "create", "update"]
    with app.app_context():
        office = db.session.scalar(select(Unit).where(Unit.code == "31300.VP"))
        assert office.parent.code == "31300" and office.parent.parent.code == "96"
        assert db.session.scalar(select(func.count()).select_from(UnitChange)) >= 3


def test_units_import_refuses_a_cycle_and_bad_kinds(app, world, token):
    body = ("code,code_list,name,kind,parent_code\n"
            "A1,L,Một,commune,B1\nB1,L,Hai,commune,A1\nC1,L,Ba,district,\n")
    response = post_csv(app, token("province"), body, path="/units/import")
    assert response.status_code == 422
    codes = {p["line"]: p["errors"] for p in response.json["report"]["problems"]}
    assert codes[4]["kind"]["code"] == "unit.kind_invalid"
    assert any(e.get("parent_code", {}).get("code") == "unit.cycle" for e in codes.values())
    with app.app_context():
        assert db.session.scalar(select(Unit).where(Unit.code == "A1")) is None


def test_unit_admin_cannot_import_units(app, world, token):
    assert post_csv(app, token("an_phu_admin"), UNITS_CSV, path="/units/import").status_code == 403


def test_cli_units_import(app, world, runner, tmp_path):
    path = tmp_path / "units.csv"
    path.write_text(UNITS_CSV, encoding="utf-8")
    result = runner.invoke(args=["units", "import", str(path)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AccountRole)) >= 0
