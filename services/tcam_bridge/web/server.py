"""Serving the web app with uvicorn inside an asyncio program that owns the signals."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Generator
from typing import Any

import uvicorn
from fastapi import FastAPI

from tcam_bridge.settings import Settings


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the caller decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (port 0: a free one). Raises OSError (e.g. the port is
    taken) before anything else starts, instead of uvicorn's ``sys.exit``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def make_server(
    app: FastAPI, host: str, port: int, *, forwarded_allow_ips: str = "127.0.0.1"
) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        # The app logs each request itself, without the query string; uvicorn's access log
        # would write the full URL.
        access_log=False,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
        lifespan="off",
    )
    return _Server(config)


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Generator[None, None, None]:
    """Set ``stop`` on SIGINT/SIGTERM while inside the block."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not the main thread
            pass
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def serve_until(server: uvicorn.Server, sock: socket.socket, stop: asyncio.Event) -> None:
    """Run ``server`` on ``sock`` until ``stop`` is set (or the server ends), then shut down."""
    task = asyncio.create_task(server.serve(sockets=[sock]))
    waiter = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        waiter.cancel()
        await task


async def run_web(settings: Settings, log: Any) -> None:
    """``tcam web``: migrate the database, then serve the risk log and the pharmacy inbox (on the
    same database) until SIGINT/SIGTERM."""
    from tcam_bridge.inbox.store import Inbox
    from tcam_bridge.risklog.db import make_engine, sessions, upgrade
    from tcam_bridge.risklog.store import RiskLog
    from tcam_bridge.risklog.users import Users
    from tcam_bridge.web.app import create_app

    if settings.web_session_secret is None:
        log.warning("web_session_secret_unset", effect="sessions end when the service restarts")
    if not (settings.oidc_issuer and settings.oidc_audience):
        log.info("oidc_not_configured", effect="the API accepts session cookies only")
    sock = bind(settings.web_host, settings.web_port)
    url = settings.database_url.get_secret_value()
    await upgrade(url)
    engine = make_engine(url)
    try:
        maker = sessions(engine)
        app = create_app(settings, RiskLog(maker), Users(maker), inbox=Inbox(maker), logger=log)
        server = make_server(app, settings.web_host, settings.web_port)
        stop = asyncio.Event()
        log.info("listening", host=settings.web_host, port=sock.getsockname()[1])
        with stop_on_signals(stop):
            await serve_until(server, sock, stop)
    finally:
        sock.close()
        await engine.dispose()
