"""What the console's page modules share: the actor of the request and refusals shown on a form."""
from __future__ import annotations

from flask import g

from ..authz import Actor, Refused
from ..messages import message

PAGE = 50


def actor() -> Actor:
    return g.admin_actor


def field_errors(form, exc: Refused) -> None:
    for name, code in (exc.fields or {}).items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + [message(code)]
        else:
            form.form_errors.append(f"{name}: {message(code)}")
    if not exc.fields:
        form.form_errors.append(str(exc.detail))
