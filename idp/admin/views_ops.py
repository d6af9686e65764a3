"""Console pages for operations: applications, signing keys, trusted certification authorities and the
audit log."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from flask import Response, abort, flash, g, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _

from ..accounts.certificates.trust_store import MAX_CRL_BYTES, MAX_FILE_BYTES, name_text
from ..clock import now
from . import audit, clients, keys, trust
from .authz import Refused, require
from .forms import ActionForm, AuditFilterForm, ClientForm, CrlFileForm, KeyRotateForm, TrustFileForm
from .views import actor, bp, field_errors

GRANTS = ("authorization_code", "refresh_token", "client_credentials")


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def client_settings(form: ClientForm) -> dict:
    """The form as the metadata and settings :mod:`idp.admin.clients` takes (None removes a field)."""
    grants = [g_ for g_ in GRANTS if getattr(form, f"grant_{g_}").data]
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
        "default_acr_values": [form.default_acr_values.data] if form.default_acr_values.data else None,
        "access_token_lifetime": form.access_token_lifetime.data,
        "id_token_lifetime": form.id_token_lifetime.data,
        "refresh_token_lifetime": form.refresh_token_lifetime.data,
    }


def fill(form: ClientForm, client) -> None:
    meta = client.meta
    form.client_name.data = meta.get("client_name", "")
    form.redirect_uris.data = "\n".join(meta.get("redirect_uris", []))
    form.post_logout_redirect_uris.data = "\n".join(meta.get("post_logout_redirect_uris", []))
    form.request_uris.data = "\n".join(meta.get("request_uris", []))
    form.backchannel_logout_uri.data = meta.get("backchannel_logout_uri", "")
    form.frontchannel_logout_uri.data = meta.get("frontchannel_logout_uri", "")
    form.token_endpoint_auth_method.data = meta.get("token_endpoint_auth_method")
    for grant in GRANTS:
        getattr(form, f"grant_{grant}").data = grant in meta.get("grant_types", [])
    form.scope.data = meta.get("scope", "")
    form.first_party.data, form.require_pkce.data = client.first_party, client.require_pkce
    form.default_acr_values.data = (meta.get("default_acr_values") or [""])[0]
    for name in ("access_token_lifetime", "id_token_lifetime", "refresh_token_lifetime"):
        getattr(form, name).data = meta.get(name)


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
                           next_cursor=next_cursor, action_form=ActionForm()), 200 if request.method == "GET" \
        or not form.errors and not form.form_errors else 422


def etag(client) -> str:
    from .api import etag_of
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


@bp.route("/keys", methods=["GET", "POST"])
def keys_page():
    g.back = url_for("admin.keys_page")
    form = KeyRotateForm()
    if request.method == "POST" and form.validate_on_submit():
        row = keys.rotate(actor(), form.alg.data, form.delay.data)
        flash(_("A new %(alg)s key was published; it signs from %(when)s.", alg=row.alg,
                when=row.activates_at.strftime("%Y-%m-%d %H:%M UTC")))
        return redirect(g.back)
    return render_template("admin/keys.html", rows=keys.listing(actor()), moment=now(), form=form,
                           action_form=ActionForm())


@bp.route("/keys/<kid>/retire", methods=["POST"])
def retire_key(kid):
    g.back = url_for("admin.keys_page")
    if not ActionForm().validate_on_submit():
        abort(400)
    keys.retire(actor(), kid)
    flash(_("The key no longer signs; it stays published until the tokens it signed have expired."))
    return redirect(g.back)


def trust_page(cert_form=None, crl_form=None, status=200):
    rows = [(e, trust.represent(e)) for e in trust.listing(actor())]
    crls = [(c, trust.represent_crl(c)) for c in trust.crl_listing(actor())]
    return render_template("admin/trust.html", rows=rows, crls=crls, moment=now(),
                           cert_form=cert_form or TrustFileForm(), crl_form=crl_form or CrlFileForm()), status


@bp.route("/trust")
def trust_list():
    return trust_page()


def trust_upload(form, which: str, save):
    """Check the form, hand the uploaded file to ``save`` (it returns what to tell the administrator); a
    refusal is shown on the form, and nothing was changed."""
    if form.validate_on_submit():
        try:
            for text in save(form.file.data):
                flash(text)
            return redirect(url_for("admin.trust_list"))
        except Refused as exc:
            if exc.status != 422:
                raise
            form.form_errors.append(str(exc.detail))
            field_errors(form, exc)
    return trust_page(**{which: form}, status=422)


@bp.route("/trust", methods=["POST"])
def trust_add():
    require(actor(), "trust.write", "trust.add")

    def save(upload):
        added = trust.add(actor(), upload.read(MAX_FILE_BYTES + 1), upload.filename or "")
        return [_("Trusted from now on: %(subject)s.", subject=name_text(e.certificate.subject)) for e in added]
    return trust_upload(TrustFileForm(), "cert_form", save)


@bp.route("/trust/crl", methods=["POST"])
def trust_add_crl():
    require(actor(), "trust.write", "trust.add_crl")

    def save(upload):
        entry = trust.add_crl(actor(), upload.read(MAX_CRL_BYTES + 1))
        return [_("The revocation list of %(issuer)s was saved.", issuer=name_text(entry.crl.issuer))]
    return trust_upload(CrlFileForm(), "crl_form", save)


@bp.route("/trust/<fingerprint>/remove", methods=["GET", "POST"])
def trust_remove(fingerprint):
    """A confirmation page, then the removal (POST, CSRF-checked like every console form)."""
    g.back = url_for("admin.trust_list")
    require(actor(), "trust.write", "trust.remove")
    entry = trust.find(actor(), fingerprint)
    form = ActionForm()
    if form.validate_on_submit():
        trust.remove(actor(), entry.fingerprint)
        flash(_("%(subject)s is no longer trusted.", subject=name_text(entry.certificate.subject)))
        return redirect(g.back)
    return render_template("admin/trust_remove.html", entry=entry, shown=trust.represent(entry), form=form)


def audit_query(form: AuditFilterForm, limit: int = 50, after=None) -> audit.AuditQuery:
    def moment(day, extra):
        return datetime.combine(day, time.min, tzinfo=timezone.utc) + extra if day else None
    return audit.AuditQuery(tag=form.tag.data or None, account=form.account.data or None,
                            client_id=form.client_id.data or None, ip=form.ip.data or None,
                            since=moment(form.since.data, timedelta(0)), until=moment(form.until.data, timedelta(days=1)),
                            limit=limit, after=after)


@bp.route("/audit")
def audit_page():
    form = AuditFilterForm(request.args)
    cursor = request.args.get("cursor", "")
    rows, next_cursor, subs = [], None, {}
    require(actor(), "audit.read", "audit.read")
    if form.validate():
        rows, next_cursor = audit.search(actor(), audit_query(
            form, after=int(cursor) if cursor.isdigit() and len(cursor) < 10 else None))
        subs = audit.subs_of(rows)
    args = {k: v for k, v in request.args.items() if k != "cursor"}
    return render_template("admin/audit.html", form=form, rows=rows, subs=subs, next_cursor=next_cursor, args=args)


@bp.route("/audit/export.csv")
def audit_export():
    form = AuditFilterForm(request.args)
    if not form.validate():
        abort(400)
    response = Response(stream_with_context(audit.export_csv(actor(), audit_query(form))), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="motid-audit.csv"'
    return response
