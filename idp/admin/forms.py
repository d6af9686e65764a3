"""Console forms (Flask-WTF: CSRF on every form that changes something)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, HiddenField, IntegerField, PasswordField, SelectField, StringField
from wtforms import TextAreaField
from wtforms.validators import NumberRange, Optional

from ..accounts.forms import REQUIRED, printable, too_long

try:
    from wtforms.fields.choices import SelectChoice

    def options(pairs) -> list:
        """Select options as WTForms 3.3 wants them (tuples are deprecated there)."""
        return [SelectChoice(value, label) for value, label in pairs]
except ImportError:  # WTForms < 3.3
    def options(pairs) -> list:
        return list(pairs)


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class SearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = StringField(_l("Name, ID number, tax code, email or phone"), [Optional(), too_long(254), printable])
    kind = SelectField(_l("Kind"), choices=options([("", _l("All kinds")), ("citizen", _l("Citizen")),
                                            ("business", _l("Business")), ("officer", _l("Officer")),
                                            ("admin", _l("Administrator"))]), default="")
    status = SelectField(_l("Status"), choices=options([("", _l("Any status")), ("active", _l("Active")),
                                                ("locked", _l("Locked")), ("disabled", _l("Disabled"))]), default="")


class OfficerForm(FlaskForm):
    full_name = StringField(_l("Full name"), [REQUIRED, too_long(200), printable])
    citizen_id = StringField(_l("Personal identification number (12 digits)"), [Optional(), too_long(20), printable])
    email = StringField(_l("Email"), [Optional(), too_long(254), printable])
    phone = StringField(_l("Phone"), [Optional(), too_long(20), printable])
    position = StringField(_l("Position"), [Optional(), too_long(200), printable])
    unit_id = SelectField(_l("Unit"), coerce=int, validate_choice=False)
    password = PasswordField(_l("Initial password (optional: otherwise a link is emailed)"),
                             [Optional(), too_long(256), printable])


class AccountEditForm(FlaskForm):
    etag = HiddenField()
    full_name = StringField(_l("Full name"), [REQUIRED, too_long(200), printable])
    email = StringField(_l("Email"), [Optional(), too_long(254), printable])
    phone = StringField(_l("Phone"), [Optional(), too_long(20), printable])
    position = StringField(_l("Position"), [Optional(), too_long(200), printable])
    unit_id = SelectField(_l("Unit"), coerce=int, validate_choice=False)
    locale = SelectField(_l("Language"), choices=options([("vi", "Tiếng Việt"), ("en", "English")]))


class GrantRoleForm(FlaskForm):
    role = SelectField(_l("Role"), validate_choice=False)
    unit_id = SelectField(_l("In unit"), coerce=int, validate_choice=False)


class ImportForm(FlaskForm):
    file = FileField(_l("CSV file (UTF-8)"), [FileRequired(_l("Choose a file."))])
    dry_run = BooleanField(_l("Only check the file; import nothing"))


KIND_CHOICES = [("province", _l("Province")), ("agency", _l("Agency")), ("commune", _l("Commune"))]


class UnitForm(FlaskForm):
    code = StringField(_l("Official code"), [REQUIRED, too_long(20), printable])
    code_list = StringField(_l("Code list (version)"), [REQUIRED, too_long(30), printable])
    name = StringField(_l("Name"), [REQUIRED, too_long(200), printable])
    kind = SelectField(_l("Kind"), choices=options(KIND_CHOICES))
    parent_id = SelectField(_l("Parent unit"), coerce=int, validate_choice=False)
    valid_from = DateField(_l("Valid from"), [Optional()])


class UnitEditForm(FlaskForm):
    code = StringField(_l("Official code"), [REQUIRED, too_long(20), printable])
    code_list = StringField(_l("Code list (version)"), [REQUIRED, too_long(30), printable])
    name = StringField(_l("Name"), [REQUIRED, too_long(200), printable])
    kind = SelectField(_l("Kind"), choices=options(KIND_CHOICES))


class UnitMoveForm(FlaskForm):
    parent_id = SelectField(_l("New parent unit"), coerce=int, validate_choice=False)
    effective_on = DateField(_l("Effective on"), [Optional()])


class UnitMergeForm(FlaskForm):
    target_id = SelectField(_l("Merge into"), coerce=int, validate_choice=False)
    effective_on = DateField(_l("Effective on"), [Optional()])


ROLE_ACR_CHOICES = [("", _l("None")), ("urn:motid:loa:2", _l("Level 2: second factor")),
                    ("urn:motid:loa:3", _l("Level 3: digital-signature certificate"))]


class RoleForm(FlaskForm):
    code = StringField(_l("Code (e.g. one_stop.receiver)"), [REQUIRED, too_long(80), printable])
    name = StringField(_l("Name"), [REQUIRED, too_long(200), printable])
    description = TextAreaField(_l("Description"), [Optional(), too_long(2000)])
    client_id = SelectField(_l("Application"), validate_choice=False)
    min_acr = SelectField(_l("Required assurance"), choices=options(ROLE_ACR_CHOICES), default="")


class RoleEditForm(FlaskForm):
    name = StringField(_l("Name"), [REQUIRED, too_long(200), printable])
    description = TextAreaField(_l("Description"), [Optional(), too_long(2000)])
    min_acr = SelectField(_l("Required assurance"), choices=options(ROLE_ACR_CHOICES), default="")


class ClientForm(FlaskForm):
    client_name = StringField(_l("Name"), [REQUIRED, too_long(200), printable])
    redirect_uris = TextAreaField(_l("Redirect URIs (one per line)"), [Optional(), too_long(20000)])
    post_logout_redirect_uris = TextAreaField(_l("Post-logout redirect URIs (one per line)"),
                                              [Optional(), too_long(20000)])
    request_uris = TextAreaField(_l("Request object URIs (request_uri, one per line)"),
                                 [Optional(), too_long(20000)])
    backchannel_logout_uri = StringField(_l("Back-channel logout URI"), [Optional(), too_long(2000), printable])
    frontchannel_logout_uri = StringField(_l("Front-channel logout URI"), [Optional(), too_long(2000), printable])
    token_endpoint_auth_method = SelectField(_l("Client authentication"), choices=options([
        ("client_secret_basic", "client_secret_basic"), ("client_secret_post", "client_secret_post"),
        ("client_secret_jwt", "client_secret_jwt"), ("private_key_jwt", "private_key_jwt"),
        ("none", _l("none (public client)")), ("tls_client_auth", "tls_client_auth"),
        ("self_signed_tls_client_auth", "self_signed_tls_client_auth")]))
    tls_client_auth_field = SelectField(_l("Certificate subject (tls_client_auth)"), choices=options([
        ("", _l("None")), ("tls_client_auth_subject_dn", _l("Distinguished name")),
        ("tls_client_auth_san_dns", _l("DNS name")), ("tls_client_auth_san_uri", "URI"),
        ("tls_client_auth_san_ip", _l("IP address")), ("tls_client_auth_san_email", _l("Email address"))]),
        default="")
    tls_client_auth_value = StringField(_l("Certificate subject value"), [Optional(), too_long(1000), printable])
    subject_type = SelectField(_l("Subject identifier"), choices=options([
        ("", _l("Server default")), ("public", _l("Public: the same for every application")),
        ("pairwise", _l("Pairwise: different for each sector"))]), default="")
    sector_identifier_uri = StringField(_l("Sector identifier URI"), [Optional(), too_long(2000), printable])
    grant_authorization_code = BooleanField(_l("Authorization code (people log in)"), default=True)
    grant_refresh_token = BooleanField(_l("Refresh tokens"))
    grant_client_credentials = BooleanField(_l("Client credentials (the application itself)"))
    grant_device_code = BooleanField(_l("Device code (kiosks and counter screens, RFC 8628)"))
    grant_token_exchange = BooleanField(_l("Token exchange (a service acting for a person, RFC 8693)"))
    scope = StringField(_l("Allowed scopes (space-separated)"), [Optional(), too_long(1000), printable])
    first_party = BooleanField(_l("First-party (no consent page)"))
    require_pkce = BooleanField(_l("Require PKCE"))
    dpop_bound_access_tokens = BooleanField(_l("DPoP-bound access tokens (every token request needs a DPoP proof)"))
    require_pushed_authorization_requests = BooleanField(_l("Require pushed authorization requests (PAR)"))
    default_acr_values = SelectField(_l("Required assurance"), choices=options([
        ("", _l("None")), ("urn:motid:loa:1", _l("Level 1: password")),
        ("urn:motid:loa:2", _l("Level 2: second factor")),
        ("urn:motid:loa:3", _l("Level 3: digital-signature certificate"))]))
    access_token_lifetime = IntegerField(_l("Access token lifetime (seconds, empty: server default)"),
                                         [Optional(), NumberRange(min=1, max=2**31 - 1)])
    id_token_lifetime = IntegerField(_l("ID token lifetime (seconds)"), [Optional(), NumberRange(min=1, max=2**31 - 1)])
    refresh_token_lifetime = IntegerField(_l("Refresh token lifetime (seconds)"),
                                          [Optional(), NumberRange(min=1, max=2**31 - 1)])
    etag = HiddenField()


class ExchangeRuleForm(FlaskForm):
    """One row of the table of services an application may obtain tokens for (idp.admin.exchange)."""

    audience = StringField(_l("Service (audience name or resource URI)"), [REQUIRED, too_long(2000), printable])
    scope = StringField(_l("Scopes allowed at most (space-separated)"), [REQUIRED, too_long(1000), printable])


class KeyRotateForm(FlaskForm):
    alg = SelectField(_l("Algorithm"), choices=options([("ES256", "ES256"), ("RS256", "RS256"), ("EdDSA", "EdDSA")]))
    delay = IntegerField(_l("Seconds before it signs (empty: server default)"),
                         [Optional(), NumberRange(min=0, max=30 * 86400)])


class TrustFileForm(FlaskForm):
    file = FileField(_l("CA certificate file (PEM, DER or .cer; a PEM file may hold several)"),
                     [FileRequired(_l("Choose a file."))])


class CrlFileForm(FlaskForm):
    file = FileField(_l("Certificate revocation list (PEM or DER)"), [FileRequired(_l("Choose a file."))],
                     id="crl-file")  # beside TrustFileForm on one page


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    tag = StringField(_l("Tag (exact, or a prefix ending in :)"), [Optional(), too_long(80), printable])
    account = StringField(_l("Account (sub)"), [Optional(), too_long(64), printable])
    client_id = StringField(_l("Application (client_id)"), [Optional(), too_long(64), printable])
    ip = StringField(_l("IP address"), [Optional(), too_long(45), printable])
    since = DateField(_l("From (date)"), [Optional()])
    until = DateField(_l("Until (date, inclusive)"), [Optional()])


class UpstreamForm(FlaskForm):
    """An upstream identity provider. Every value is judged by the registry; empty on a new provider takes
    the profile's default, and an empty secret leaves the stored one."""

    etag = HiddenField()
    name = StringField(_l("Name (lower-case letters, digits and hyphens; in the redirect URI)"),
                       [Optional(), too_long(40), printable])
    profile = SelectField(_l("Profile"), choices=options([
        ("vneid", _l("VNeID (national electronic identification)")),
        ("dvcqg", _l("DVCQG (national public-service portal)")), ("oidc", _l("Other OpenID Connect provider")),
        ("zalo", _l("Zalo (link only, level 1)"))]))
    issuer = StringField(_l("Issuer URL (https; empty for Zalo)"), [Optional(), too_long(500), printable])
    client_id = StringField(_l("Client ID MotID received"), [Optional(), too_long(200), printable])
    client_secret = PasswordField(_l("Client secret (empty: unchanged)"), [Optional(), too_long(500), printable])
    token_auth_method = SelectField(_l("Client authentication"), choices=options([
        ("", _l("The profile's default")), ("client_secret_basic", "client_secret_basic"),
        ("client_secret_post", "client_secret_post"), ("private_key_jwt", "private_key_jwt")]), default="")
    scopes = StringField(_l("Scopes (space-separated; empty on a new provider: the profile's)"),
                         [Optional(), too_long(500), printable])
    acr_values = StringField(_l("acr_values to send (e.g. LoA1; may be empty)"), [Optional(), too_long(200), printable])
    display_name = StringField(_l("Button text (empty on a new provider: the profile's)"),
                               [Optional(), too_long(100), printable])
    position = IntegerField(_l("Button order (lower first)"), [Optional()])
    enabled = BooleanField(_l("Offered on the login page"), default=True)
    endpoints = TextAreaField(_l("Endpoints discovery does not give (NAME=URL, one per line)"),
                              [Optional(), too_long(3000)])
