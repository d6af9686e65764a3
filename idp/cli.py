"""The ``idp`` command: a Flask CLI group over the same services the web uses."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile

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


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--server", "server_name", type=click.Choice(["granian", "gunicorn"]), default="granian",
              show_default=True, help="granian (Rust HTTP, the faster; docs/benchmarks.md) or gunicorn (gthread)")
@click.option("--workers", default=2, show_default=True, type=int, help="worker processes")
@click.option("--threads", default=4, show_default=True, type=int,
              help="threads per worker that run requests (argon2 and the database release the GIL)")
@click.option("--no-worker", is_flag=True, help="do not start the logout-delivery worker beside the server")
@click.option("--access-log/--no-access-log", default=False, show_default=True,
              help="log every request (the reverse proxy usually does this already)")
@pass_script_info
def serve(info, host, port, server_name, workers, threads, no_worker, access_log):
    """Serve the application (SIGHUP: replace the workers gracefully; SIGTERM: stop after the requests in flight)."""
    from .db import db

    # Metrics of every worker and of the delivery worker go to one folder (idp.metrics); it must be
    # named before the application (and so prometheus-client) is loaded.
    metrics_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="motid-metrics-")
    # No application context may be active while serving: Flask would reuse it for every
    # request, sharing ``g`` between requests.
    flask_app = info.load_app()
    with flask_app.app_context():
        # Create the first signing keys before the workers start, then close the connections:
        # engines must not be shared across the fork.
        flask_app.extensions["idp.keys"].ensure()
        db.engine.dispose()
    run = _granian if server_name == "granian" else _gunicorn

    helper = None
    if not no_worker:
        # Back-channel logouts are delivered by a separate process, so no page ever waits for them.
        import subprocess
        helper = subprocess.Popen([sys.executable, "-m", "idp", "worker"])
    try:
        run(flask_app, host, port, workers, threads, access_log)
    finally:
        if helper is not None:
            helper.terminate()
            helper.wait(timeout=10)
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _granian(flask_app, host, port, workers, threads, access_log) -> None:
    """granian's WSGI interface: workers forked from this process (the application is already loaded),
    ``threads`` blocking threads each running requests, at most ``threads * 8`` requests queued per worker."""
    from granian.constants import Interfaces
    from granian.server import Server

    server = Server("idp:create_app", address=host, port=port, interface=Interfaces.WSGI, workers=workers,
                    blocking_threads=threads, backpressure=threads * 8, log_access=access_log,
                    workers_kill_timeout=10)
    server.serve(target_loader=lambda: flask_app, wrap_loader=False)


def _gunicorn(flask_app, host, port, workers, threads, access_log) -> None:
    from gunicorn.app.base import BaseApplication

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

    Server().run()


# On the group itself, not app.cli: Flask pushes an application context around app commands,
# and a context alive while serving would be shared by every request (``g`` included).
main.add_command(serve)


def _worker_command():
    from .oidc.cli import worker
    return worker


main.add_command(_worker_command())
