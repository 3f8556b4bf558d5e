"""``import history``'s command line: the parser under ``import``, and the backfill it prints
or runs (which intervals, which days). No services."""

from __future__ import annotations

import datetime as dt

from recsys.importers.history import ImportSummary
from recsysctl.cli import build_parser
from recsysctl.import_history import backfill_plan, counters_commands, resync_command

UTC = dt.UTC


def summary(committed_at, first, last, imported=10) -> ImportSummary:
    return ImportSummary(
        file="f",
        format="lastfm",
        imported=imported,
        written=True,
        committed_at=committed_at,
        first_day=first,
        last_day=last,
    )


def test_parser():
    args = build_parser().parse_args(
        ["import", "history", "spotify", "--user", "alice", "--skip-invalid", "a.json", "b.json"]
    )
    assert (args.command, args.kind, args.format) == ("import", "history", "spotify")
    assert (args.files, args.user, args.skip_invalid, args.create_missing) == (
        ["a.json", "b.json"],
        "alice",
        True,
        False,
    )


def test_backfill_covers_the_commit_intervals_and_the_windows_of_the_imported_days():
    now = dt.datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
    plan = backfill_plan(
        [
            summary(
                dt.datetime(2026, 12, 4, 17, 52, 8, tzinfo=UTC),
                dt.date(2009, 4, 27),
                dt.date(2009, 5, 1),
            ),
            summary(
                dt.datetime(2026, 12, 4, 17, 53, tzinfo=UTC),
                dt.date(2005, 2, 14),
                dt.date(2005, 3, 1),
            ),
            summary(None, None, None, imported=0),  # nothing new: nothing to count
        ],
        window_days=7,
        now=now,
    )
    start = dt.datetime(2026, 12, 4, 17, 45, tzinfo=UTC)
    assert plan.intervals == [(start, start + dt.timedelta(minutes=15))]
    assert (plan.first_day, plan.last_day) == (dt.date(2005, 2, 14), dt.date(2009, 5, 7))
    assert resync_command(plan)[-6:-1] == [
        "--from-date",
        "2005-02-14T00:30:00+00:00",
        "--to-date",
        "2009-05-07T00:30:00+00:00",
        "--reprocess-behavior",
    ]
    assert counters_commands(plan) == [
        [
            "backfill",
            "create",
            "--dag-id",
            "play_counters",
            "--from-date",
            start.isoformat(),
            "--to-date",
            start.isoformat(),
            "--reprocess-behavior",
            "completed",
        ]
    ]


def test_recent_days_are_resynced_up_to_yesterday():
    now = dt.datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    plan = backfill_plan(
        [summary(now, dt.date(2026, 11, 30), dt.date(2026, 12, 4))], window_days=7, now=now
    )
    assert (plan.first_day, plan.last_day) == (dt.date(2026, 11, 30), dt.date(2026, 12, 3))
    assert backfill_plan([summary(now, None, None, imported=0)], 7, now) is None
