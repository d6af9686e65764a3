"""Console pages for units: create, edit, move, import."""
from __future__ import annotations

from sqlalchemy import select

from idp.accounts.models import Unit
from idp.admin.models import UnitChange
from idp.db import db
from tests.conftest import CSRF_RE


def csrf(b, page):
    return CSRF_RE.search(b.get(page).get_data(as_text=True)).group(1)


def test_console_unit_create_edit_and_move(app, world, browser):
    b = browser("province")
    token = csrf(b, "/admin/units")
    bad = b.post("/admin/units", data={"csrf_token": token, "code": "31234", "code_list": "QĐ19/2025",
                                       "name": "Trùng", "kind": "commune", "parent_id": 0})
    assert bad.status_code == 422
    created = b.post("/admin/units", data={"csrf_token": token, "code": "31250", "code_list": "QĐ19/2025",
                                           "name": "Xã Mới", "kind": "commune", "parent_id": world.units["96"],
                                           "valid_from": "2025-07-01"})
    assert created.status_code == 302
    page = created.headers["Location"]
    renamed = b.post(page, data={"csrf_token": csrf(b, page), "code": "31250", "code_list": "QĐ19/2025",
                                 "name": "Xã Mới Đổi Tên", "kind": "commune"})
    assert renamed.status_code == 302
    moved = b.post(page + "/move", data={"csrf_token": csrf(b, page), "parent_id": world.units["31240"]})
    assert moved.status_code == 302
    cycle = b.post(f"/admin/units/{world.units['31234']}/move",
                   data={"csrf_token": csrf(b, page), "parent_id": world.units["31234.VP"]})
    assert cycle.status_code == 302  # refused: flashed on the unit page
    with app.app_context():
        unit = db.session.scalar(select(Unit).where(Unit.code == "31250"))
        assert (unit.name, unit.parent_id) == ("Xã Mới Đổi Tên", world.units["31240"])
        assert [c.action for c in db.session.scalars(select(UnitChange).where(UnitChange.unit_id == unit.id)
                                                     .order_by(UnitChange.id))] == ["create", "update", "move"]
        assert db.session.get(Unit, world.units["31234"]).parent_id == world.units["96"]
    history = b.get(page).get_data(as_text=True)
    assert "move" in history and "Xã Mới Đổi Tên" in history
    assert "Xã An Phú" in b.get("/admin/units?closed=1").get_data(as_text=True)


def test_console_units_import(app, world, browser):
    import io
    b = browser("province")
    data = {"csrf_token": csrf(b, "/admin/units"),
            "file": (io.BytesIO(b"code,code_list,name,kind\nX9,L,Xa,commune\n"), "u.csv")}
    response = b.post("/admin/units/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 200 and "X9" not in response.get_data(as_text=True)[:0]
    with app.app_context():
        assert db.session.scalar(select(Unit).where(Unit.code == "X9"))
