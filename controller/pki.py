"""The controller's certificate authority: agents' client certificates and its own server one.

Created at first start in DATA_DIR/pki. Agents pin the CA by the SHA-256 of its DER
encoding (``ca_hash``) at enrolment, so nobody has to trust on first use. Agents verify
the server certificate against the fixed name SERVER_NAME rather than whatever address
they dial, so NAT and address changes do not break TLS; only this CA issues that name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from controller.errors import EnrollmentRefused
from protos.deskside.v1 import SERVER_NAME

CA_LIFETIME = dt.timedelta(days=3650)
SERVER_LIFETIME = dt.timedelta(days=365)
AGENT_LIFETIME = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def ca_fingerprint(ca_pem: bytes) -> str:
    der = x509.load_pem_x509_certificate(ca_pem).public_bytes(serialization.Encoding.DER)
    return "sha256:" + hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class IssuedCertificate:
    pem: bytes
    serial: str
    not_after: dt.datetime


class CertificateAuthority:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._key, self.certificate = self._load_or_create_ca()
        self.ca_pem = self.certificate.public_bytes(serialization.Encoding.PEM)
        self.ca_hash = ca_fingerprint(self.ca_pem)
        self.server_key_pem, self.server_cert_pem = self._load_or_issue_server()

    def _load_or_create_ca(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key_path, cert_path = self.directory / "ca.key", self.directory / "ca.pem"
        if key_path.exists() and cert_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{key_path} is not an EC private key")
            return key, x509.load_pem_x509_certificate(cert_path.read_bytes())
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = _new_key()
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "deskside"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"deskside CA {socket.gethostname()}"),
            ]
        )
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + CA_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        _write_private(key_path, _key_pem(key))
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return key, cert

    def _load_or_issue_server(self) -> tuple[bytes, bytes]:
        key_path, cert_path = self.directory / "server.key", self.directory / "server.pem"
        if key_path.exists() and cert_path.exists():
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            if cert.not_valid_after_utc - _now() > RENEW_BEFORE:
                return key_path.read_bytes(), cert_path.read_bytes()
        key = _new_key()
        names: list[x509.GeneralName] = [
            x509.DNSName(SERVER_NAME),
            x509.DNSName("localhost"),
            x509.DNSName(socket.gethostname()),
        ]
        cert = self._issue(
            key.public_key(),
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)]),
            ExtendedKeyUsageOID.SERVER_AUTH,
            SERVER_LIFETIME,
            x509.SubjectAlternativeName(names),
        )
        key_pem = _key_pem(key)
        _write_private(key_path, key_pem)
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        cert_path.write_bytes(cert_pem)
        return key_pem, cert_pem

    def _issue(
        self,
        public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
        subject: x509.Name,
        usage: x509.ObjectIdentifier,
        lifetime: dt.timedelta,
        alt_names: x509.SubjectAlternativeName | None = None,
    ) -> x509.Certificate:
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + lifetime)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )
        if alt_names is not None:
            builder = builder.add_extension(alt_names, critical=False)
        return builder.sign(self._key, hashes.SHA256())

    def sign_agent_csr(self, csr_pem: bytes, endpoint_id: str) -> IssuedCertificate:
        """Issue a client certificate for endpoint_id; the CSR's own subject is ignored."""
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
            valid_signature = csr.is_signature_valid
        except (ValueError, InvalidSignature) as exc:
            raise EnrollmentRefused("bad_csr", f"csr_pem: not a valid PEM CSR ({exc})") from None
        if not valid_signature:
            raise EnrollmentRefused("bad_csr", "csr_pem: the CSR's signature does not verify")
        public_key = csr.public_key()
        if isinstance(public_key, rsa.RSAPublicKey):
            if public_key.key_size < 2048:
                raise EnrollmentRefused("bad_csr", "csr_pem: RSA keys must have 2048 bits or more")
        elif not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name not in (
            "secp256r1",
            "secp384r1",
        ):
            raise EnrollmentRefused("bad_csr", "csr_pem: key must be EC P-256/P-384 or RSA")
        cert = self._issue(
            public_key,
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, endpoint_id)]),
            ExtendedKeyUsageOID.CLIENT_AUTH,
            AGENT_LIFETIME,
        )
        return IssuedCertificate(
            pem=cert.public_bytes(serialization.Encoding.PEM),
            serial=format(cert.serial_number, "x"),
            not_after=cert.not_valid_after_utc,
        )


def certificate_serial(cert_pem: bytes) -> str:
    return format(x509.load_pem_x509_certificate(cert_pem).serial_number, "x")
