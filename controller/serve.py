"""`deskside-controller serve`: FastAPI (uvicorn) and grpc.aio on one asyncio loop.

SIGTERM or SIGINT stops it gracefully: HTTP stops accepting, agents' streams get a grace
period, presence is recorded, the database is closed. Once listening, the bound addresses
are written to DATA_DIR/controller.json so tools and tests can use port 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
from collections.abc import Generator

import uvicorn

from controller.api.app import create_app
from controller.container import build_controller
from controller.desk.delivery import DeliveryWorker
from controller.desk.sweeper import DeskSweeper
from controller.errors import ConfigError
from controller.gateway.server import build_grpc_server
from controller.mail_server import MailServer, start_mail_server
from controller.settings import Settings, split_listen
from controller.transports.checks import RemoteChecks
from controller.transports.schedule import RemoteInventory

log = logging.getLogger(__name__)
GRPC_GRACE_S = 5.0


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # serve() owns the signals: uvicorn would re-raise them when it returns, killing
        # the process before the gRPC side has stopped.
        yield


def _public_address(listen: str, bound_port: int) -> str:
    host, _ = split_listen(listen)
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - recognising a wildcard, not binding one
        host = socket.getfqdn()
    return f"[{host}]:{bound_port}" if ":" in host else f"{host}:{bound_port}"


def _write_runtime_file(path: str, addresses: dict[str, object]) -> None:
    with open(path + ".tmp", "w") as f:
        json.dump(addresses, f)
    os.replace(path + ".tmp", path)


def _runtime_file(settings: Settings) -> str:
    return str(settings.data_dir / "controller.json")


def _http_socket(listen: str) -> socket.socket:
    """Bind before anything else starts, so a taken port fails fast with a clear error.

    The socket is made with IPPROTO_TCP and TCP_NODELAY: asyncio turns Nagle off only
    for sockets whose proto says TCP (create_server leaves it 0), and with Nagle on
    every small response waited ~40 ms for the client's delayed ACK.
    """
    host, port = split_listen(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it
        sock.bind((host, port))
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"DESKSIDE_HTTP_LISTEN: cannot listen on {listen}: {exc.strerror}"
        ) from None
    return sock


async def serve(settings: Settings) -> None:
    http_socket = _http_socket(settings.http_listen)
    controller = await build_controller(settings)
    delivery = DeliveryWorker(controller.sessions, settings)
    mail_server: MailServer | None = None
    try:
        grpc_server = build_grpc_server(controller)
        if settings.smtp_listen is not None:
            mail_server = await start_mail_server(controller, on_change=delivery.wake)
    except ConfigError:
        await delivery.aclose()
        await controller.close()
        http_socket.close()
        raise
    await grpc_server.start()
    controller.agent_address = settings.public_grpc_address or _public_address(
        settings.grpc_listen, grpc_server.gateway_port
    )
    assert settings.enroll_listen is not None
    controller.enroll_address = _public_address(settings.enroll_listen, grpc_server.enroll_port)
    host, _ = split_listen(settings.http_listen)
    http_port = http_socket.getsockname()[1]
    http = _Server(
        uvicorn.Config(
            create_app(controller),
            host=host,
            port=http_port,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
        )
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: setattr(http, "should_exit", True))
    background = [
        asyncio.create_task(controller.presence.run()),
        asyncio.create_task(controller.dispatcher.run()),
        asyncio.create_task(delivery.run()),
        asyncio.create_task(DeskSweeper(controller.sessions).run()),
        asyncio.create_task(controller.loop.run()),
    ]
    if controller.remote is not None:
        schedule = RemoteInventory(
            controller.sessions, controller.remote, settings.inventory_interval_s
        )
        checks = RemoteChecks(controller.sessions, controller.remote, controller.checks.store)
        background += [asyncio.create_task(schedule.run()), asyncio.create_task(checks.run())]
    http_task = asyncio.create_task(http.serve(sockets=[http_socket]))
    while not http.started and not http_task.done():  # noqa: ASYNC110 - uvicorn has no event
        await asyncio.sleep(0.01)
    runtime = _runtime_file(settings)
    if http.started:
        addresses = {
            "pid": os.getpid(),
            "http": f"{host}:{http_port}",
            "grpc": controller.agent_address,
            "enroll": controller.enroll_address,
            "ca_hash": controller.ca.ca_hash,
        }
        if mail_server is not None:
            addresses["smtp"] = mail_server.address
        _write_runtime_file(runtime, addresses)
        log.info(
            "deskside controller ready: http %s, grpc %s, enroll %s, database %s",
            addresses["http"],
            addresses["grpc"],
            addresses["enroll"],
            controller.engine.dialect.name,
        )
    try:
        await http_task
    finally:
        log.info("stopping")
        await controller.presence.close_all("controller stopping")
        await grpc_server.stop(GRPC_GRACE_S)
        if mail_server is not None:
            mail_server.close()
        if controller.playbooks is not None:
            await controller.playbooks.close()  # what still plays ends as interrupted
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await controller.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(runtime)
        log.info("stopped")
