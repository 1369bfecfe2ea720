"""A second, secured Kafka broker for the tests of alignmon's Kafka client security (base/kafka_security.py).

Made as the local stack's broker is (alignmon.stack.kafka: the same jars, server.properties and start), plus two
listeners a production cluster has: SASL_SSL (SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN) and SSL requiring a client
certificate (mutual TLS). Its certificate comes from a throwaway CA (trustme) and is given to Kafka as PEM files
(ssl.keystore.type=PEM); the SCRAM users are written into the storage by `kafka-storage format --add-scram`, as an
operator does before a cluster's first start. The PLAINTEXT listener is the broker's own (inter-broker); no test
client uses it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr

from alignmon.stack.kafka import LOG4J2, fetch_jars, new_cluster_id, server_properties
from alignmon.stack.process import Service, ServiceError, free_port
from base.kafka_security import KafkaSecurity

USER, PASSWORD = "alignmon", "scram-secret-5f2c"  # SCRAM-SHA-512 and SCRAM-SHA-256
PLAIN_USER, PLAIN_PASSWORD = "alignmon-plain", "plain-secret-9e1d"


@dataclass(frozen=True)
class KafkaCertificates:
    """PEM files: the broker's key and chain (for 127.0.0.1 and localhost), its CA, another CA, client certificates."""

    ca: Path
    other_ca: Path  # signed nothing the broker presents
    broker: Path  # PKCS#8 key, then the certificate (Kafka's PEM keystore)
    client_cert: Path  # signed by `ca`, which the broker trusts for client certificates
    client_key: Path
    stranger_cert: Path  # a client certificate signed by `other_ca`
    stranger_key: Path

    @classmethod
    def make(cls, folder: Path) -> KafkaCertificates:
        folder.mkdir(parents=True, exist_ok=True)
        ca, other = trustme.CA(), trustme.CA()
        broker = ca.issue_cert("127.0.0.1", "localhost")
        client, stranger = ca.issue_cert("alignmon.clients.example"), other.issue_cert("alignmon.clients.example")
        paths = {name: folder / f"{name}.pem" for name in cls.__dataclass_fields__}
        ca.cert_pem.write_to_path(str(paths["ca"]))
        other.cert_pem.write_to_path(str(paths["other_ca"]))
        key = serialization.load_pem_private_key(broker.private_key_pem.bytes(), password=None)
        pkcs8 = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )  # Kafka's PEM keystore reads PKCS#8 keys only
        paths["broker"].write_bytes(pkcs8 + b"".join(pem.bytes() for pem in broker.cert_chain_pems))
        for name, issued in (("client", client), ("stranger", stranger)):
            issued.cert_chain_pems[0].write_to_path(str(paths[f"{name}_cert"]))
            issued.private_key_pem.write_to_path(str(paths[f"{name}_key"]))
        return cls(**paths)


class SecureKafka:
    """The broker, formatted and started in `state`; `stop()` ends it."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.certs = KafkaCertificates.make(state / "certs")
        self.port, self.controller_port = free_port(), free_port()
        self.sasl_ssl_port, self.mtls_port = free_port(), free_port()
        kdir = state / "kafka"
        kdir.mkdir(parents=True, exist_ok=True)
        props = kdir / "server.properties"
        props.write_text(self._properties(kdir / "data"))
        (kdir / "log4j2.properties").write_text(LOG4J2)
        java = [
            "java",
            "-Xms128m",
            "-Xmx512m",
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={kdir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={kdir / 'logs'}",
            f"-Dalignmon.tag={state}",
            "-cp",
            f"{fetch_jars()}/*",
        ]
        users = [f"SCRAM-SHA-{bits}=[name={USER},password={PASSWORD}]" for bits in (512, 256)]
        formatted = subprocess.run(
            [*java, "kafka.tools.StorageTool", "format", "-t", new_cluster_id(), "-c", str(props)]
            + [arg for user in users for arg in ("--add-scram", user)],
            capture_output=True,
            text=True,
            check=False,
        )
        if formatted.returncode != 0:
            raise ServiceError(f"formatting the secured broker failed:\n{formatted.stdout}{formatted.stderr}")
        log = state / "run" / "kafka-secure.log"
        self.service = Service(
            name="kafka-secure",
            argv=[*java, "kafka.Kafka", str(props)],
            run_dir=state / "run",
            ports=[self.port, self.controller_port, self.sasl_ssl_port, self.mtls_port],
            ready=lambda: log.exists() and "Kafka Server started" in log.read_text(errors="replace"),
            tag=str(state),
            start_timeout=120.0,
        )

    def _properties(self, data: Path) -> str:
        """The local stack's broker configuration with the secured listeners added."""
        lines: dict[str, str] = {}
        for line in server_properties(data, self.port, self.controller_port).splitlines():
            key, _, value = line.partition("=")
            lines[key] = value
        ip = "127.0.0.1"
        secured = f"SASL_SSL://{ip}:{self.sasl_ssl_port},SSL://{ip}:{self.mtls_port}"
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        plain = (
            f'org.apache.kafka.common.security.plain.PlainLoginModule required user_{PLAIN_USER}="{PLAIN_PASSWORD}";'
        )
        lines |= {
            "listeners": f"PLAINTEXT://{ip}:{self.port},{secured},CONTROLLER://{ip}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{ip}:{self.port},{secured}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.certs.broker),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.certs.ca),
            "listener.name.ssl.ssl.client.auth": "required",
            "listener.name.sasl_ssl.sasl.enabled.mechanisms": "SCRAM-SHA-512,SCRAM-SHA-256,PLAIN",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": scram,
            "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config": scram,
            "listener.name.sasl_ssl.plain.sasl.jaas.config": plain,
        }
        return "".join(f"{key}={value}\n" for key, value in lines.items())

    @property
    def sasl_ssl(self) -> str:
        return f"127.0.0.1:{self.sasl_ssl_port}"

    @property
    def mtls(self) -> str:
        return f"127.0.0.1:{self.mtls_port}"

    def scram(
        self, mechanism: str = "SCRAM-SHA-512", password: str = PASSWORD, ca: Path | None = None
    ) -> KafkaSecurity:
        """alignmon's security settings for the SASL_SSL listener as the SCRAM user (`ca`: another CA file)."""
        return KafkaSecurity("SASL_SSL", ca or self.certs.ca, None, None, mechanism, USER, SecretStr(password))

    def env(self, security: KafkaSecurity) -> dict[str, str]:
        """The ALIGNMON_* settings that say `security` (as an env file would)."""
        env = {"ALIGNMON_KAFKA_SECURITY_PROTOCOL": security.protocol}
        for name, value in (
            ("CA_FILE", security.ca_file),
            ("CLIENT_CERT", security.client_cert),
            ("CLIENT_KEY", security.client_key),
            ("SASL_MECHANISM", security.sasl_mechanism),
            ("SASL_USERNAME", security.sasl_username),
            ("SASL_PASSWORD", security.sasl_password.get_secret_value() if security.sasl_password else None),
        ):
            if value is not None:
                env[f"ALIGNMON_KAFKA_{name}"] = str(value)
        return env

    def start(self) -> SecureKafka:
        self.service.start()
        return self

    def stop(self) -> None:
        self.service.stop()
