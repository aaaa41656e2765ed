"""`ctcensus demo-city`, `demo` and `serve`: the demo data and the web server (gunicorn)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from assessment.config import Settings
from item_bank import content_dir
from webapp.commands.common import Context, cli_actor, pass_ctx
from webapp.commands.items_cli import load_item_files
from webapp.commands.results_cli import demo_result_urls, run_demo_census


@click.command("demo-city")
@click.option("--seed", default=113, show_default=True)
@pass_ctx
def demo_city(ctx: Context, seed: int) -> None:
    """Generate the synthetic Keelung roster (7 districts, 50 schools, ~5,350 students)."""
    from assessment.roster import generate_demo_city

    with ctx.transaction() as session:
        city = generate_demo_city(session, seed=seed, actor=cli_actor())
    click.echo(
        f"demo city: {city.districts} districts, {city.elementary_schools} elementary + "
        f"{city.junior_high_schools} junior-high schools, {city.classes} classes, "
        f"{city.grade5_students} grade-5 and {city.grade8_students} grade-8 students "
        f"({city.one_class_schools} one-class schools)"
    )


def prepare_demo(ctx: Context, url: str = "http://127.0.0.1:5000", *, census: bool = True) -> list[str]:
    """Schema, then whatever part of the demo is missing (the simulated census too); returns the lines to print."""
    from assessment.demo import DEMO_ACCOUNTS, DEMO_WINDOW, seed_demo
    from assessment.migrate import upgrade

    upgrade(ctx.engine)
    bank = load_item_files(str(content_dir()))
    with ctx.transaction() as session:
        demo = seed_demo(session, bank)
        lines = [f"item bank: {demo.items} starter items ({demo.items_added} newly imported)"]
        if demo.city is not None:
            lines.append(f"demo city: {demo.city.elementary_schools + demo.city.junior_high_schools} schools, "
                         f"{demo.city.grade5_students} grade-5 and {demo.city.grade8_students} grade-8 students")
        lines.append("demo logins (staff):")
        for username, (role, password, school) in DEMO_ACCOUNTS.items():
            lines.append(f"  {username:<11} / {password:<20} ({role}{', school ' + school if school else ''})")
        for form in demo.forms:
            lines.append(f"form {form.id}: {form.code} v{form.version}, grade {form.grade}, "
                         f"{len(form.items)} items, {form.time_limit_minutes} min")
        ts = demo.session
        if ts is not None:
            klass = ts.school_class
            lines.append(f"test session {ts.id}: {klass.school.name_zh} {klass.name}, form {ts.form.code}, "
                         f"{ts.time_limit_minutes} min")
            lines.append(f"students: open {url}/take and type a ticket:")
            for row in demo.tickets:
                seat = row.seat if row.seat is not None else "-"
                lines.append(f"  seat {seat:>2}  {row.name:<6} {row.ticket_display}")
            lines.append(f"proctor (log in as 'proctor'): printable tickets at {url}/proctor/sessions/{ts.id}/tickets, "
                         f"live class view at {url}/proctor/sessions/{ts.id}")
    if census:
        lines += run_demo_census(ctx, DEMO_WINDOW)
        lines += demo_result_urls(ctx, url)
        lines.append(f"exports: {url}/results, or `ctcensus results export --window {DEMO_WINDOW} --level school "
                     f"--out schools.csv`")
    return lines


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--workers", default=2, show_default=True)
@click.option("--no-serve", is_flag=True, help="prepare the demo data and exit")
@click.option("--no-census", is_flag=True,
              help="skip the simulated census and its results (every other class stays free for sessions, "
                   "e.g. for python -m loadtest)")
@pass_ctx
def demo(ctx: Context, host: str, port: int, workers: int, no_serve: bool, no_census: bool) -> None:
    """Prepare the demo (schema, starter items, demo city, logins) and start the server."""
    if not no_serve:
        _check_bind(ctx, host)
        _check_port(host, port)
    for line in prepare_demo(ctx, url=f"http://{host}:{port}", census=not no_census):
        click.echo(line)
    if not no_serve:
        _serve(ctx, host, port, workers)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--workers", default=2, show_default=True)
@pass_ctx
def serve(ctx: Context, host: str, port: int, workers: int) -> None:
    """Run the web app under gunicorn and the research queue's worker (starting the embedded Redis when REDIS_URL is unset)."""
    _serve(ctx, host, port, workers)


