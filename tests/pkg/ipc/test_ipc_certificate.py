"""The IPC certificate file: what the generated certificate contains and what loading refuses."""

from __future__ import annotations

import datetime
import ipaddress
import re
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from pkg.ipc import (
    InsecureFileModeError,
    IpcError,
    create_or_load_ipc_certificate,
    generate_ipc_certificate,
    load_ipc_certificate,
    parse_ipc_certificate,
    split_ipc_certificate,
)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def test_generated_certificate_is_a_p256_ca_for_server_and_client_with_local_names() -> None:
    cert = generate_ipc_certificate().certificate
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert cert.issuer == cert.subject
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert isinstance(public_key.curve, ec.SECP256R1)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc > datetime.timedelta(days=3600)


def test_certificate_file_is_created_0600_with_certificate_then_key(tmp_path: Path) -> None:
    path = tmp_path / "run" / "ipc_cert.pem"
    created = create_or_load_ipc_certificate(path)
    data = path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert data.startswith(b"-----BEGIN CERTIFICATE-----")
    assert data.index(b"-----END CERTIFICATE-----") < data.index(b"-----BEGIN EC PRIVATE KEY-----")
    assert data == created.cert_pem + created.key_pem


def test_reload_gives_the_same_certificate(tmp_path: Path) -> None:
    path = tmp_path / "ipc_cert.pem"
    first = create_or_load_ipc_certificate(path)
    assert create_or_load_ipc_certificate(path) == first
    assert load_ipc_certificate(path) == first


def test_pkcs8_key_is_accepted(tmp_path: Path) -> None:
    generated = generate_ipc_certificate()
    key = serialization.load_pem_private_key(generated.key_pem, None)
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    loaded = load_ipc_certificate(_write(tmp_path / "c.pem", generated.cert_pem + pkcs8))
    assert loaded.cert_pem == generated.cert_pem
    assert loaded.key_pem == pkcs8


def test_world_readable_certificate_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ipc_cert.pem"
    create_or_load_ipc_certificate(path)
    path.chmod(0o644)
    with pytest.raises(InsecureFileModeError, match="chmod 600"):
        create_or_load_ipc_certificate(path)


def test_certificate_without_key_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "ipc_cert.pem", generate_ipc_certificate().cert_pem)
    with pytest.raises(IpcError, match=re.escape(f"{path} holds no PEM private key")):
        load_ipc_certificate(path)


def test_key_without_certificate_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "ipc_cert.pem", generate_ipc_certificate().key_pem)
    with pytest.raises(IpcError, match="no PEM certificate"):
        load_ipc_certificate(path)


def test_key_of_another_certificate_is_refused(tmp_path: Path) -> None:
    data = generate_ipc_certificate().cert_pem + generate_ipc_certificate().key_pem
    with pytest.raises(IpcError, match="does not belong to the certificate"):
        load_ipc_certificate(_write(tmp_path / "ipc_cert.pem", data))


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RSAPrivateKey"),
        (ec.generate_private_key(ec.SECP384R1()), "EC secp384r1"),
    ],
)
def test_key_that_is_not_ec_p256_is_refused(key: object, kind: str) -> None:
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(IpcError, match=f"the private key is .*{kind}.*expected EC P-256"):
        parse_ipc_certificate(generate_ipc_certificate().cert_pem + pem, Path("x.pem"))


def test_encrypted_key_is_refused() -> None:
    generated = generate_ipc_certificate()
    key = serialization.load_pem_private_key(generated.key_pem, None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    with pytest.raises(IpcError, match="unencrypted"):
        parse_ipc_certificate(generated.cert_pem + encrypted, Path("x.pem"))


def test_expired_certificate_is_refused() -> None:
    old = generate_ipc_certificate(now=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))
    with pytest.raises(IpcError, match="not now; delete it"):
        parse_ipc_certificate(old.file_content(), Path("x.pem"))


def test_garbage_is_refused_with_the_file_name(tmp_path: Path) -> None:
    path = _write(tmp_path / "ipc_cert.pem", b"not a pem file")
    with pytest.raises(IpcError, match=re.escape(f"{path} holds no PEM certificate")):
        load_ipc_certificate(path)


def test_split_checks_the_structure_only(tmp_path: Path) -> None:
    generated = generate_ipc_certificate()
    path = _write(tmp_path / "ipc_cert.pem", generated.file_content())
    assert load_ipc_certificate(path, validate=False) == load_ipc_certificate(path) == generated
    # A key of another certificate passes the structural check; the TLS handshake refuses it.
    mismatched = generated.cert_pem + generate_ipc_certificate().key_pem
    assert split_ipc_certificate(mismatched, Path("x.pem")).key_pem != generated.key_pem
    with pytest.raises(IpcError, match="does not belong to the certificate"):
        parse_ipc_certificate(mismatched, Path("x.pem"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a pem file", "holds no PEM certificate"),
        (generate_ipc_certificate().cert_pem, "holds no PEM private key"),
        (generate_ipc_certificate().key_pem * 2, "holds no PEM certificate"),
        (generate_ipc_certificate().file_content() + generate_ipc_certificate().key_pem, "2 private keys"),
    ],
)
def test_split_refuses_a_malformed_file(content: bytes, message: str) -> None:
    with pytest.raises(IpcError, match=message):
        split_ipc_certificate(content, Path("x.pem"))


def test_split_refuses_an_encrypted_key_in_either_pem_form() -> None:
    generated = generate_ipc_certificate()
    key = serialization.load_pem_private_key(generated.key_pem, None)
    secret = serialization.BestAvailableEncryption(b"secret")
    for key_format in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
        encrypted = key.private_bytes(serialization.Encoding.PEM, key_format, secret)
        with pytest.raises(IpcError, match="the private key is encrypted, it must be unencrypted"):
            split_ipc_certificate(generated.cert_pem + encrypted, Path("x.pem"))
