"""deploy/: the environment file documents every setting MotID reads, and the systemd units start what
exists."""
from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from idp.cli import main
from idp.config import SETTINGS, from_environ, validate

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def env_lines() -> dict:
    found = {}
    for line in (DEPLOY / "motid.env").read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"(#?)(IDP_[A-Z0-9_]+)=(.*)", line)
        if match:
            found[match.group(2)] = (match.group(1) == "", match.group(3))
    return found


def test_the_environment_file_has_every_setting_and_only_those():
    assert set(env_lines()) == {setting.name for setting in SETTINGS}


def test_the_commented_lines_show_the_real_defaults():
    defaults = {setting.name: setting.default for setting in SETTINGS}
    for name, (active, value) in env_lines().items():
        if not active:
            shown = defaults[name]
            shown = ("true" if shown else "false") if isinstance(shown, bool) else str(shown)
            assert value == shown, name


def test_the_production_values_pass_validation_once_the_master_key_is_set():
    from cryptography.fernet import Fernet
    values = {name: value for name, (active, value) in env_lines().items() if active}
    values["IDP_MASTER_KEY"] = Fernet.generate_key().decode()
    validate(from_environ(values))


def test_the_units_run_commands_that_exist():
    for unit in ("motid-web.service", "motid-worker.service"):
        text = (DEPLOY / "systemd" / unit).read_text(encoding="utf-8")
        for command in re.findall(r"^Exec(?:Start|StartPre)=/opt/motid/venv/bin/idp (.+)$", text, re.MULTILINE):
            args = command.split()
            result = CliRunner().invoke(main, args[:2] + ["--help"] if args[0] in ("db",) else [args[0], "--help"])
            assert result.exit_code == 0, (unit, command, result.output)
            for option in re.findall(r"(--[a-z-]+)", command):
                assert option in result.output, (unit, option)
