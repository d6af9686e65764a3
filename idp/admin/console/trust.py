"""Console pages for trusted certification authorities and their revocation lists: list, add, remove."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from ...accounts.certificates.trust_store import MAX_CRL_BYTES, MAX_FILE_BYTES, name_text
from ...clock import now
from .. import trust
from ..authz import Refused, require
from ..forms import ActionForm, CrlFileForm, TrustFileForm
from .blueprint import bp
from .common import actor, field_errors


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
