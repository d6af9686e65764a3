"""What the person reads when an upstream login stops, by :class:`.errors.UpstreamError` code or login
flow problem (``upstream.<reason>``), in the catalogues' source language."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

FAILED = _l("The login could not be completed")
ATTENTION = _l("Your account needs attention")
UNVERIFIED = _l("The answer from the identity service could not be verified. Nothing was changed; please "
                "start the login again.")
HELP_DESK = _l("This identity matches another account, or more than one. Nothing was changed; please contact "
               "the province's help desk so that staff can check the accounts.")

PROBLEMS = {
    "unavailable": (FAILED, _l("The identity service is not responding. Please try again in a few minutes.")),
    "denied": (FAILED, _l("The login was cancelled or refused at the identity service.")),
    "provider": (FAILED, _l("This way of logging in is not available.")),
    "upstream.disabled": (ATTENTION, _l("The account for this identity is disabled. Please contact the "
                                        "province's help desk.")),
    "upstream.linked_elsewhere": (ATTENTION, HELP_DESK),
    "upstream.two_accounts": (ATTENTION, HELP_DESK),
    "upstream.number_mismatch": (ATTENTION, HELP_DESK),
    "upstream.kind": (ATTENTION, HELP_DESK),
    "upstream.invalid": (ATTENTION, _l("An account could not be created from the details the identity "
                                       "service sent. Please contact the province's help desk.")),
    "upstream.not_linked": (FAILED, _l("No account is linked to this identity yet. Log in with your password, "
                                       "then link it on the Security page.")),
    "upstream.level_too_low": (FAILED, _l("This identity is not verified strongly enough to open an account. "
                                          "Use a level 2 electronic identification account, or register.")),
    "upstream.step_up_refused": (FAILED, _l("The identity service did not confirm the level this service "
                                            "requires. Use a level 2 electronic identification account, or add "
                                            "an authenticator app on the Security page.")),
}


def problem_text(code: str):
    """(title, text) for ``code``; any check of the upstream's answer that failed reads the same."""
    return PROBLEMS.get(code, (FAILED, UNVERIFIED))
