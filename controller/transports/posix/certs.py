"""cert.check on the endpoint: a PEM or DER file it holds, or a TLS server it reaches
(openssl s_client runs there: the controller may not reach that network)."""

from __future__ import annotations

import re
from typing import Any

from catalogue import ActionResult
from catalogue.outcomes.certs import checked
from catalogue.probes.x509 import MAX_CERT_FILE, describe_file
from controller.transports.base import RemoteContext
from controller.transports.posix.common import (
    NOT_FOUND,
    Refused,
    lstat,
    read_bytes,
    said,
)

CERT_TIMEOUT_S = 10.0
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
_VERIFY = re.compile(r"Verify return code: (\d+) \(([^)]*)\)")


def _load(raw: bytes, source: str) -> list[dict[str, Any]]:
    try:
        return describe_file(raw)
    except ValueError as exc:
        raise Refused("failed", f"no certificate in {source}: {exc}") from None


def _from_file(ctx: RemoteContext, path: str) -> dict[str, Any]:
    if lstat(ctx, path).size > MAX_CERT_FILE:
        raise Refused("failed", f"{path} is larger than a certificate")
    return {"source": path, "certificates": _load(read_bytes(ctx, path), path)}


def _from_endpoint(ctx: RemoteContext, host: str, port: int) -> dict[str, Any]:
    where = f"{host}:{port}"
    connect = f"[{host}]:{port}" if ":" in host else where
    argv = ["openssl", "s_client", "-connect", connect, "-servername", host, "-showcerts"]
    argv += ["-verify_hostname", host]  # trust means the name matches too, as in the agent
    # stdin closed at once: s_client hangs up after the handshake instead of waiting.
    done = ctx.run(argv, timeout=CERT_TIMEOUT_S + 10, stdin="")
    if done.returncode == NOT_FOUND:
        raise Refused("not_supported", "no openssl on the endpoint to reach a TLS server")
    chain = _PEM.findall(done.stdout.encode())
    if not chain:
        raise Refused("failed", f"{where}: {said(done)}")
    verdict = _VERIFY.search(done.stdout)
    verified = verdict is not None and verdict.group(1) == "0"
    verify_error = None if verified else verdict.group(2) if verdict else "not verified"
    certificates = [cert for pem in chain for cert in _load(pem, where)]
    found = {"source": where, "verified": verified, "verify_error": verify_error}
    return found | {"certificates": certificates}


def cert_check(params: Any, ctx: RemoteContext) -> ActionResult:
    try:
        if params.path is not None:
            data = _from_file(ctx, params.path)
        else:
            data = _from_endpoint(ctx, params.host, params.port)
    except Refused as exc:
        return exc.result()
    return checked(data)


ACTIONS = {"cert.check": cert_check}