def network_refusal(settings: Settings, host: str) -> str | None:
    """Why the server must not listen on `host` with these settings, or None when it may.

    Without a configured SECRET_KEY (the instance's generated key, or the
    published development key) the server answers on the loopback interface only.
    """
    if _loopback(host) or not (settings.secret_key_generated or settings.weak_secret_key):
        return None
    return (f"refusing to serve on {host} without a configured SECRET_KEY (the development key is for "
            "127.0.0.1 only); set SECRET_KEY (python -c 'import secrets; print(secrets.token_hex(32))') "
            "or use --host 127.0.0.1")


def _loopback(host: str) -> bool:
    import ipaddress

    name = host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _check_bind(ctx: Context, host: str) -> None:
    reason = network_refusal(ctx.settings, host)
    if reason:
        raise click.ClickException(reason)


def _socket_host(host: str, *, connect: bool = False) -> str:
    """`host` as the socket calls take it; to connect to a wildcard address, its loopback."""
    name = host.strip("[]")
    if connect and name in ("", "0.0.0.0", "*"):
        return "127.0.0.1"
    if connect and name == "::":
        return "::1"
    return name


def _check_port(host: str, port: int) -> None:
    """Refuse at once, naming the port, when `host:port` cannot be bound (gunicorn would retry, then fail)."""
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(_socket_host(host), port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
            probe.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"port {port} on {host} is already in use (another ctcensus or web server?); stop that program "
                f"or choose another port with --port") from None
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _accepts_connections(host: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection((_socket_host(host, connect=True), port), timeout=0.5):
            return True
    except OSError:
        return False


def _serve(ctx: Context, host: str, port: int, workers: int) -> None:
    """Run gunicorn until it stops; say "running" only once the port accepts connections.

    Exits with gunicorn's status when it fails (status 1 when it ends without
    ever listening), so scripts and service managers see the failure.
    """
    import time

    from assessment.hotstate import embedded_redis_url

    _check_bind(ctx, host)
    _check_port(host, port)

    env = dict(os.environ)
    env.setdefault("CTCENSUS_INSTANCE", str(ctx.settings.instance_path))
    if not ctx.settings.redis_url:
        # One embedded redis-server, owned by this process, shared by every worker.
        env["REDIS_URL"] = embedded_redis_url(ctx.settings.instance_path)
    conf = Path(__file__).resolve().parents[1] / "gunicorn_conf.py"  # webapp/gunicorn_conf.py
    cmd = [sys.executable, "-m", "gunicorn", "-c", str(conf), "-b", f"{host}:{port}", "-w", str(workers),
           "webapp:create_app()"]
    server = subprocess.Popen(cmd, env=env)
    # the worker of the research queue (calibration runs), stopped with the server
    worker = subprocess.Popen([sys.executable, "-m", "webapp.cli", "worker"], env=env)
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True
        server.terminate()

    # A stop by SIGTERM (kill, systemd, a container runtime) ends gunicorn gracefully and then
    # this process normally, so the embedded redis-server it owns is shut down at exit too.
    signal.signal(signal.SIGTERM, stop)
    listening = False
    while True:
        try:
            if listening:
                status = server.wait()
                break
            polled = server.poll()
            if polled is not None:
                status = polled
                break
            if _accepts_connections(host, port):
                listening = True
                click.echo(f"ctcensus is running at http://{host}:{port}/  (Ctrl+C to stop)")
            else:
                time.sleep(0.1)
        except KeyboardInterrupt:
            stopping = True  # Ctrl+C reached gunicorn too (same process group): wait for it to finish
    _stop_worker(worker)
    if status != 0 or not (listening or stopping):
        click.echo(f"ctcensus: gunicorn exited with status {status} "
                   f"{'' if listening else f'before listening on {host}:{port} '}(its messages are above)", err=True)
        sys.exit(status or 1)


def _stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """Stop the queue worker: SIGTERM lets it finish its job's current step; a stuck one is killed after 10 s."""
    if worker.poll() is None:
        worker.terminate()
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
