"""plain_http: TLS as the config says (verify) on the presigned part and range requests, as in
botocore; SeaweedFS behind a self-signed TLS relay plays a self-signed MinIO."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from orbit_provider.s3.config import MIB
from orbit_provider.s3.errors import Network, S3Error
from orbit_provider.s3.wire.plain_http import use_plain_http
from orbit_provider.testing.clients import client_for


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key (what a self-signed store shows)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "orbit-test-store")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "store.pem", directory / "store.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class TlsRelay:
    """Accepts TLS on a loopback port and relays the plain bytes to `upstream` (host, port)."""

    def __init__(self, upstream: tuple[str, int], cert: Path, key: Path) -> None:
        self.upstream = upstream
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            client = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):  # a client that refused our certificate
            raw.close()
            return
        upstream = socket.create_connection(self.upstream)
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)

    def close(self) -> None:
        self._stop.set()
        self.listener.close()


def _pipe(source: socket.socket, dest: socket.socket) -> None:
    try:
        while data := source.recv(1 << 16):
            dest.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, dest):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Tls:
    def __init__(self, relay: TlsRelay, seaweed, cert: Path) -> None:
        self.endpoint, self.cert = relay.endpoint, cert
        self.access_key, self.secret_key = seaweed.access_key, seaweed.secret_key


@pytest.fixture
def tls_store(seaweed, tmp_path, monkeypatch) -> Iterator[_Tls]:
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)  # the system's CAs, and plain HTTP on
    cert, key = _self_signed(tmp_path)
    host, port = seaweed.endpoint.removeprefix("http://").split(":")
    relay = TlsRelay((host, int(port)), cert, key)
    try:
        yield _Tls(relay, seaweed, cert)
    finally:
        relay.close()


def _round_trip(client, tmp_path: Path) -> None:
    """A small PUT/GET through botocore, a 12 MiB file up in parts and down in ranges over
    plain HTTP on presigned URLs, and a folder of small files over the lean sockets."""
    assert use_plain_http(client)
    client.upload_bytes(b"small", "small.txt")
    assert client.download_bytes("small.txt") == b"small"
    data = os.urandom(12 * MIB)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    client.upload_file(source, "big.bin")
    client.download_file("big.bin", tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == data
    folder = tmp_path / "folder"
    folder.mkdir()
    files = {f"f{i}.txt": os.urandom(1000 + i) for i in range(3)}
    for name, content in files.items():
        (folder / name).write_bytes(content)
    assert client.upload_tree(folder, "tree/").files_sent == 3
    assert client.download_tree("tree/", tmp_path / "folder-back").files_sent == 3
    assert {p.name: p.read_bytes() for p in (tmp_path / "folder-back").iterdir()} == files


@pytest.mark.parametrize("verify", ["off", "ca-bundle"])
def test_a_self_signed_store_works_with_verify_off_or_its_ca_bundle(
    tls_store, seaweed_bucket, tmp_path, verify
):
    setting = False if verify == "off" else str(tls_store.cert)
    client = client_for(tls_store, seaweed_bucket, verify=setting, chunk_size=5 * MIB)
    _round_trip(client, tmp_path)


def test_a_self_signed_store_is_refused_by_default(tls_store, seaweed_bucket, tmp_path):
    client = client_for(tls_store, seaweed_bucket, max_retries=0)
    assert use_plain_http(client)
    with pytest.raises(Network, match="(?i)certificate"):
        client.upload_bytes(b"x", "k")
    # a multipart upload is refused the same way (the presigned part PUTs use the default
    # context: with verify off or a CA bundle they succeed only because the pools follow it)
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(6 * MIB))
    with pytest.raises(S3Error, match="(?i)certificate"):
        client.upload_file(source, "big.bin")
