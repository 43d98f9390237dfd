"""X.509 certificates described for cert.check: who, by whom, until when."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography import x509


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sans(cert: x509.Certificate) -> list[str]:
    from cryptography import x509

    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    kinds = (x509.DNSName, x509.IPAddress, x509.UniformResourceIdentifier, x509.RFC822Name)
    return [str(name.value) for name in names if isinstance(name, kinds)]


def describe(cert: x509.Certificate, now: dt.datetime | None = None) -> dict[str, Any]:
    from cryptography.hazmat.primitives import hashes

    now = now or dt.datetime.now(dt.UTC)
    not_after = cert.not_valid_after_utc
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "x"),
        "not_before": stamp(cert.not_valid_before_utc),
        "not_after": stamp(not_after),
        "days_left": round((not_after - now).total_seconds() / 86400, 1),
        "expired": not_after < now,
        "not_yet_valid": cert.not_valid_before_utc > now,
        "self_signed": cert.subject == cert.issuer,
        "sans": _sans(cert),
        "sha256": cert.fingerprint(hashes.SHA256()).hex(":").upper(),
    }


def describe_der(der: bytes) -> dict[str, Any]:
    from cryptography import x509

    return describe(x509.load_der_x509_certificate(der))


MAX_CERT_FILE = 1 << 20  # a PEM bundle larger than this is not a certificate file


def describe_file(raw: bytes) -> list[dict[str, Any]]:
    """Every certificate in a PEM bundle, or the one DER certificate raw holds, described.

    Raises ValueError when raw holds no certificate.
    """
    from cryptography import x509

    if b"-----BEGIN CERTIFICATE-----" in raw:
        certs = x509.load_pem_x509_certificates(raw)
    else:
        certs = [x509.load_der_x509_certificate(raw)]
    return [describe(cert) for cert in certs]
