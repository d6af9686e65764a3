"""The ``idp`` command: a Flask CLI group over the same services the web uses."""
from __future__ import annotations

import sys

import click
from flask.cli import FlaskGroup, pass_script_info

from .config import ConfigError


def _create_app():
    from . import create_app
    try:
        return create_app()
    except ConfigError as exc:
        click.echo(f"idp: refusing to start: {exc}", err=True)
        sys.exit(2)


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False, load_dotenv=False)
def main():
    """MotID identity provider."""


def register_commands(app) -> None:
    from .accounts.cli import accounts_cli
    from .demo import demo_cli
    from .oidc.cli import clients_cli, deliveries_cli, keys_cli

    for command in (accounts_cli, demo_cli, clients_cli, keys_cli, deliveries_cli):
        if command.name not in app.cli.commands:
            app.cli.add_command(command)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes")
@click.option("--threads", default=4, show_default=True, type=int,
              help="threads per worker (argon2 and the database release the GIL, so threads keep the cores busy)")
@click.option("--no-worker", is_flag=True, help="do not start the logout-delivery worker beside the server")
@click.option("--access-log/--no-access-log", default=False, show_default=True,
              help="log every request (the reverse proxy usually does this already)")
@pass_script_info
def serve(info, host, port, workers, threads, no_worker, access_log):
    """Serve the application with gunicorn."""
    from gunicorn.app.base import BaseApplication

    from .db import db

    # No application context may be active while serving: Flask would reuse it for every
    # request, sharing ``g`` between requests.
    flask_app = info.load_app()
    with flask_app.app_context():
        # Create the first signing keys before the workers start, then close the connections:
        # engines must not be shared across the fork.
        flask_app.extensions["idp.keys"].ensure()
        db.engine.dispose()

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            if access_log:
                self.cfg.set("accesslog", "-")
            self.cfg.set("graceful_timeout", 10)

        def load(self):
            return flask_app

    helper = None
    if not no_worker:
        # Back-channel logouts are delivered by a separate process, so no page ever waits for them.
        import subprocess
        helper = subprocess.Popen([sys.executable, "-m", "idp", "worker"])
    try:
        Server().run()
    finally:
        if helper is not None:
            helper.terminate()
            helper.wait(timeout=10)


# On the group itself, not app.cli: Flask pushes an application context around app commands,
# and a context alive while serving would be shared by every request (``g`` included).
main.add_command(serve)


def _worker_command():
    from .oidc.cli import worker
    return worker


main.add_command(_worker_command())
