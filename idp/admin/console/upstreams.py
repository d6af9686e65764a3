"""Console pages for upstream identity providers (VNeID, DVCQG, OpenID Connect, Zalo): list, add, edit (an
empty secret leaves the stored one), remove after a confirmation."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import upstreams
from ..authz import Refused, require
from ..etags import etag_of
from ..forms import ActionForm, UpstreamForm
from .blueprint import bp
from .common import actor, field_errors

TEXTS = ("issuer", "client_id", "token_auth_method", "scopes", "acr_values", "display_name")


def settings(form: UpstreamForm) -> dict:
    """The form as registry settings; None: not given (a new provider takes the profile's default)."""
    out = {key: (getattr(form, key).data or "").strip() or None for key in TEXTS}
    out.update(profile=form.profile.data, client_secret=form.client_secret.data or None,
               position=form.position.data, enabled=form.enabled.data, endpoints=_endpoints(form.endpoints.data))
    return out


def _endpoints(text: str | None) -> dict | None:
    """``NAME=URL`` lines, as the command line's ``--endpoint``; the registry judges names and URLs."""
    pairs = [line.strip().partition("=") for line in (text or "").splitlines() if line.strip()]
    return {name.strip(): url.strip() for name, _, url in pairs} or None


def fill(form: UpstreamForm, provider) -> None:
    shown = upstreams.represent(provider)
    for key in (*TEXTS, "profile", "position", "enabled"):
        getattr(form, key).data = shown[key]
    form.endpoints.data = "\n".join(f"{k}={v}" for k, v in (shown["endpoints"] or {}).items())
    form.etag.data = etag(provider)


def etag(provider) -> str:
    return etag_of(upstreams.represent(provider))


def changes(form: UpstreamForm, provider) -> dict:
    """What the administrator changed: only those settings reach the registry (and its audit event)."""
    shown, wanted, out = upstreams.represent(provider), settings(form), {}
    for key, value in wanted.items():
        if key in TEXTS and value is None and key != "token_auth_method":
            value = ""  # emptied: the registry clears acr_values and refuses an empty issuer or client ID
        current = (shown[key] or "") if key in TEXTS else shown.get(key)
        if key not in ("client_secret", "endpoints") and value is not None and value != current:
            out[key] = value
    if wanted["endpoints"] != (shown["endpoints"] or None):
        out["endpoints"] = wanted["endpoints"] or {}
    if wanted["client_secret"]:
        out["client_secret"] = wanted["client_secret"]
    return out


@bp.route("/upstreams")
def upstreams_page():
    return render_template("admin/upstreams.html", rows=upstreams.listing(actor()))


@bp.route("/upstreams/new", methods=["GET", "POST"])
def new_upstream():
    require(actor(), "trust.write", "upstream.add")
    form = UpstreamForm()
    if form.validate_on_submit():
        data = {k: v for k, v in settings(form).items() if v is not None}
        try:
            provider = upstreams.create(actor(), {"name": (form.name.data or "").strip(), **data})
        except Refused as exc:
            if exc.status not in (409, 422):
                raise
            field_errors(form, exc)
            return render_template("admin/upstream_form.html", form=form, provider=None), exc.status
        flash(_("%(name)s was added. Register this redirect URI at the provider: %(uri)s",
                name=provider.display_name, uri=upstreams.represent(provider)["redirect_uri"]))
        return redirect(url_for("admin.upstream", name=provider.name))
    return render_template("admin/upstream_form.html", form=form, provider=None), 422 if form.errors else 200


@bp.route("/upstreams/<name>", methods=["GET", "POST"])
def upstream(name):
    target = upstreams.get(actor(), name)
    form = UpstreamForm()
    status = 200
    if request.method == "GET":
        fill(form, target)
    elif form.validate_on_submit():
        target = upstreams.get(actor(), name, write=True)
        if form.etag.data != etag(target):
            form.form_errors.append(_("Someone changed this provider while you were editing. "
                                      "Check the values and save again."))
            form.etag.data, status = etag(target), 409
        else:
            wanted = changes(form, target)
            try:
                if wanted:
                    upstreams.update(actor(), target, wanted)
                flash(_("Saved.") if wanted else _("Nothing was changed."))
                return redirect(url_for("admin.upstream", name=target.name))
            except Refused as exc:
                if exc.status != 422:
                    raise
                field_errors(form, exc)
                status = 422
    else:
        status = 422
    return render_template("admin/upstream_form.html", form=form, provider=target,
                           shown=upstreams.represent(target)), status


@bp.route("/upstreams/<name>/remove", methods=["GET", "POST"])
def upstream_remove(name):
    """A confirmation page, then the removal (POST, CSRF-checked like every console form)."""
    g.back = url_for("admin.upstreams_page")
    require(actor(), "trust.write", "upstream.remove")
    target = upstreams.get(actor(), name)
    form = ActionForm()
    if form.validate_on_submit():
        upstreams.remove(actor(), target.name)
        flash(_("%(name)s is no longer offered; the accounts linked to it keep their links.",
                name=target.display_name))
        return redirect(g.back)
    return render_template("admin/upstream_remove.html", provider=target, form=form)
