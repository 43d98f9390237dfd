"""The Enrollment service: a one-time token and a CSR in, a client certificate out."""

from __future__ import annotations

import logging

import grpc

from controller.container import Controller
from controller.errors import EnrollmentRefused
from controller.fleet import enrollment
from protos.deskside.v1 import agent_pb2, agent_pb2_grpc

log = logging.getLogger(__name__)

_STATUS = {
    "token_unknown": grpc.StatusCode.UNAUTHENTICATED,
    "token_used": grpc.StatusCode.UNAUTHENTICATED,
    "token_expired": grpc.StatusCode.UNAUTHENTICATED,
}


class EnrollmentService(agent_pb2_grpc.EnrollmentServicer):
    def __init__(self, controller: Controller) -> None:
        self._controller = controller

    async def Enroll(
        self,
        request: agent_pb2.EnrollRequest,
        context: grpc.aio.ServicerContext[agent_pb2.EnrollRequest, agent_pb2.EnrollResponse],
    ) -> agent_pb2.EnrollResponse:
        try:
            async with self._controller.sessions() as session:
                enrolled = await enrollment.enroll(
                    session,
                    self._controller.ca,
                    token=request.token,
                    csr_pem=request.csr_pem,
                    hostname=request.hostname,
                    agent_version=request.agent_version,
                    os_name=request.os,
                )
        except EnrollmentRefused as exc:
            log.warning("enrolment from %s refused: %s", context.peer(), exc)
            code = _STATUS.get(exc.reason, grpc.StatusCode.INVALID_ARGUMENT)
            await context.abort(code, f"{exc.reason}: {exc}")
        log.info("enrolled %s as endpoint %s", request.hostname, enrolled.endpoint_id)
        return agent_pb2.EnrollResponse(
            endpoint_id=enrolled.endpoint_id,
            certificate_pem=enrolled.certificate_pem,
            ca_pem=self._controller.ca.ca_pem,
            site=enrolled.site or "",
            tags=enrolled.tags,
        )
