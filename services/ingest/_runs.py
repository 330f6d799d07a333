"""Run records in Redis: which patients of an ingest run are done, and with what outcome.

A run is a Redis hash ``twinrx:ingest:run:<id>`` (patient id -> JSON outcome) plus a small meta hash.
Writes are idempotent (a redelivered task overwrites its own field), so counts stay exact when a
worker dies mid-run. The CLI and the demo wait on these records instead of on Celery results.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson
import redis

from services.common.errors import TransientUpstreamError
from services.common.twin import SkippedResource

_PREFIX = "twinrx:ingest:run:"
_TTL_SECONDS = 7 * 24 * 3600


def new_run_id() -> str:
    """A fresh run id."""
    return uuid.uuid4().hex[:16]


@dataclass
class RunSummary:
    """Aggregate of a run: patients expected and done, resources read, twins updated, skipped reasons."""

    run_id: str
    expected: int
    done: int = 0
    read: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    fail_reasons: dict[str, int] = field(default_factory=dict)
    split_pending: bool = False

    @property
    def complete(self) -> bool:
        """All expected patients have an outcome (and, for a split run, every part has been split)."""
        return not self.split_pending and self.done >= self.expected

    @property
    def updated(self) -> int:
        """Twins created or changed."""
        return self.statuses.get("created", 0) + self.statuses.get("updated", 0)


class RunLog:
    """Read and write run records."""

    def __init__(self, client: redis.Redis[bytes]) -> None:
        self._redis = client

    def start(self, run_id: str, expected: int, *, skipped: Sequence[SkippedResource] = (), ignored: int = 0) -> None:
        """Declare a run: its patients, the records its scan could not use, and those not needed for twins."""
        meta = f"{_PREFIX}{run_id}:meta"
        reasons = Counter(s.reason for s in skipped)
        mapping: dict[str | bytes, bytes | int] = {
            "expected": expected,
            "scan_skipped": orjson.dumps(dict(reasons)),
            "ignored": ignored,
        }
        self._redis.hset(meta, mapping=mapping)
        self._redis.expire(meta, _TTL_SECONDS)

    def start_split(self, run_id: str, parts: int) -> None:
        """Declare a run whose patients are found by ``parts`` split tasks (complete only after the fan-out)."""
        meta = f"{_PREFIX}{run_id}:meta"
        self._redis.hset(meta, mapping={"expected": 0, "parts": parts, "fanned_out": 0})
        self._redis.expire(meta, _TTL_SECONDS)

    def part_done(
        self, run_id: str, part: int, patients: Sequence[str], *, skipped: Sequence[SkippedResource], ignored: int
    ) -> bool:
        """Record a finished split part (idempotent); True for the one call that completes the last part."""
        base = f"{_PREFIX}{run_id}"
        reasons = dict(Counter(s.reason for s in skipped))
        pipe = self._redis.pipeline(transaction=True)
        if patients:
            pipe.sadd(f"{base}:patients", *patients)
        pipe.hset(f"{base}:parts", str(part), orjson.dumps({"skipped": reasons, "ignored": ignored}))
        pipe.hlen(f"{base}:parts")
        pipe.hget(f"{base}:meta", "parts")
        for key in (f"{base}:patients", f"{base}:parts"):
            pipe.expire(key, _TTL_SECONDS)
        replies = pipe.execute()
        done, total = int(replies[-4]), int(replies[-3] or 0)
        if done < total or not self._redis.set(f"{base}:fanout", "1", nx=True, ex=_TTL_SECONDS):
            return False
        expected = int(self._redis.scard(f"{base}:patients"))
        self._redis.hset(f"{base}:meta", mapping={"expected": expected, "fanned_out": 1})
        return True

    def add_expected(self, run_id: str, count: int) -> None:
        """Grow a run (export fan-out learns its size as it goes)."""
        meta = f"{_PREFIX}{run_id}:meta"
        self._redis.hincrby(meta, "expected", count)
        self._redis.expire(meta, _TTL_SECONDS)

    def record(self, run_id: str, patient_id: str, outcome: dict[str, object]) -> None:
        """Store one patient's outcome (idempotent)."""
        self.record_many(run_id, {patient_id: outcome})

    def record_many(self, run_id: str, outcomes: dict[str, dict[str, object]]) -> None:
        """Store several patients' outcomes in one round trip (idempotent)."""
        if not outcomes:
            return
        key = f"{_PREFIX}{run_id}"
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.hset(key, mapping={p: orjson.dumps(o) for p, o in outcomes.items()})
            pipe.expire(key, _TTL_SECONDS)
            pipe.execute()
        except redis.RedisError as exc:
            raise TransientUpstreamError(f"run log unavailable: {exc.__class__.__name__}") from exc

    def exists(self, run_id: str) -> bool:
        """Whether ``run_id`` was started (and has not expired)."""
        return bool(self._redis.exists(f"{_PREFIX}{run_id}:meta"))

    def summary(self, run_id: str) -> RunSummary:
        """The run's aggregate so far."""
        meta = self._redis.hgetall(f"{_PREFIX}{run_id}:meta")
        expected = int(meta.get(b"expected", b"0"))
        summary = RunSummary(run_id=run_id, expected=expected)
        statuses: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        failures: Counter[str] = Counter()
        # Records the scan could not parse were read too; they count as read and skipped.
        scan_reasons: dict[str, int] = orjson.loads(meta.get(b"scan_skipped", b"{}"))
        reasons.update(scan_reasons)
        ignored = int(meta.get(b"ignored", b"0"))
        for raw_part in self._redis.hvals(f"{_PREFIX}{run_id}:parts"):
            part = orjson.loads(raw_part)
            reasons.update(part["skipped"])
            ignored += int(part["ignored"])
        summary.skipped = sum(reasons.values())
        summary.read = summary.skipped + ignored
        summary.split_pending = meta.get(b"fanned_out", b"1") != b"1"
        for _, raw in self._redis.hscan_iter(f"{_PREFIX}{run_id}", count=1000):
            outcome = orjson.loads(raw)
            summary.done += 1
            statuses[str(outcome.get("status"))] += 1
            summary.read += int(outcome.get("read", 0))
            for skipped in outcome.get("skipped", []):
                summary.skipped += 1
                reasons[str(skipped.get("reason"))] += 1
            if outcome.get("status") == "failed":
                summary.failed += 1
                # the reasons are the messages the workers log (PHI-free by the logging rules)
                failures[str(outcome.get("reason") or "no reason recorded")] += 1
        summary.statuses = dict(statuses)
        summary.skip_reasons = dict(reasons)
        summary.fail_reasons = dict(failures)
        return summary

    def progress(self, run_id: str) -> tuple[int, int, bool]:
        """``(done, expected, complete)`` of a run in one round trip, without reading the outcomes.

        Cheap enough to poll often: :meth:`summary` parses every outcome, which for a large run costs
        the poller and the Redis server more than the workers it is waiting for can spare.
        """
        pipe = self._redis.pipeline(transaction=False)
        pipe.hlen(f"{_PREFIX}{run_id}")
        pipe.hmget(f"{_PREFIX}{run_id}:meta", ["expected", "fanned_out"])
        done, (expected, fanned_out) = pipe.execute()
        expected_count = int(expected or 0)
        complete = (fanned_out is None or fanned_out == b"1") and int(done) >= expected_count
        return int(done), expected_count, complete

    def wait(self, run_id: str, *, timeout: float, poll: float = 0.2) -> RunSummary:
        """Poll until the run is complete or ``timeout`` seconds pass; returns the summary at that point."""
        deadline = time.monotonic() + timeout
        while True:
            _, _, complete = self.progress(run_id)
            if complete or time.monotonic() >= deadline:
                return self.summary(run_id)
            time.sleep(poll)
