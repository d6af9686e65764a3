"""The console's first page."""
from __future__ import annotations

from flask import render_template

from .blueprint import bp


@bp.route("/")
def home():
    return render_template("admin/home.html")
