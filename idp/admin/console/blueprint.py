"""The console's blueprint, alone so that every page module can import it and nothing imports back."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
