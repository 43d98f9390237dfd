"""Throwaway self-signed certificates for tests (cert.check fixtures, TLS test servers)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed(
    common_name: str,
    *,
    not_before: dt.timedelta,
    not_after: dt.timedelta,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A P-256 certificate valid from now - not_before to now + not_after, and its key;
    extensions are (extension, critical) pairs."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - not_before)
        .not_valid_after(now + not_after)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key, hashes.SHA256()), key


def write_pem(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
