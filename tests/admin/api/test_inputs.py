"""What the API reads from a request (idp.admin.api.inputs): a refusal names the field, never a 500."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.db import db
from idp.events import AuditEvent

API = "/admin/api/v1"


@pytest.mark.parametrize("path, body, field", [
    ("/units", {"code": "31299", "code_list": "QĐ19/2025", "name": "Xã Mới", "kind": "commune",
                "valid_from": "2024-13-01"}, "valid_from"),
    ("/units/merge", {"sources": [1], "target_id": 2, "effective_on": "2026-02-30"}, "effective_on"),
    ("/units/{unit}/move", {"parent_id": None, "effective_on": "2026-00-10"}, "effective_on"),
])
def test_a_day_that_does_not_exist_is_refused_with_its_field(app, world, token, path, body, field):
    # The schema shapes a date as YYYY-MM-DD; the validator does not check `format`, so 2024-13-01 reaches
    # the route, which refuses it like any invalid field (found by schemathesis as a 500).
    response = app.test_client().post(API + path.format(unit=world.units["31234.VP"]), json=body,
                                      headers=token("province"))
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert response.json["reason"] == "invalid_input" and response.json["errors"][field]["code"] == "field.invalid"
    with app.app_context():
        refusal = db.session.scalars(select(AuditEvent).where(AuditEvent.tag == "admin:request:refuse")).all()[-1]
        assert refusal.details["reason"] == "invalid_input"
