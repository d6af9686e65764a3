"""Upstream identity providers (VNeID, DVCQG, any OpenID provider, Zalo) as administrators see them:
console and API both go through here, and here through the one registry
(:class:`idp.accounts.upstream.registry.UpstreamRegistry`, also behind ``idp upstreams``), which validates,
encrypts the client secret and records ``admin:upstream:add|update|remove``.

Who may: the capabilities of trusted certification authorities. An upstream decides who reaches assurance
level 2 and which account a national login opens, exactly as a trusted CA decides who reaches level 3, so
``trust.read`` (province administrator, auditor) sees them and ``trust.write`` (province administrator, and
the server's command line; never automation) changes them; through the API, the ``admin:trust`` scope.
The client secret is write-only: never shown, only whether one is set.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..accounts.upstream.flow import callback_url
from ..accounts.upstream.models import UpstreamProvider
from ..accounts.upstream.registry import (ENDPOINTS, InvalidProvider, ProviderExists, ProviderNotFound,
                                          UpstreamRegistry)
from .authz import Actor, refuse, require

NOT_FOUND = _l("There is no upstream provider with this name.")
NOTHING_CHANGED = _l("Nothing was changed.")
# The registry's field → the message id an administrator reads (idp.admin.messages).
CODES = {"name": "upstream.name", "profile": "upstream.profile", "issuer": "upstream.url",
         "client_id": "upstream.text", "client_secret": "upstream.client_secret",
         "token_auth_method": "upstream.token_auth_method", "scopes": "upstream.scopes",
         "acr_values": "upstream.tokens", "display_name": "upstream.text", "position": "upstream.position",
         "endpoints": "upstream.endpoints"}
# In a change, null clears these (the registry reads an empty value as "none").
CLEARABLE = {"acr_values": "", "endpoints": {}}


def registry() -> UpstreamRegistry:
    return UpstreamRegistry.from_app()


def represent(provider: UpstreamProvider) -> dict:
    return {"name": provider.name, "profile": provider.profile, "issuer": provider.issuer,
            "client_id": provider.client_id, "has_secret": provider.client_secret is not None,
            "token_auth_method": provider.token_auth_method, "scopes": provider.scopes,
            "acr_values": provider.acr_values, "display_name": provider.display_name,
            "position": provider.position, "enabled": provider.enabled, "endpoints": provider.endpoints,
            "redirect_uri": callback_url(provider.name), "created_at": provider.created_at.isoformat(),
            "updated_at": provider.updated_at.isoformat()}


def listing(actor: Actor) -> list[UpstreamProvider]:
    """In button order."""
    require(actor, "trust.read", "upstream.list")
    return registry().list()


def get(actor: Actor, name: str, *, write: bool = False) -> UpstreamProvider:
    action = "upstream.update" if write else "upstream.read"
    require(actor, "trust.write" if write else "trust.read", action)
    provider = registry().get(name) if len(name) <= 40 else None  # a name never longer (the column)
    if provider is None:
        raise refuse(actor, action, "not_found", NOT_FOUND, status=404, target=name)
    return provider


def _refused(actor: Actor, action: str, exc: InvalidProvider, target=None):
    """The registry's refusal in the administration's shape: the field and a message id; the registry's
    own wording (English) goes into the recorded refusal."""
    if isinstance(exc, ProviderNotFound):
        return refuse(actor, action, "not_found", NOT_FOUND, status=404, target=target)
    field = "endpoints" if exc.field in ENDPOINTS else exc.field
    code = "upstream.url" if exc.field in ENDPOINTS else CODES.get(field, "field.invalid")
    if isinstance(exc, ProviderExists):
        return refuse(actor, action, "conflict", _l("An upstream provider with this name exists already."),
                      status=409, target=target, fields={"name": "upstream.name_taken"})
    return refuse(actor, action, "invalid_input", NOTHING_CHANGED, status=422, target=target,
                  fields={field: code}, extra={"problem": str(exc)[:300]})


def create(actor: Actor, data: dict) -> UpstreamProvider:
    """Register a provider; settings not given take the profile's defaults."""
    action = "upstream.add"
    require(actor, "trust.write", action)
    settings = {k: v for k, v in data.items() if k != "name"}
    try:
        return registry().add(data.get("name"), actor=actor.account_id, context=actor.via(),
                              **settings)
    except InvalidProvider as exc:
        raise _refused(actor, action, exc, target=data.get("name")) from None


def update(actor: Actor, provider: UpstreamProvider, changes: dict) -> UpstreamProvider:
    """Change the settings given (null clears ``acr_values`` or ``endpoints``); a secret given replaces
    the stored one, none leaves it."""
    action = "upstream.update"
    require(actor, "trust.write", action)
    changes = {k: CLEARABLE[k] if v is None and k in CLEARABLE else v for k, v in changes.items()}
    try:
        return registry().update(provider.name, actor=actor.account_id, context=actor.via(),
                                 **changes)
    except InvalidProvider as exc:
        raise _refused(actor, action, exc, target=provider.name) from None


def remove(actor: Actor, name: str) -> None:
    """Remove a provider: its button goes at once; links to accounts stay, unused, until it is added again."""
    action = "upstream.remove"
    require(actor, "trust.write", action)
    try:
        registry().remove(name, actor=actor.account_id, context=actor.via())
    except InvalidProvider as exc:
        raise _refused(actor, action, exc, target=name) from None
