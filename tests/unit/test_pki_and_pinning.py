from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from agent.enrollment import EnrollError, default_enroll_address, pinned_ca
from controller.errors import EnrollmentRefused
from controller.pki import CertificateAuthority, ca_fingerprint, certificate_serial
from protos.deskside.v1 import SERVER_NAME


def _csr(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, cn: str = "laptop") -> bytes:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def _der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority(tmp_path_factory.mktemp("pki"))


def test_ca_is_created_once_and_reloaded(ca: CertificateAuthority) -> None:
    again = CertificateAuthority(ca.directory)
    assert again.ca_hash == ca.ca_hash
    assert (ca.directory / "ca.key").stat().st_mode & 0o777 == 0o600
    assert ca.ca_hash == "sha256:" + hashlib.sha256(_der(ca.ca_pem)).hexdigest()


def test_server_certificate_carries_the_fixed_name(ca: CertificateAuthority) -> None:
    cert = x509.load_pem_x509_certificate(ca.server_cert_pem)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert SERVER_NAME in names.get_values_for_type(x509.DNSName)
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca.ca_pem))


def test_agent_certificate_names_the_endpoint_not_the_csr_subject(ca: CertificateAuthority) -> None:
    issued = ca.sign_agent_csr(_csr(ec.generate_private_key(ec.SECP256R1()), cn=SERVER_NAME), "e-1")
    cert = x509.load_pem_x509_certificate(issued.pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "e-1"
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert certificate_serial(issued.pem) == issued.serial


@pytest.mark.parametrize(
    ("csr_pem", "message"),
    [
        (b"not a csr", "not a valid PEM CSR"),
        (_csr(rsa.generate_private_key(65537, 1024)), "2048 bits"),
        (_csr(ec.generate_private_key(ec.SECP521R1())), "EC P-256/P-384 or RSA"),
    ],
)
def test_bad_csrs_are_refused(ca: CertificateAuthority, csr_pem: bytes, message: str) -> None:
    with pytest.raises(EnrollmentRefused, match=message) as refused:
        ca.sign_agent_csr(csr_pem, "e-2")
    assert refused.value.reason == "bad_csr"


def test_pinned_ca_accepts_only_the_hash_that_matches(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    chain = [_der(ca.server_cert_pem), _der(ca.ca_pem)]
    assert pinned_ca(chain, ca.ca_hash).strip() == ca.ca_pem.strip()
    assert (
        pinned_ca(chain, ca.ca_hash.upper().replace("SHA256", "sha256")).strip()
        == ca.ca_pem.strip()
    )
    with pytest.raises(EnrollError, match="does not match the pinned hash"):
        pinned_ca(chain, "sha256:" + "ab" * 32)
    with pytest.raises(EnrollError, match="expected sha256:<64 hex digits>"):
        pinned_ca(chain, "sha1:abcd")
    # An impostor presenting our CA beside its own leaf: the pin matches, the signature not.
    other = CertificateAuthority(tmp_path / "other")
    with pytest.raises(EnrollError, match="not issued by the pinned CA"):
        pinned_ca([_der(other.server_cert_pem), _der(ca.ca_pem)], ca.ca_hash)


def test_fingerprint_matches_what_agents_compute(ca: CertificateAuthority) -> None:
    assert ca_fingerprint(ca.ca_pem) == ca.ca_hash


def test_enrolment_port_defaults_to_grpc_plus_one() -> None:
    assert default_enroll_address("ctl.example:50051") == "ctl.example:50052"
    with pytest.raises(EnrollError, match="--controller: expected HOST:PORT"):
        default_enroll_address("ctl.example")
