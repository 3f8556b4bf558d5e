"""The audit trail in the real PostgreSQL: rows appended and read newest first a page at a
time; an audited action commits with its row, a failed one rolls back and leaves a row with
its kind; the domain's audited paths (activation, experiments) record who did what."""

from __future__ import annotations

import uuid

import pytest

from recsys import audit, db, model_admin
from recsys import experiment_store as store
from recsys import model_registry as registry
from recsys.experiments import Arm

ALICE = audit.Actor("cli:alice", "cli")


class ModelNotFound(LookupError):
    pass


def test_a_failure_is_named_by_its_class():
    assert audit.outcome_of(ModelNotFound("no")) == "model_not_found"
    assert audit.outcome_of(ConnectionRefusedError()) == "connection_refused_error"
    assert audit.outcome_of(store.ExperimentConflict("x", "name")) == "experiment_conflict"


def test_a_cli_actor_is_the_os_user(monkeypatch):
    monkeypatch.setattr(audit.getpass, "getuser", lambda: "bob")
    assert audit.Actor.cli() == audit.Actor("cli:bob", "cli")


# -- against PostgreSQL --------------------------------------------------------------------


@pytest.fixture
def conn(postgres):
    with db.connect(postgres, autocommit=True) as conn:
        yield conn


def since(conn, first_id: int) -> list[audit.AuditEntry]:
    """The rows written after ``first_id``, oldest first."""
    return [e for e in reversed(audit.recent(conn, audit.MAX_LIMIT)) if e.id > first_id]


def last_id(conn) -> int:
    entries = audit.recent(conn, 1)
    return entries[0].id if entries else 0


@pytest.mark.integration
def test_record_and_read_back_newest_first_in_pages(conn):
    before = last_id(conn)
    target = f"page-{uuid.uuid4().hex[:6]}"
    ids = [
        audit.record(conn, "cli:alice", "cli", "song.takedown", target, {"n": i}) for i in range(5)
    ]
    first = audit.recent(conn, 2)
    assert [e.id for e in first] == ids[:-3:-1]
    second = audit.recent(conn, 2, before_id=first[-1].id)
    assert [e.id for e in second] == [ids[2], ids[1]]
    entry = second[0]
    assert (entry.actor, entry.via, entry.action, entry.target) == (
        "cli:alice", "cli", "song.takedown", target
    )  # fmt: skip
    assert entry.details == {"n": 2} and entry.outcome == "ok" and entry.at is not None
    assert len(since(conn, before)) == 5
    with pytest.raises(ValueError, match="via"):
        audit.record(conn, "x", "email", "song.takedown", target)


@pytest.mark.integration
def test_an_audited_block_commits_with_its_row_or_records_its_failure(conn):
    before = last_id(conn)
    with audit.audited(conn, ALICE, "test.done", "t1", {"a": 1}) as attempt:
        attempt.details["b"] = 2
    with pytest.raises(ModelNotFound):
        with audit.audited(conn, ALICE, "test.failed", "t2"):
            audit.record(conn, "cli:alice", "cli", "test.rolled_back", "t2")  # rolled back
            raise ModelNotFound("no such thing")
    rows = since(conn, before)
    assert [(e.action, e.target, e.outcome) for e in rows] == [
        ("test.done", "t1", "ok"),
        ("test.failed", "t2", "model_not_found"),
    ]
    assert rows[0].details == {"a": 1, "b": 2}
    assert rows[1].details == {"error": "no such thing"}


@pytest.mark.integration
def test_an_audited_block_needs_a_connection_outside_a_transaction(conn):
    with conn.transaction(), pytest.raises(RuntimeError, match="outside a transaction"):
        with audit.audited(conn, ALICE, "test.nested", "t"):
            pass


@pytest.mark.integration
def test_activation_is_recorded_with_the_previous_version_and_refusals_too(conn):
    import datetime as dt

    import numpy as np

    day = dt.date(2026, 4, 1)
    version = registry.create_run(
        conn, day, day + dt.timedelta(days=90), day + dt.timedelta(days=83), {"rank": 4}, None
    )
    with conn.transaction():
        registry.write_factors(conn, version, ["u1"], np.ones((1, 4)), ["s1"], np.ones((1, 4)))
    registry.finish_run(conn, version, "passed", None)
    previous = registry.active_version(conn)
    before = last_id(conn)
    model_admin.activate(conn, version, ALICE)
    with pytest.raises(registry.ModelNotFound):
        model_admin.activate(conn, 10**12, ALICE)
    try:
        rows = since(conn, before)
        assert [(e.action, e.target, e.outcome) for e in rows] == [
            ("model.activate", str(version), "ok"),
            ("model.activate", str(10**12), "model_not_found"),
        ]
        assert rows[0].details == {"previous": previous} and rows[0].actor == "cli:alice"
        assert registry.active_version(conn) == version
    finally:
        if previous is not None:
            registry.activate(conn, previous, by="test")


@pytest.mark.integration
def test_experiment_start_and_stop_are_recorded_refusals_too(conn):
    for running in store.running(conn).values():
        store.stop(conn, running.name, "test setup")
    name = f"audit-{uuid.uuid4().hex[:8]}"
    arms = [Arm("control", 0.5), Arm("low", 0.5, blend=0.5)]
    before = last_id(conn)
    store.start(conn, name, "home", arms, ALICE.name, audit_as=ALICE)
    with pytest.raises(store.ExperimentConflict):
        store.start(conn, name, "up_next", arms, ALICE.name, audit_as=ALICE)  # name taken
    store.stop(conn, name, ALICE.name, audit_as=ALICE)
    with pytest.raises(store.ExperimentConflict):
        store.stop(conn, name, ALICE.name, audit_as=ALICE)
    rows = since(conn, before)
    assert [(e.action, e.target, e.outcome) for e in rows] == [
        ("experiment.start", name, "ok"),
        ("experiment.start", name, "experiment_conflict"),
        ("experiment.stop", name, "ok"),
        ("experiment.stop", name, "experiment_conflict"),
    ]
    assert rows[0].details["surface"] == "home" and rows[0].details["arms"][1]["blend"] == 0.5
    assert store.get(conn, name).started_by == "cli:alice"
