"""Console pages for applications (OIDC clients): list, new, one application with its consents, a new secret."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ...oidc.clients import DEVICE_CODE, TOKEN_EXCHANGE
from ...oidc.mtls_auth import SUBJECT_FIELDS
from .. import clients, exchange
from ..authz import Refused
from ..etags import etag_of
from ..forms import ActionForm, ClientForm, ExchangeRuleForm
from .blueprint import bp
from .common import actor, field_errors

# The form's checkbox (grant_<name>) for each grant type.
GRANTS = {"authorization_code": "authorization_code", "refresh_token": "refresh_token",
          "client_credentials": "client_credentials", "device_code": DEVICE_CODE, "token_exchange": TOKEN_EXCHANGE}
TLS_SUBJECT_FIELDS = tuple(SUBJECT_FIELDS)


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def client_settings(form: ClientForm) -> dict:
    """The form as the metadata and settings :mod:`idp.admin.clients` takes (None removes a field)."""
    grants = [grant for name, grant in GRANTS.items() if getattr(form, f"grant_{name}").data]
    return {
        "client_name": form.client_name.data, "redirect_uris": _lines(form.redirect_uris.data),
        "post_logout_redirect_uris": _lines(form.post_logout_redirect_uris.data) or None,
        "request_uris": _lines(form.request_uris.data) or None,
        "backchannel_logout_uri": form.backchannel_logout_uri.data or None,
        "frontchannel_logout_uri": form.frontchannel_logout_uri.data or None,
        "token_endpoint_auth_method": form.token_endpoint_auth_method.data,
        "grant_types": grants, "response_types": ["code"] if "authorization_code" in grants else [],
        "scope": " ".join(form.scope.data.split()) if form.scope.data else None,
        "first_party": form.first_party.data, "require_pkce": form.require_pkce.data,
        "dpop_bound_access_tokens": True if form.dpop_bound_access_tokens.data else None,  # RFC 9449 §5.2
        "require_pushed_authorization_requests": form.require_pushed_authorization_requests.data or None,
        "default_acr_values": [form.default_acr_values.data] if form.default_acr_values.data else None,
        "access_token_lifetime": form.access_token_lifetime.data,
        "id_token_lifetime": form.id_token_lifetime.data,
        "refresh_token_lifetime": form.refresh_token_lifetime.data,
        "subject_type": form.subject_type.data or None,
        "sector_identifier_uri": form.sector_identifier_uri.data or None,
        **tls_subject(form),
    }


def tls_subject(form: ClientForm) -> dict:
    """The one certificate subject of a tls_client_auth client (RFC 8705 §2.1.2); None removes the others."""
    chosen = form.tls_client_auth_field.data if form.token_endpoint_auth_method.data == "tls_client_auth" else ""
    return {name: (form.tls_client_auth_value.data or None) if name == chosen else None
            for name in TLS_SUBJECT_FIELDS}


def fill(form: ClientForm, client) -> None:
    meta = client.meta
    form.client_name.data = meta.get("client_name", "")
    form.redirect_uris.data = "\n".join(meta.get("redirect_uris", []))
    form.post_logout_redirect_uris.data = "\n".join(meta.get("post_logout_redirect_uris", []))
    form.request_uris.data = "\n".join(meta.get("request_uris", []))
    form.backchannel_logout_uri.data = meta.get("backchannel_logout_uri", "")
    form.frontchannel_logout_uri.data = meta.get("frontchannel_logout_uri", "")
    form.token_endpoint_auth_method.data = meta.get("token_endpoint_auth_method")
    for name, grant in GRANTS.items():
        getattr(form, f"grant_{name}").data = grant in meta.get("grant_types", [])
    form.scope.data = meta.get("scope", "")
    form.first_party.data, form.require_pkce.data = client.first_party, client.require_pkce
    form.dpop_bound_access_tokens.data = meta.get("dpop_bound_access_tokens") is True
    form.require_pushed_authorization_requests.data = bool(meta.get("require_pushed_authorization_requests"))
    form.default_acr_values.data = (meta.get("default_acr_values") or [""])[0]
    for name in ("access_token_lifetime", "id_token_lifetime", "refresh_token_lifetime"):
        getattr(form, name).data = meta.get(name)
    form.subject_type.data = meta.get("subject_type", "public")
    form.sector_identifier_uri.data = meta.get("sector_identifier_uri", "")
    chosen = next((name for name in TLS_SUBJECT_FIELDS if meta.get(name)), "")
    form.tls_client_auth_field.data, form.tls_client_auth_value.data = chosen, meta.get(chosen, "") if chosen else ""


@bp.route("/clients")
def clients_page():
    return render_template("admin/clients.html", rows=clients.listing(actor()))


@bp.route("/clients/new", methods=["GET", "POST"])
def new_client():
    form = ClientForm()
    if request.method == "GET":
        form.scope.data = "openid profile email phone"
    if form.validate_on_submit():
        settings = {k: v for k, v in client_settings(form).items() if v not in (None, [], "")}
        try:
            client, secret = clients.create(actor(), settings)
        except Refused as exc:
            if exc.status != 422:
                raise  # not the form's fault: the refusal page
            field_errors(form, exc)
            return render_template("admin/client_form.html", form=form, client=None), 422
        return render_template("admin/client_secret.html", client=client, secret=secret)
    return render_template("admin/client_form.html", form=form, client=None)


@bp.route("/clients/<client_id>", methods=["GET", "POST"])
def client(client_id):
    target = clients.get(actor(), client_id)
    form = ClientForm()
    if request.method == "GET":
        fill(form, target)
        form.etag.data = etag(target)
    elif form.validate_on_submit():
        target = clients.get(actor(), client_id, write=True)
        if form.etag.data != etag(target):
            form.form_errors.append(_("Someone changed this application while you were editing. "
                                      "Check the values and save again."))
            form.etag.data = etag(target)
        else:
            try:
                clients.update(actor(), target, client_settings(form))
                flash(_("Saved."))
                return redirect(url_for("admin.client", client_id=client_id))
            except Refused as exc:
                if exc.status != 422:
                    raise
                field_errors(form, exc)
    consents, next_cursor = clients.consents(actor(), target, limit=50)
    return render_template("admin/client_form.html", form=form, client=target, consents=consents,
                           next_cursor=next_cursor, action_form=ActionForm(),
                           exchange_form=ExchangeRuleForm(prefix="rule"),
                           exchange_rules=exchange.rules(actor(), target)), 200 if request.method == "GET" \
        or not form.errors and not form.form_errors else 422


def etag(client) -> str:
    return etag_of(clients.represent(client))


@bp.route("/clients/<client_id>/secret", methods=["POST"])
def rotate_secret(client_id):
    g.back = url_for("admin.client", client_id=client_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    target = clients.get(actor(), client_id, write=True)
    secret = clients.rotate_secret(actor(), target)
    return render_template("admin/client_secret.html", client=target, secret=secret)


@bp.route("/clients/<client_id>/consents/<sub>/revoke", methods=["POST"])
def revoke_consent(client_id, sub):
    g.back = url_for("admin.client", client_id=client_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    clients.revoke_consent(actor(), clients.get(actor(), client_id, write=True), sub)
    flash(_("The consent was withdrawn and the tokens issued from it ended."))
    return redirect(g.back)
