"""Pushed authorization requests (RFC 9126): the ``/par`` endpoint.

§2.1: the client authenticates as at the token endpoint (a public client names itself with ``client_id``)
and pushes the parameters of an authorization request, which are validated as the authorization endpoint
would (:func:`.authorize.validate`); a ``request`` object may carry them (§3), a ``request_uri`` may not.
§2.2: the answer is 201 with a ``request_uri`` (:mod:`.pushed_requests` keeps it) and ``expires_in``;
§2.3: errors as the token endpoint gives them, JSON and ``no-store``.
"""
from __future__ import annotations

from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from flask import current_app, request

from . import request_object
from .authorize import Checked, validate
from .clients import AUTH_METHODS
from .pushed_requests import LIFETIME, store

# How the client authenticates (RFC 6749 §2.3, RFC 7523 §2.2): not part of the authorization request.
AUTH_PARAMS = ("client_secret", "client_assertion", "client_assertion_type")


def push():
    """POST /par (§2): 201 with the ``request_uri``, or an error as the token endpoint gives it (§2.3)."""
    server = current_app.extensions["idp.oauth"]
    oauth_request = server.create_oauth2_request(request)
    try:
        client = server.authenticate_client(oauth_request, list(AUTH_METHODS), endpoint="pushed_authorization")
        params, datalist = pushed_parameters(client)
        checked = validate(server, client, params, datalist, Checked(params))
        request_object.consume(checked.obj, client, None)  # its jti is spent by the push
        request_uri = store(client.client_id, checked.params)
    except OAuth2Error as error:
        error.redirect_uri = error.state = None  # answered to the client directly, never redirected
        return server.handle_error_response(oauth_request, error)
    return server.handle_response(201, {"request_uri": request_uri, "expires_in": LIFETIME},
                                  [("Content-Type", "application/json")])


def pushed_parameters(client) -> tuple[dict, dict]:
    """The authorization request in the body: without the client's credentials; with a ``request`` object,
    only the object (§3: every other parameter belongs in it)."""
    datalist = {key: request.form.getlist(key) for key in request.form if key not in AUTH_PARAMS}
    params = {key: values[0] for key, values in datalist.items() if values}
    if "request_uri" in params:
        raise InvalidRequestError("request_uri cannot be pushed.")
    if params.get("client_id") != client.client_id:  # §2.1: required, and the authenticated client's
        raise InvalidRequestError("client_id must be the authenticated client's.")
    if "request" in params:
        params = {"client_id": client.client_id, "request": params["request"]}
        datalist = {key: datalist[key] for key in params}
    return params, datalist
