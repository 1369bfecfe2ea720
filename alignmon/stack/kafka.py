"""A single-node Apache Kafka 4.x broker (KRaft) run from jars fetched from Maven Central."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import shutil
import subprocess
from pathlib import Path

from alignmon.stack.process import Service, ServiceError, port_open
from base.kafka_security import PLAINTEXT, KafkaSecurity

log = logging.getLogger(__name__)

POM = Path(__file__).with_name("pom.xml")

LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.controller.name = org.apache.kafka.controller
logger.controller.level = WARN
"""


def libs_dir() -> Path:
    """Where the broker's jars are cached, keyed by the pom so a version change refetches."""
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:12]
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "alignmon" / f"kafka-{digest}" / "libs"


def fetch_jars() -> Path:
    """Resolve the broker classpath from Maven Central once; later calls reuse the cache."""
    libs = libs_dir()
    done = libs / ".complete"
    if done.exists():
        return libs
    if shutil.which("mvn") is None:
        raise ServiceError("Maven (mvn) is needed to fetch the Kafka jars: run `make setup` or apt-get install maven")
    work = libs.parent / "pom"
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(POM, work / "pom.xml")
    log.info("fetching Kafka jars from Maven Central into %s (once)", libs)
    result = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={libs}",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ServiceError(f"mvn could not fetch the Kafka jars:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    done.touch()
    return libs


def cluster_id(state: Path) -> str:
    """16 random bytes, URL-safe base64 without padding; kept so a restart reuses the formatted log dir."""
    path = state / "cluster.id"
    if not path.exists():
        path.write_text(new_cluster_id())
    return path.read_text().strip()


def new_cluster_id() -> str:
    """Never starting with '-' (as Kafka's own Uuid.randomUuid): the storage tool would take it for an option."""
    while (cid := base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")).startswith("-"):
        pass
    return cid


def server_properties(data_dir: Path, port: int, controller_port: int) -> str:
    return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={data_dir}
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
default.replication.factor=1
group.initial.rebalance.delay.ms=0
log.cleaner.enable=false
auto.create.topics.enable=false
"""


def kafka_service(state: Path, port: int, controller_port: int, tag: str) -> Service:
    """The broker as a Service; preparing it (jars, config, storage format) happens here, starting does not."""
    kdir = state / "kafka"
    data = kdir / "data"
    kdir.mkdir(parents=True, exist_ok=True)
    props = kdir / "server.properties"
    props.write_text(server_properties(data, port, controller_port))
    (kdir / "log4j2.properties").write_text(LOG4J2)
    classpath = f"{fetch_jars()}/*"
    java = [
        "java",
        "-Xms256m",
        "-Xmx768m",
        "-XX:+UseG1GC",
        f"-Dlog4j2.configurationFile={kdir / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={kdir / 'logs'}",
        f"-Dalignmon.tag={tag}",
        "-cp",
        classpath,
    ]
    if not (data / "meta.properties").exists():
        result = subprocess.run(
            [*java, "kafka.tools.StorageTool", "format", "-t", cluster_id(kdir), "-c", str(props)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ServiceError(f"formatting Kafka storage failed:\n{result.stdout[-1500:]}{result.stderr[-1500:]}")

    def ready() -> bool:
        return port_open(port) and _broker_answers(f"127.0.0.1:{port}")

    return Service(
        name="kafka",
        argv=[*java, "kafka.Kafka", str(props)],
        run_dir=state / "run",
        ports=[port, controller_port],
        ready=ready,
        tag=tag,
        start_timeout=90.0,
    )


def _broker_answers(bootstrap: str) -> bool:
    from kafka import KafkaAdminClient  # noqa: PLC0415  (kafka-python is slow to import; only when needed)
    from kafka.errors import KafkaError  # noqa: PLC0415

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def ensure_topics(
    bootstrap: str, topics: dict[str, int], retention_ms: int | None = None, security: KafkaSecurity = PLAINTEXT
) -> list[str]:
    """Create the topics that do not exist yet (name -> partitions); returns the ones created.

    With `retention_ms`, every one of the topics (new or not) keeps records that long (`retention.ms`). `security`:
    how to reach a cluster other than the local broker (the pipeline's lease topic on the configured cluster).
    """
    from kafka import KafkaAdminClient  # noqa: PLC0415
    from kafka.admin import ConfigResource, ConfigResourceType, NewTopic  # noqa: PLC0415
    from kafka.errors import TopicAlreadyExistsError  # noqa: PLC0415

    configs = {"retention.ms": str(retention_ms)} if retention_ms else {}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000, **security.options())
    try:
        existing = set(admin.list_topics())
        new = [NewTopic(name, n, 1, topic_configs=configs) for name, n in topics.items() if name not in existing]
        if new:
            # Created meanwhile by another process is what we wanted anyway.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new, timeout_ms=10000)
        if configs and (older := [name for name in topics if name in existing]):  # new ones were created with it
            admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, configs=configs) for name in older])
        return [t.name for t in new]
    finally:
        admin.close()
