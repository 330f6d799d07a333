"""Run records: the cheap ``progress`` poll agrees with the full ``summary``."""

from __future__ import annotations

from services.ingest import Runtime


def test_progress_counts_outcomes_and_completes_with_the_last(rt: Runtime) -> None:
    runs = rt.runs
    runs.start("r1", 3)
    assert runs.progress("r1") == (0, 3, False)
    runs.record_many("r1", {"a": {"status": "created", "read": 4, "skipped": []}, "b": {"status": "failed"}})
    assert runs.progress("r1") == (2, 3, False)
    runs.record("r1", "a", {"status": "unchanged", "read": 4, "skipped": []})  # a redelivery overwrites
    assert runs.progress("r1") == (2, 3, False)
    runs.record("r1", "c", {"status": "updated", "read": 2, "skipped": []})
    assert runs.progress("r1") == (3, 3, True)
    summary = runs.wait("r1", timeout=5, poll=0.01)
    assert (summary.done, summary.expected, summary.complete, summary.failed) == (3, 3, True, 1)
    assert summary.statuses == {"unchanged": 1, "failed": 1, "updated": 1}


def test_split_run_is_not_complete_before_its_fan_out(rt: Runtime) -> None:
    runs = rt.runs
    runs.start_split("s1", 2)
    assert runs.progress("s1") == (0, 0, False)
    assert runs.part_done("s1", 0, ["p1"], skipped=[], ignored=0) is False
    assert runs.progress("s1") == (0, 0, False)
    assert runs.part_done("s1", 1, ["p2"], skipped=[], ignored=0) is True
    assert runs.progress("s1") == (0, 2, False)
    runs.record_many("s1", {"p1": {"status": "created"}, "p2": {"status": "created"}})
    assert runs.progress("s1") == (2, 2, True)
    assert runs.summary("s1").complete


def test_wait_returns_the_incomplete_summary_at_the_deadline(rt: Runtime) -> None:
    rt.runs.start("r2", 2)
    rt.runs.record("r2", "a", {"status": "created"})
    summary = rt.runs.wait("r2", timeout=0, poll=0.01)
    assert (summary.done, summary.expected, summary.complete) == (1, 2, False)
