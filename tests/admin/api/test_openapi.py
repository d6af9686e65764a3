"""The API against its own OpenAPI 3.1 document (schemathesis): every operation, with generated
valid and invalid input, answers as documented (status, media type, body schema) and never fails
on the server's side."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.specs.openapi.checks import positive_data_acceptance

API = "/admin/api/v1"
# An update whose If-Match names another version is answered 412 before its body is read (RFC 9110
# §13.2.1: preconditions come before the content is processed), so 412 is a correct refusal of a
# negative case that also sends a stale If-Match.
CONFIG = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {
    "expected-statuses": ["400", "401", "403", "404", "405", "406", "409", "412", "415", "422", "428", "429", "5xx"]}}})


def test_the_document_is_served_and_names_every_route(app):
    document = app.test_client().get(f"{API}/openapi.json").json
    assert document["openapi"] == "3.1.0"
    documented = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API) and not rule.rule.endswith("openapi.json"):
            path = rule.rule[len(API):].replace("<int:", "<").replace("<", "{").replace(">", "}")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                if "any(" in path:
                    for what in ("disable", "enable", "unlock"):
                        routed.add(("/accounts/{sub}/" + what, method))
                else:
                    routed.add((path.replace("{what}", ""), method))
    assert routed == documented


def run_operation(operation, mode, headers, examples):
    failures = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def check(case):
        # The document cannot state every rule (check digits, uniqueness, a unit within the caller's
        # reach), so a schema-valid request may still be refused with 422: not a conformance failure.
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    try:
        check()
    except Unsatisfiable:
        assert mode is schemathesis.GenerationMode.NEGATIVE  # nothing to get wrong in a call without input
    except Exception as exc:  # collect every operation's failure, then report them together
        failures.append(f"{mode.value} {operation.label}: {exc}")
    return failures


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
def test_api_conforms_to_its_document(app, world, token, mode):
    """Positive: generated valid requests. Negative: requests that break the document must be refused
    with a 4xx problem, never accepted and never a server error."""
    api = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", app, config=CONFIG)
    headers = token("province", "admin:accounts admin:clients admin:audit admin:trust")
    failures = []
    for result in api.get_all_operations():
        failures += run_operation(result.ok(), mode, headers, examples=25)
    assert not failures, "\n\n".join(failures)
