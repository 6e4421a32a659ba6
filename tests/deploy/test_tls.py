"""TLS in production: the broker and the store serve only TLS with certificates cert-manager
issues from the deployment's CA, every leitai pod is given that CA alone, and the clients leitai
uses (kombu over amqps://, pymongo) refuse a server whose certificate another CA signed: shown
here against a TLS listener of the test's own, with the environment the manifests give."""

from __future__ import annotations

import datetime
import fnmatch
import ipaddress
import os
import socket
import ssl
import threading
from unittest import mock
from urllib.parse import parse_qs, urlparse

import pymongo
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kombu import Connection
from pymongo.errors import ServerSelectionTimeoutError

from tests.support.manifests import PROD_SECRETS, named, of_kind, pod_spec, render, resolve

CA_FILE = "/etc/leitai-ca/ca.crt"


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    return render("prod")


def leitai_workloads(objects: list[dict]) -> list[dict]:
    return [
        o
        for o in objects
        if o["kind"] in ("Deployment", "Job", "CronJob")
        and o["metadata"]["labels"]["app.kubernetes.io/name"] == "leitai"
    ]


def issued_by_the_ca(objects: list[dict], certificate: dict) -> bool:
    issuer = named(objects, "Issuer", certificate["spec"]["issuerRef"]["name"])
    return issuer["spec"].get("ca", {}).get("secretName") == "leitai-ca"


def test_the_broker_and_the_store_serve_only_tls_with_certificates_of_the_deployments_ca(objects):
    certificates = {c["spec"]["secretName"]: c for c in of_kind(objects, "Certificate")}
    assert named(objects, "Certificate", "leitai-ca")["spec"]["isCA"]
    tls = named(objects, "RabbitmqCluster", "leitai-rabbitmq")["spec"]["tls"]
    assert tls["disableNonTLSListeners"] is True
    assert issued_by_the_ca(objects, certificates[tls["secretName"]]) and tls["caSecretName"] in certificates
    store = named(objects, "MongoDBCommunity", "leitai-mongodb")["spec"]["security"]["tls"]
    assert store["enabled"] and not store.get("optional")
    assert issued_by_the_ca(objects, certificates[store["certificateKeySecretRef"]["name"]])


def dns_names(objects: list[dict], secret: str) -> list[str]:
    [certificate] = [c for c in of_kind(objects, "Certificate") if c["spec"]["secretName"] == secret]
    return certificate["spec"]["dnsNames"]


def test_every_pod_trusts_the_ca_alone_and_the_urls_it_is_given_ask_for_tls_to_a_certified_name(objects):
    for workload in leitai_workloads(objects):
        pod = resolve(workload, objects, PROD_SECRETS)
        where = workload["metadata"]["name"]
        assert pod.env["SSL_CERT_FILE"] == CA_FILE, where
        volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
        [mount] = [m for m in pod.container["volumeMounts"] if CA_FILE.startswith(m["mountPath"] + "/")]
        secret = volumes[mount["name"]]["secret"]
        assert secret["secretName"] == "leitai-ca" and secret["items"] == [{"key": "ca.crt", "path": "ca.crt"}], where
        if "AMQP_URI" in pod.env:  # all but the audit
            broker = urlparse(pod.env["AMQP_URI"])
            assert broker.scheme == "amqps" and broker.port == 5671, where
            assert any(fnmatch.fnmatch(broker.hostname, n) for n in dns_names(objects, "leitai-rabbitmq-tls")), where
        if "MONGO_URL" in pod.env:
            store = parse_qs(urlparse(pod.env["MONGO_URL"]).query)
            assert store["tls"] == ["true"] and store["tlsCAFile"] == [CA_FILE], where
            host = urlparse(pod.env["MONGO_URL"]).hostname
            assert any(fnmatch.fnmatch(host, n) for n in dns_names(objects, "leitai-mongodb-tls")), where


# -- the clients, against a TLS listener ------------------------------------------------------
def certificate_authority(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def pem(obj) -> bytes:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture(scope="module")
def listener(tmp_path_factory):
    """A TLS listener on 127.0.0.1 whose certificate the deployment's CA ("leitai-ca") signed:
    it completes the handshake, then closes. Yields its port and the two CAs' files."""
    folder = tmp_path_factory.mktemp("tls")
    ca_key, ca = certificate_authority("leitai-ca")
    _, other = certificate_authority("someone-else")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName("leitai-rabbitmq"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leitai-rabbitmq")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "server.pem").write_bytes(pem(cert) + pem(key))
    (folder / "ca.crt").write_bytes(pem(ca))
    (folder / "other.crt").write_bytes(pem(other))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "server.pem")
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            try:
                with context.wrap_socket(connection, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                pass  # the client refused our certificate

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], folder / "ca.crt", folder / "other.crt"
    stopping.set()
    thread.join(2)
    server.close()


def refused_for_the_certificate(error: BaseException) -> bool:
    text = f"{error!r} {error.__cause__!r} {error.__context__!r}"
    return "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text


@pytest.mark.parametrize("trusted, refused", [("ca", False), ("other", True)])
def test_kombu_over_amqps_checks_the_brokers_certificate_against_ssl_cert_file(listener, trusted, refused):
    port, ca, other = listener
    with mock.patch.dict(os.environ, {"SSL_CERT_FILE": str(ca if trusted == "ca" else other)}):
        with pytest.raises(Exception) as failed:  # the listener speaks no AMQP: it always fails
            with Connection(f"amqps://leitai:secret@127.0.0.1:{port}/", connect_timeout=5) as connection:
                connection.connect()
    assert refused_for_the_certificate(failed.value) == refused, repr(failed.value)


@pytest.mark.parametrize("trusted, refused", [("ca", False), ("other", True)])
def test_pymongo_checks_the_stores_certificate_against_tls_ca_file(listener, trusted, refused):
    port, ca, other = listener
    url = f"mongodb://127.0.0.1:{port}/?tls=true&tlsCAFile={ca if trusted == 'ca' else other}"
    client = pymongo.MongoClient(url, serverSelectionTimeoutMS=1500, directConnection=True)
    try:
        with pytest.raises(ServerSelectionTimeoutError) as failed:
            client.admin.command("ping")
    finally:
        client.close()
    assert refused_for_the_certificate(failed.value) == refused, str(failed.value)[:500]


# -- the broker's users --------------------------------------------------------------------------
def test_processes_and_keda_use_broker_users_of_their_own_neither_an_administrator(objects):
    users = {u["metadata"]["name"]: u for u in of_kind(objects, "User")}
    permissions = {p["spec"]["userReference"]["name"]: p for p in of_kind(objects, "Permission")}

    def user_of(url: str) -> dict:
        [user] = [
            u
            for u in users.values()
            if PROD_SECRETS[u["spec"]["importCredentialsSecret"]["name"]]["username"] == urlparse(url).username
        ]
        assert permissions[user["metadata"]["name"]]["spec"]["vhost"] == (urlparse(url).path.lstrip("/") or "/")
        return user

    for workload in leitai_workloads(objects):
        pod = resolve(workload, objects, PROD_SECRETS)
        if "AMQP_URI" in pod.env:
            assert user_of(pod.env["AMQP_URI"])["spec"]["tags"] == [], workload["metadata"]["name"]
    keda = user_of(PROD_SECRETS["leitai-broker"]["management-url"])
    assert keda["spec"]["tags"] == ["management"]
    assert set(permissions[keda["metadata"]["name"]]["spec"]["permissions"].values()) == {"^$"}
