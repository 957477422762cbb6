"""The IPC certificate file: a self-signed EC P-256 certificate followed by its private key (PEM).

The same certificate is the server's, the clients' and the only trust root of both sides, so it is a
CA (``basicConstraints CA:TRUE``, ``keyCertSign``) that may also be used as a leaf (``digitalSignature``,
extended key usages ``serverAuth`` and ``clientAuth``), with the names a local client dials
(``localhost``, ``127.0.0.1``, ``::1``) as subject alternative names.

``cryptography`` is imported by the functions that need it, not by this module: a short-lived client
that only splits the file (:func:`split_ipc_certificate`, ``load_ipc_certificate(validate=False)``)
and leaves the cryptographic checks to the TLS handshake starts without it.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pkg.ipc.errors import IpcError
from pkg.ipc.secret_files import publish_new_file, read_private_file

if TYPE_CHECKING:
    from cryptography import x509

__all__ = [
    "CERT_SAN_DNS_NAMES",
    "CERT_SAN_IP_ADDRESSES",
    "CERT_VALIDITY",
    "IpcCertificate",
    "create_or_load_ipc_certificate",
    "generate_ipc_certificate",
    "load_ipc_certificate",
    "parse_ipc_certificate",
    "split_ipc_certificate",
]

_log = logging.getLogger(__name__)

CERT_SAN_DNS_NAMES = ("localhost",)
CERT_SAN_IP_ADDRESSES = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
CERT_VALIDITY = datetime.timedelta(days=3650)
# Tolerate clocks of other processes (containers) that are slightly behind ours.
_BACKDATE = datetime.timedelta(hours=1)
_WHAT = "IPC certificate file"
_REGENERATE = "; delete it and restart the core agent to create a new one"
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.DOTALL)
_ENCRYPTED_PEM_HEADER = b"Proc-Type: 4,ENCRYPTED"


@dataclass(frozen=True)
class IpcCertificate:
    """PEM certificate (chain) and PEM private key, as handed to grpc."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        """The (first) certificate, parsed."""
        from cryptography import x509

        return x509.load_pem_x509_certificate(self.cert_pem)

    def file_content(self) -> bytes:
        """What the certificate file holds: the certificate followed by the key."""
        return self.cert_pem + self.key_pem


def generate_ipc_certificate(*, now: datetime.datetime | None = None) -> IpcCertificate:
    """A fresh self-signed EC P-256 certificate usable as server, client and trust root."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = now or datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Datadog Agent"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Datadog Agent IPC"),
        ]
    )
    san = [x509.DNSName(n) for n in CERT_SAN_DNS_NAMES] + [x509.IPAddress(a) for a in CERT_SAN_IP_ADDRESSES]
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + CERT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return IpcCertificate(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        # SEC1 ("EC PRIVATE KEY"), the encoding the Go agent writes.
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
    )


def split_ipc_certificate(data: bytes, path: Path) -> IpcCertificate:
    """Split the content of a certificate file into certificate and key, checking only its structure.

    Refuses a file without a certificate, without a key, with more than one key or with an encrypted
    key. Whether the key is EC P-256, belongs to the certificate and whether the certificate is valid
    now is left to :func:`parse_ipc_certificate` (or to the TLS handshake).
    """
    cert_blocks: list[bytes] = []
    key_blocks: list[bytes] = []
    for match in _PEM_BLOCK.finditer(data):
        label = match.group(1)
        if label == b"CERTIFICATE":
            cert_blocks.append(match.group(0) + b"\n")
        elif label.endswith(b"PRIVATE KEY"):
            key_blocks.append(match.group(0) + b"\n")
    if not cert_blocks:
        raise IpcError(f"{_WHAT} {path} holds no PEM certificate{_REGENERATE}")
    if not key_blocks:
        raise IpcError(
            f"{_WHAT} {path} holds no PEM private key: it must hold the certificate followed by its key"
        )
    if len(key_blocks) > 1:
        raise IpcError(f"{_WHAT} {path} holds {len(key_blocks)} private keys, expected one")
    key_pem = key_blocks[0]
    if key_pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") or _ENCRYPTED_PEM_HEADER in key_pem:
        raise IpcError(f"{_WHAT} {path}: the private key is encrypted, it must be unencrypted")
    return IpcCertificate(cert_pem=b"".join(cert_blocks), key_pem=key_pem)


def parse_ipc_certificate(data: bytes, path: Path, *, now: datetime.datetime | None = None) -> IpcCertificate:
    """Validate the content of a certificate file and split it into certificate and key.

    Refuses what :func:`split_ipc_certificate` refuses, a key that is not EC P-256 or does not match
    the certificate, and a certificate that is not valid now.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    split = split_ipc_certificate(data, path)
    try:
        cert = x509.load_pem_x509_certificate(split.cert_pem)
    except ValueError as exc:
        raise IpcError(f"{_WHAT} {path}: cannot parse the certificate: {exc}{_REGENERATE}") from exc
    try:
        key = serialization.load_pem_private_key(split.key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise IpcError(
            f"{_WHAT} {path}: cannot load the private key (it must be unencrypted): {exc}"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        kind = f"EC {key.curve.name}" if isinstance(key, ec.EllipticCurvePrivateKey) else type(key).__name__
        raise IpcError(f"{_WHAT} {path}: the private key is {kind}, expected EC P-256 (secp256r1)")
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
        raise IpcError(f"{_WHAT} {path}: the private key does not belong to the certificate")
    now = now or datetime.datetime.now(datetime.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise IpcError(
            f"{_WHAT} {path}: the certificate is valid from {cert.not_valid_before_utc:%Y-%m-%d %H:%M} "
            f"to {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC, not now{_REGENERATE}"
        )
    return split


def load_ipc_certificate(path: Path, *, validate: bool = True) -> IpcCertificate:
    """Load an existing certificate file (client side). Raises IpcError and its subclasses.

    ``validate=False`` checks only the file's structure (:func:`split_ipc_certificate`): for a
    short-lived client whose TLS handshake checks the rest, it saves loading ``cryptography``.
    """
    data = read_private_file(path, _WHAT)
    return parse_ipc_certificate(data, path) if validate else split_ipc_certificate(data, path)


def create_or_load_ipc_certificate(path: Path) -> IpcCertificate:
    """Load the certificate file at ``path``, creating it first (mode 0600) when it does not exist.

    Safe against another process doing the same at the same time: both end up with the same file.
    """
    if not path.exists() and publish_new_file(path, generate_ipc_certificate().file_content()):
        _log.info("created IPC certificate file %s", path)
    return load_ipc_certificate(path)
