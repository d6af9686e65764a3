"""The API's blueprint, alone so that every resource module can import it and nothing imports back."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin_api", __name__, url_prefix="/admin/api/v1")
