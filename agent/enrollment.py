"""`deskside-agent enroll`: pin the controller's CA, make a key, trade a token for a certificate.

The CA is checked against the hash given on the command line before anything is sent, so
the token never reaches an impostor and nothing is trusted on first use. The private key
is made here and never leaves the machine.
"""

from __future__ import annotations

import hashlib
import platform
import socket
import ssl
from dataclasses import dataclass

import grpc

from agent import __version__
from protos.deskside.v1 import SERVER_NAME, agent_pb2, agent_pb2_grpc

ENROLL_TIMEOUT_S = 30.0


class EnrollError(RuntimeError):
    """Enrolment failed; the message says which input was wrong and why."""


@dataclass(frozen=True)
class Enrolled:
    endpoint_id: str
    key_pem: bytes
    cert_pem: bytes
    ca_pem: bytes
    site: str
    tags: list[str]


def split_address(value: str, field: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise EnrollError(f"{field}: expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def default_enroll_address(controller: str) -> str:
    """The controller's enrolment listener defaults to its gRPC port + 1."""
    host, port = split_address(controller, "--controller")
    return f"{host}:{port + 1}"


def _presented_chain(host: str, port: int) -> list[bytes]:
    """The DER certificates the server presents, unverified: we verify them by pin."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    try:
        with (
            socket.create_connection((host, port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=SERVER_NAME) as tls,
        ):
            # Public from Python 3.13; the same method on the internal object before that.
            chain_of = getattr(tls, "get_unverified_chain", None)
            if chain_of is None:  # before Python 3.13 only the internal object has it
                chain_of = tls._sslobj.get_unverified_chain  # type: ignore[attr-defined]
            chain = chain_of()
    except OSError as exc:
        raise EnrollError(
            f"--controller: cannot reach the enrolment port {host}:{port}: {exc}"
        ) from None
    return [c if isinstance(c, bytes) else c.public_bytes(ssl._ssl.ENCODING_DER) for c in chain]  # type: ignore[attr-defined]


def pinned_ca(chain: list[bytes], ca_hash: str) -> bytes:
    """The PEM of the certificate in chain whose SHA-256 is ca_hash, checked to sign the leaf."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.serialization import Encoding

    algorithm, _, expected = ca_hash.partition(":")
    if algorithm != "sha256" or len(expected) != 64:
        raise EnrollError(f"--ca-hash: expected sha256:<64 hex digits>, got {ca_hash!r}")
    for der in chain:
        if hashlib.sha256(der).hexdigest() == expected.lower():
            ca = x509.load_der_x509_certificate(der)
            leaf = x509.load_der_x509_certificate(chain[0])
            try:
                leaf.verify_directly_issued_by(ca)
            except (ValueError, TypeError, InvalidSignature) as exc:
                raise EnrollError(
                    f"--ca-hash: the server certificate is not issued by the pinned CA ({exc})"
                ) from None
            return ca.public_bytes(Encoding.PEM)
    seen = ", ".join("sha256:" + hashlib.sha256(d).hexdigest() for d in chain[1:]) or "none"
    raise EnrollError(
        f"--ca-hash: the controller's CA does not match the pinned hash {ca_hash} "
        f"(it presented {seen}); refusing to send the token"
    )


def _new_key_and_csr(hostname: str) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname[:64])]))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, csr.public_bytes(serialization.Encoding.PEM)


def enroll(
    controller: str, token: str, ca_hash: str, enroll_address: str | None = None
) -> Enrolled:
    split_address(controller, "--controller")
    host, port = split_address(
        enroll_address or default_enroll_address(controller), "--enroll-address"
    )
    ca_pem = pinned_ca(_presented_chain(host, port), ca_hash)
    hostname = socket.gethostname()
    key_pem, csr_pem = _new_key_and_csr(hostname)
    credentials = grpc.ssl_channel_credentials(root_certificates=ca_pem)
    options = [("grpc.ssl_target_name_override", SERVER_NAME)]
    request = agent_pb2.EnrollRequest(
        token=token,
        csr_pem=csr_pem,
        hostname=hostname,
        agent_version=__version__,
        os=f"{platform.system()} {platform.release()}",
    )
    with grpc.secure_channel(f"{host}:{port}", credentials, options=options) as channel:
        try:
            response = agent_pb2_grpc.EnrollmentStub(channel).Enroll(
                request, timeout=ENROLL_TIMEOUT_S
            )
        except grpc.RpcError as exc:
            detail = exc.details() if isinstance(exc, grpc.Call) else str(exc)
            raise EnrollError(f"the controller refused the enrolment: {detail}") from None
    if response.ca_pem.strip() != ca_pem.strip():
        raise EnrollError("the controller answered with a CA other than the pinned one")
    return Enrolled(
        endpoint_id=response.endpoint_id,
        key_pem=key_pem,
        cert_pem=response.certificate_pem,
        ca_pem=ca_pem,
        site=response.site,
        tags=list(response.tags),
    )
