"""/metrics (Prometheus text format): who may read it, and that the counters move with real flows.

The counters are this process's (every app a test builds shares them), so each test compares a scrape
before and after what it does. The last test scrapes a live ``idp serve`` with two worker processes.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from idp.config import ConfigError
from idp.logs import JsonFormatter, redact
from tests.conftest import free_port, live_database, wait_until_up
from tests.oidc.helpers import basic, code_for, exchange, make_client


def scrape(client, **kwargs) -> dict:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"].startswith("text/plain")
    return samples(response.get_data(as_text=True))


def samples(text: str) -> dict:
    """``{(name, ((label, value), ...)): value}`` of every sample."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def moved(before: dict, after: dict, name: str, **labels) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0) - before.get(key, 0)


@pytest.fixture
def metrics_app(make_app):
    return make_app(IDP_METRICS_ALLOW="127.0.0.1,10.0.0.0/8", IDP_METRICS_TOKEN="scrape-token-for-tests")


def test_metrics_are_off_unless_a_reader_is_allowed(client):
    assert client.get("/metrics").status_code == 404


def test_only_allowed_addresses_or_the_token_may_read(metrics_app):
    client = metrics_app.test_client()
    assert client.get("/metrics").status_code == 200  # 127.0.0.1, the test client's address
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    outside = {"REMOTE_ADDR": "203.0.113.7"}
    assert client.get("/metrics", environ_base=outside).status_code == 404
    assert client.get("/metrics", environ_base=outside,
                      headers={"Authorization": "Bearer wrong"}).status_code == 404
    assert client.get("/metrics", environ_base=outside,
                      headers={"Authorization": "Bearer scrape-token-for-tests"}).status_code == 200


def test_logins_tokens_requests_and_reuse_are_counted(metrics_app, accounts):
    accounts()
    browser, rp = metrics_app.test_client(), metrics_app.test_client()
    client_id, secret = make_client(metrics_app, scope="openid profile offline_access")
    before = scrape(rp)
    code, _ = code_for(metrics_app, browser, client_id, scope="openid profile offline_access",
                       prompt="consent")
    tokens = exchange(rp, client_id, secret, code).get_json()
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert rp.post("/token", data=refresh, headers=basic(client_id, secret)).status_code == 200
    assert rp.post("/token", data=refresh, headers=basic(client_id, secret)).status_code == 400  # reuse
    browser.post("/login", data={"identifier": "096301001234", "password": "wrong"})
    after = scrape(rp)

    assert moved(before, after, "idp_logins_total", method="pwd", result="success") == 1
    assert moved(before, after, "idp_tokens_issued_total", grant_type="authorization_code") == 1
    assert moved(before, after, "idp_tokens_issued_total", grant_type="refresh_token") == 1
    assert moved(before, after, "idp_refresh_token_reuse_total") == 1
    assert moved(before, after, "idp_audit_events_total", tag="account:login:success") == 1
    assert moved(before, after, "idp_http_request_duration_seconds_count",
                 endpoint="oidc.token", method="POST", status="200") == 2
    assert moved(before, after, "idp_http_request_duration_seconds_count",
                 endpoint="oidc.token", method="POST", status="400") == 1
    assert ("idp_backchannel_outbox_pending", ()) in after


def test_published_documents_are_labelled_by_name(metrics_app):
    client = metrics_app.test_client()
    before = scrape(client)
    assert client.get("/.well-known/openid-configuration").status_code == 200
    after = scrape(client)
    assert moved(before, after, "idp_http_request_duration_seconds_count",
                 endpoint="published.discovery", method="GET", status="200") == 1


def test_grant_type_labels_are_bounded(metrics_app):
    from idp import metrics
    for index in range(metrics.GRANT_TYPES_COUNTED + 5):
        metrics.count_token(f"urn:example:grant:{index}")
    labels = {key[1] for key in scrape(metrics_app.test_client()) if key[0] == "idp_tokens_issued_total"}
    assert len(labels) <= metrics.GRANT_TYPES_COUNTED + 1  # + "other"


@pytest.mark.parametrize("setting", [{"IDP_METRICS_ALLOW": "not-a-network"}, {"IDP_LOG_FORMAT": "xml"}])
def test_bad_observability_settings_refuse_to_start(make_app, setting):
    with pytest.raises(ConfigError):
        make_app(**setting)


def test_json_logs_have_a_line_per_request_and_no_secrets(make_app, caplog):
    app = make_app(IDP_LOG_FORMAT="json")
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="idp.requests"):
        response = client.post("/token", data={"grant_type": "client_credentials", "client_id": "app-1"},
                               headers={"X-Request-ID": "req-12345678"})
    assert response.headers["X-Request-ID"] == "req-12345678"
    record = [r for r in caplog.records if r.name == "idp.requests"][-1]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-12345678" and line["endpoint"] == "oidc.token"
    assert line["status"] == 401 and line["client_id"] == "app-1" and line["duration_ms"] >= 0
    assert client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers["X-Request-ID"] != \
        "bad id with spaces"


def test_redaction_removes_tokens_and_personal_numbers():
    text = ("sub 096301001234 token eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln and "
            "refresh Xk3v9Qm2Lp8Zr4Ty7Wb1Nc6Hd5Gf0Js2Ae")
    cleaned = redact(text)
    assert "096301001234" not in cleaned and "eyJ" not in cleaned and "Xk3v9Qm2" not in cleaned
    assert "[personal-number]" in cleaned and "[jwt]" in cleaned and "[token]" in cleaned


@pytest.mark.live
def test_a_live_server_sums_its_worker_processes(tmp_path):
    with live_database(f"metrics_{os.getpid()}") as database:
        env = {**os.environ, **database, "IDP_KEYS_PATH": str(tmp_path / "keys"),
               "IDP_INSTANCE_PATH": str(tmp_path / "inst"), "IDP_ISSUER": "http://127.0.0.1",
               "IDP_METRICS_ALLOW": "127.0.0.1"}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        idp = [sys.executable, "-m", "idp"]
        subprocess.run(idp + ["db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
        port = free_port()
        process = subprocess.Popen(idp + ["serve", "--port", str(port), "--workers", "2", "--threads", "2",
                                          "--no-worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(process, base, lambda: process.stderr.read().decode()[-2000:])
            first = samples(requests.get(base + "/metrics", timeout=10).text)
            for _ in range(40):  # a new connection each: both workers answer some
                assert requests.get(base + "/healthz", timeout=10).status_code == 200
            scrapes = [samples(requests.get(base + "/metrics", timeout=10).text) for _ in range(6)]
        finally:
            process.terminate()
            process.wait(timeout=20)
    key = ("idp_http_request_duration_seconds_count",
           (("endpoint", "health.healthz"), ("method", "GET"), ("status", "200")))
    # Every scrape, whichever worker answers it, sums the requests of both.
    assert [found.get(key) for found in scrapes] == [first[key] + 40] * 6
