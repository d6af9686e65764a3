"""User-facing text for the administration's message ids (English source; catalogues translate)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..accounts.messages import MESSAGES as ACCOUNT_MESSAGES

MESSAGES = {
    "field.required": _l("This field is required."),
    "field.invalid": _l("This value is not valid."),
    "field.invalid_date": _l("Write the date as YYYY-MM-DD."),
    "field.read_only": _l("This field cannot be changed here."),
    "locale.invalid": _l("The language must be vi or en."),
    "unit.kind_invalid": _l("The kind must be province, agency or commune."),
    "unit.parent_invalid": _l("The parent unit does not exist or has ended."),
    "unit.cycle": _l("A unit cannot be placed under itself or its own units."),
    "unit.code_taken": _l("A unit with this code already exists in this code list."),
    "unit.target_invalid": _l("The unit to merge into does not exist or has ended."),
    "unit.sources_invalid": _l("Choose existing, current units to merge."),
    "unit.unknown": _l("There is no current unit with this code."),
    "unit.ambiguous": _l("Several current units have this code; add the code list."),
    "unit.out_of_scope": _l("This unit is outside your area."),
    "unit.closed": _l("This unit no longer exists; choose its successor."),
    "unit.future_merge": _l("Enter a merge on or after the day it takes effect: people and roles move at once."),
    "role.unknown": _l("There is no role with this code."),
    "role.admin_not_importable": _l("Administrator roles are not given by import."),
    "row.duplicate": _l("The same value appears in an earlier row of this file."),
    "row.fields": _l("This row does not have the same number of fields as the header."),
    "row.characters": _l("This row contains characters that are not allowed."),
    "csv.encoding": _l("The file is not UTF-8 text. Save it as \"CSV UTF-8\" and try again."),
    "csv.empty": _l("The file has no header row."),
    "csv.no_rows": _l("The file has a header but no rows."),
    "csv.too_large": _l("The file is too large."),
    "csv.too_many_rows": _l("The file has too many rows."),
    "csv.missing_columns": _l("Required columns are missing."),
    "csv.unknown_columns": _l("The file has columns this import does not know."),
    "csv.duplicate_columns": _l("A column appears twice in the header."),
    "csv.malformed": _l("The file is not valid CSV."),
    "client.lifetime": _l("A lifetime must be a whole number of seconds, no longer than the server's setting."),
    "client.acr": _l("Unknown assurance level."),
    "role.min_acr": _l("Choose no requirement, level 2 or level 3."),
    "trust.too_large": _l("The file is too large for a certificate."),
    "trust.unreadable": _l("The file is not an X.509 certificate (PEM, DER or .cer), or it is damaged or cut short."),
    "trust.empty": _l("The file contains no certificate."),
    "trust.not_ca": _l("This is not a certification authority's certificate: a person's or a server's "
                       "certificate cannot be trusted as an authority."),
    "trust.duplicate": _l("This certificate is trusted already."),
    "trust.crl_too_large": _l("The file is too large for a revocation list."),
    "trust.not_crl": _l("The file is not a certificate revocation list (PEM or DER), or it is damaged or cut short."),
    "trust.fingerprint": _l("Give the SHA-256 fingerprint (at least 8 hexadecimal digits)."),
    "trust.ambiguous": _l("Several certificates match; give more digits of the fingerprint."),
}


def message(code: str):
    return MESSAGES.get(code) or ACCOUNT_MESSAGES.get(code) or code
MESSAGES.update({
    "role.reserved": _l("Codes starting with idp. are reserved for MotID's own roles."),
    "role.code_taken": _l("A role with this code already exists."),
    "role.client_unknown": _l("There is no application with this client_id."),
})
MESSAGES.update({
    "upstream.name": _l("Use 1 to 40 lower-case letters, digits and hyphens, starting with a letter or digit."),
    "upstream.name_taken": _l("An upstream provider with this name exists already."),
    "upstream.profile": _l("Choose the profile: vneid, dvcqg, oidc or zalo."),
    "upstream.url": _l("Give an absolute https URL, without credentials or fragment."),
    "upstream.text": _l("Use printable characters only, and not too many."),
    "upstream.client_secret": _l("This client authentication needs a client secret (printable characters, at "
                                 "most 500)."),
    "upstream.token_auth_method": _l("Choose client_secret_basic, client_secret_post or private_key_jwt."),
    "upstream.scopes": _l("Give space-separated scopes; an OpenID Connect profile needs openid."),
    "upstream.tokens": _l("Give space-separated values."),
    "upstream.position": _l("Give a whole number from 0 to 10000."),
    "upstream.endpoints": _l("Give NAME=URL lines for the endpoints this profile needs: authorization_endpoint, "
                             "token_endpoint, userinfo_endpoint, jwks_uri or end_session_endpoint."),
    "exchange.audience": _l("Name the service: printable characters without spaces, at most 2000."),
    "exchange.scope": _l("List one or more scopes MotID knows, separated by spaces."),
})
