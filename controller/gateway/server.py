"""The gRPC server: the mTLS agent gateway and the enrolment listener, one grpc.aio server."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from controller.container import Controller
from controller.errors import ConfigError
from controller.gateway.agent_stream import AgentGatewayService
from controller.gateway.enrollment_service import EnrollmentService
from controller.settings import split_listen
from protos.deskside.v1 import agent_pb2_grpc

MAX_MESSAGE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class GrpcServer:
    server: grpc.aio.Server
    health: HealthServicer
    gateway_port: int
    enroll_port: int

    async def start(self) -> None:
        await self.server.start()
        await self.health.set("", health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace_s: float) -> None:
        """Refuse new streams, give open ones grace_s to finish, then cancel them."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_s)


def _options(controller: Controller) -> list[tuple[str, int]]:
    heartbeat_ms = int(controller.settings.heartbeat_interval_s * 1000)
    return [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        # Agents ping during long silences to notice dead links; allow it.
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", max(1000, heartbeat_ms // 4)),
        ("grpc.http2.max_ping_strikes", 0),
        # Bandwidth probing pings every time a heartbeat arrives: most of an idle
        # agent's bytes on the wire, for a stream that never needs a large window.
        ("grpc.http2.bdp_probe", 0),
        # grpc sets SO_REUSEPORT by default: a second controller could then bind the same
        # port and silently take half the agents. A taken port must be an error.
        ("grpc.so_reuseport", 0),
    ]


def _add_port(
    server: grpc.aio.Server, setting: str, listen: str, creds: grpc.ServerCredentials
) -> int:
    host, port = split_listen(listen)
    try:
        bound = server.add_secure_port(
            f"[{host}]:{port}" if ":" in host else f"{host}:{port}", creds
        )
    except RuntimeError:  # grpcio's way of saying the bind failed
        bound = 0
    if bound == 0:
        raise ConfigError(f"{setting}: cannot listen on {listen} (address in use or not local)")
    return bound


def build_grpc_server(controller: Controller) -> GrpcServer:
    server = grpc.aio.server(options=_options(controller))
    agent_pb2_grpc.add_AgentGatewayServicer_to_server(AgentGatewayService(controller), server)
    agent_pb2_grpc.add_EnrollmentServicer_to_server(EnrollmentService(controller), server)
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    ca = controller.ca
    gateway_port = _add_port(
        server,
        "DESKSIDE_GRPC_LISTEN",
        controller.settings.grpc_listen,
        grpc.ssl_server_credentials(
            [(ca.server_key_pem, ca.server_cert_pem)],
            root_certificates=ca.ca_pem,
            require_client_auth=True,
        ),
    )
    # The chain includes the CA so a new agent can check it against its pinned hash.
    assert controller.settings.enroll_listen is not None
    enroll_port = _add_port(
        server,
        "DESKSIDE_ENROLL_LISTEN",
        controller.settings.enroll_listen,
        grpc.ssl_server_credentials([(ca.server_key_pem, ca.server_cert_pem + ca.ca_pem)]),
    )
    return GrpcServer(server, health_servicer, gateway_port, enroll_port)
