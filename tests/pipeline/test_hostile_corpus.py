"""The hostile-input corpus against the pipeline: each case is refused with its reason, the stream goes on.

Unit: the decoder alone, each case amid good events. Integration: the whole consumer on a real broker
and a real DuckDB file, every case in one topic between good events: all good events stored once,
every case in rejected_events and in the dead-letter topic (a letter too large for Kafka cut, with
its length and checksum), offsets at the end of the topic.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer

from alignmon.stack.kafka import ensure_topics
from pipeline.batch import Record, decode
from pipeline.consumer import Consumer
from pipeline.dead_letter import MAX_VALUE
from pipeline.store import Store
from tests.corpus.hostile import RECORDS, RecordCase, event

PRODUCED = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize("case", RECORDS, ids=lambda c: c.name)
def test_each_case_is_rejected_with_its_reason_and_good_events_go_on(case: RecordCase) -> None:
    records = [
        Record("usage", 0, 0, PRODUCED, json.dumps(event(1)).encode()),
        Record("usage", 0, 1, PRODUCED, case.value),
        Record("usage", 0, 2, PRODUCED, json.dumps(event(2)).encode()),
    ]
    batch = decode(records)
    assert batch.rows.column("event_id").to_pylist() == ["corpus-1", "corpus-2"]
    reasons = [r.reason for r in batch.rejected]
    assert reasons and all(case.reason in r for r in reasons), reasons
    assert {r.offset for r in batch.rejected} == {1}
    assert batch.next_offsets == {("usage", 0): 3}


def test_the_corpus_names_every_finding_of_the_adversarial_run() -> None:
    findings = {c.finding for c in RECORDS}
    assert {"11.1", "11.2", "11.3", "11.4", "11.11"} <= findings


@pytest.mark.integration
def test_the_whole_corpus_in_one_topic_never_stalls_the_pipeline(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = f"corpus.{uuid.uuid4().hex[:8]}"
    dlq = f"{topic}.dlq"
    ensure_topics(kafka_bootstrap, {topic: 1, dlq: 1})
    stream: list[bytes] = []
    good: list[str] = []
    for i, case in enumerate(RECORDS):
        for j in range(20):
            n = i * 100 + j
            stream.append(json.dumps(event(n)).encode())
            good.append(f"corpus-{n}")
        stream.append(case.value)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", max_request_size=2 * 1024 * 1024)
    for value in stream:
        producer.send(topic, value=value, key=b"dev-corpus")
    producer.flush()
    producer.close()

    store = Store(tmp_path / "corpus.duckdb")
    consumer = Consumer(store, kafka_bootstrap, topic, dlq, max_batch_bytes=256 * 1024)
    try:
        for _ in range(200):
            consumer.step()
            consumer.flush()  # the store's connection is the writer's: read it between batches only
            if store.stored_offsets(topic) == {0: len(stream)}:
                break
    finally:
        consumer.close()
    con = store.con
    assert store.stored_offsets(topic) == {0: len(stream)}
    assert sorted(r[0] for r in con.execute("SELECT event_id FROM events").fetchall()) == sorted(good)
    rejected = dict(con.execute("SELECT kafka_offset, reason FROM rejected_events").fetchall())
    case_offsets = {(i + 1) * 21 - 1: case for i, case in enumerate(RECORDS)}
    assert set(rejected) == set(case_offsets)
    for offset, case in case_offsets.items():
        assert case.reason in rejected[offset], (case.name, rejected[offset])
    store.close()

    letters = _read_all(kafka_bootstrap, dlq)
    assert {_source_offset(m) for m in letters} == set(case_offsets)
    huge = next(c for c in RECORDS if c.name == "huge-invalid")
    letter = next(m for m in letters if _source_offset(m) == (RECORDS.index(huge) + 1) * 21 - 1)
    headers = dict(letter.headers)
    assert len(letter.value) == MAX_VALUE and huge.value.startswith(letter.value)
    assert headers["truncated"] == b"true"
    assert int(headers["length"]) == len(huge.value)
    assert headers["sha256"].decode() == hashlib.sha256(huge.value).hexdigest()


def _source_offset(message: Any) -> int:
    return int(dict(message.headers)["source"].decode().split("/")[2].split("#")[0])


def _read_all(bootstrap: str, topic: str) -> list[Any]:
    reader = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=5000, group_id=None
    )
    try:
        return list(reader)
    finally:
        reader.close()
