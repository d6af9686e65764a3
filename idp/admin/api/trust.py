"""The API's trusted certification authorities and revocation lists: list, add, remove."""
from __future__ import annotations

from ...accounts.certificates.trust_store import MAX_CRL_BYTES, MAX_FILE_BYTES
from .. import trust
from ..authz import require
from .authentication import actor
from .blueprint import bp
from .inputs import arg, file_body
from .responses import ok
from .schemas import CERTIFICATE_MEDIA_TYPES, CRL_MEDIA_TYPES


@bp.route("/trust", methods=["GET"])
def list_trust():
    return ok({"items": [trust.represent(e) for e in trust.listing(actor())],
               "crls": [trust.represent_crl(c) for c in trust.crl_listing(actor())]})


@bp.route("/trust", methods=["POST"])
def add_trust():
    require(actor(), "trust.write", "trust.add")  # before reading the body
    file_name = arg("file_name", 200) or ""
    added = trust.add(actor(), file_body(CERTIFICATE_MEDIA_TYPES, MAX_FILE_BYTES), file_name)
    return ok({"items": [trust.represent(e) for e in added]}, 201)


@bp.route("/trust/crls", methods=["POST"])
def add_trust_crl():
    require(actor(), "trust.write", "trust.add_crl")  # before reading the body (up to 20 MiB)
    return ok(trust.represent_crl(trust.add_crl(actor(), file_body(CRL_MEDIA_TYPES, MAX_CRL_BYTES))), 201)


@bp.route("/trust/<fingerprint>", methods=["DELETE"])
def remove_trust(fingerprint):
    return ok({"items": [trust.represent(e) for e in trust.remove(actor(), fingerprint)]})
