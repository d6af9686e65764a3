"""The app refuses unsafe production configurations and keeps secrets under a master key."""
from __future__ import annotations

import os
import stat

import pytest
from cryptography.fernet import Fernet

from idp import create_app
from idp.config import ConfigError, from_environ, validate
from idp.security import MasterKey, load_master_key


@pytest.mark.parametrize("overrides, reason", [
    ({"IDP_ISSUER": "http://idp.camau.gov.vn"}, "http on a non-loopback host"),
    ({"IDP_ISSUER": "https://idp.camau.gov.vn", "IDP_DEBUG": True}, "IDP_DEBUG"),
    ({"IDP_ISSUER": "https://idp.camau.gov.vn/"}, "trailing slash"),
    ({"IDP_ISSUER": "idp.camau.gov.vn"}, "absolute http(s) URL"),
    ({"IDP_ISSUER": "https://idp.camau.gov.vn?x=1"}, "no query"),
    ({"IDP_DATABASE_URL": "postgresql+psycopg://db/motid", "IDP_MASTER_KEY": ""}, "IDP_MASTER_KEY"),
    ({"IDP_ARGON2_MEMORY_KIB": 1}, "argon2"),
    ({"IDP_SESSION_IDLE_SECONDS": 0}, "positive"),
    ({"IDP_ISSUER": "https://[2001:db8::1]"}, "IPv6 literal"),
    ({"IDP_TRUSTED_HOSTS": "idp.camau.gov.vn, https://x.example"}, "IDP_TRUSTED_HOSTS: 'https://x.example'"),
    ({"IDP_TRUSTED_HOSTS": "lb.example:8080"}, "IDP_TRUSTED_HOSTS"),
    ({"IDP_REDIS_URL": "memory://"}, "IDP_REDIS_URL must be a redis://"),
    ({"RATELIMIT_STORAGE_URI": "memory://"}, "counted by each process alone"),
])
def test_unsafe_configuration_is_refused(config, overrides, reason):
    with pytest.raises(ConfigError) as info:
        create_app({**config, **overrides})
    assert reason in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("issuer", ["http://localhost:5000", "http://127.0.0.1:5000", "http://[::1]:8080",
                                    "https://idp.camau.gov.vn", "https://idp.camau.gov.vn/motid"])
def test_safe_issuers_are_accepted(config, issuer):
    validate({**from_environ({}), **config, "IDP_ISSUER": issuer, "IDP_DEBUG": issuer.startswith("http://")})


@pytest.mark.parametrize("config_values, hosts", [
    ({"IDP_ISSUER": "https://idp.camau.gov.vn"}, ["idp.camau.gov.vn"]),
    ({"IDP_ISSUER": "https://idp.camau.gov.vn/motid", "IDP_TRUSTED_HOSTS": " lb.camau.gov.vn,.nodes.camau.gov.vn "},
     ["idp.camau.gov.vn", "lb.camau.gov.vn", ".nodes.camau.gov.vn"]),
    ({"IDP_ISSUER": "http://127.0.0.1:5000"}, ["127.0.0.1", "localhost"]),
    ({"IDP_ISSUER": "https://idp.camau.gov.vn", "SERVER_NAME": "localhost:5000"}, ["idp.camau.gov.vn", "localhost"]),
    ({"IDP_ISSUER": "http://[::1]:8080"}, None),  # Werkzeug cannot match an IPv6 Host; loopback only
])
def test_trusted_hosts_come_from_the_issuer(config_values, hosts):
    from idp.config import trusted_hosts
    assert trusted_hosts(config_values) == hosts


def test_a_request_for_another_host_gets_a_plain_400(config):
    app = create_app({**config, "IDP_ISSUER": "https://idp.camau.gov.vn", "SERVER_NAME": None,
                      "IDP_TRUSTED_HOSTS": "lb.camau.gov.vn"})
    client = app.test_client()
    assert client.get("/healthz", base_url="https://lb.camau.gov.vn:8443").status_code == 200
    for host in ("localhost", "idp.camau.gov.vn.evil.example", "evil.example"):
        refused = client.get("/login", base_url=f"https://{host}")
        assert refused.status_code == 400 and refused.mimetype == "text/plain", host


def test_environment_is_read_with_types():
    values = from_environ({"IDP_DEBUG": "true", "IDP_SESSION_IDLE_SECONDS": "90", "IDP_ISSUER": ""})
    assert values["IDP_DEBUG"] is True and values["IDP_SESSION_IDLE_SECONDS"] == 90
    assert values["IDP_ISSUER"] == "http://127.0.0.1:5000"  # empty means default
    with pytest.raises(ConfigError, match="integer"):
        from_environ({"IDP_LOCKOUT_SECONDS": "soon"})


def test_defaults_are_secure():
    values = from_environ({})
    assert values["IDP_ARGON2_MEMORY_KIB"] >= 19 * 1024 and values["IDP_ARGON2_TIME_COST"] >= 2
    assert values["IDP_DEBUG"] is False


def test_master_key_file_is_created_private_for_the_embedded_default(config, tmp_path):
    keys = tmp_path / "fresh-keys"
    embedded = {**config, "IDP_MASTER_KEY": "", "IDP_KEYS_PATH": str(keys), "IDP_DATABASE_URL": ""}
    app = create_app(embedded)
    path = keys / "master.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    secret = app.extensions["idp.master_key"].encrypt(b"totp-secret")
    again = create_app(embedded)
    assert again.extensions["idp.master_key"].decrypt(secret) == b"totp-secret"


def test_shared_database_never_creates_a_key(tmp_path):
    with pytest.raises(ConfigError):
        load_master_key({"IDP_MASTER_KEY": "", "IDP_KEYS_PATH": str(tmp_path),
                         "IDP_DATABASE_URL": "postgresql://db/motid"})
    assert not (tmp_path / "master.key").exists()


def test_master_key_rotates():
    old, new = Fernet.generate_key(), Fernet.generate_key()
    sealed = MasterKey([old]).encrypt(b"secret")
    rotated = MasterKey([new, old])
    assert rotated.decrypt(sealed) == b"secret"
    resealed = rotated.rotate(sealed)
    assert MasterKey([new]).decrypt(resealed) == b"secret"


def test_malformed_master_key_is_refused(config):
    with pytest.raises(ConfigError, match="Fernet"):
        create_app({**config, "IDP_MASTER_KEY": "not-a-key"})


def test_bad_smtp_scheme_is_refused(config):
    with pytest.raises(ConfigError, match="IDP_SMTP_URL"):
        create_app({**config, "IDP_SMTP_URL": "http://mail"})


def test_cli_refuses_with_one_line(tmp_path):
    import subprocess
    import sys
    env = {**os.environ, "IDP_ISSUER": "http://idp.camau.gov.vn", "IDP_KEYS_PATH": str(tmp_path),
           "IDP_INSTANCE_PATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "idp", "accounts", "list"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == "idp: refusing to start: IDP_ISSUER uses http on a non-loopback host; use https"


def test_https_issuer_sets_secure_cookies_and_hsts(config, accounts):
    from tests.conftest import login
    app = create_app({**config, "IDP_ISSUER": "https://idp.camau.gov.vn"})
    client = app.test_client()
    response = client.get("/login", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Secure" in response.headers["Set-Cookie"]
