"""``python -m recsysctl import history FORMAT FILE...``: import listening histories into
the lake, registered by ``recsysctl.cli`` under its ``import`` command.

    python -m recsysctl import history lastfm userid-timestamp-artid-artname-traid-traname.tsv
    python -m recsysctl import history spotify --user alice Streaming_History_Audio_*.json
    python -m recsysctl import history listenbrainz --create-missing --backfill listens.jsonl

Each file streams behind a progress bar (bytes of the file, rows and rows/s, ETA) and ends
with a summary; the rules are ``recsys.importers.history``'s. ``--backfill`` then brings the
warehouse to the files through Airflow: play_counters for the interval the listens were
committed in (after it closes), and a trending_resync backfill of the imported days (plus
the trending window's days after them); without it the two commands are printed. Exit
status: 0 when every file was imported, 1 when one was not (bad rows without
``--skip-invalid``, a file that cannot be read).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from recsys.settings import load_settings
from recsysctl.progress import FileProgress

FORMATS = ("lastfm", "listenbrainz", "spotify", "csv")
INTERVAL = timedelta(minutes=15)
RESYNC_AT = timedelta(minutes=30)  # trending_resync's run for day D starts at D 00:30


def add_import_history(imports) -> None:
    """``import history`` under the ``import`` command's subparsers."""
    parser = imports.add_parser(
        "history",
        help="listening histories: Last.fm, ListenBrainz, Spotify, CSV (docs/importing.md)",
        description="Import past listens into the lake, each exactly once.",
    )
    parser.add_argument("format", choices=FORMATS, help="the files' format")
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument(
        "--user", help="the listener the files are for (Spotify; overrides the file's user)"
    )
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="write the valid rows, and the bad ones with their reasons to FILE.rejects.jsonl",
    )
    parser.add_argument("--rejects-dir", help="folder of the rejects files (default: the file's)")
    parser.add_argument(
        "--create-missing",
        action="store_true",
        help="add songs the catalog lacks (genre 'unknown'); otherwise their listens are"
        " counted, listed and left out",
    )
    parser.add_argument(
        "--backfill",
        action="store_true",
        help="then count the imported listens and resync trending for their days, in Airflow",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=cmd_import_history)


def cmd_import_history(args) -> int:
    from recsys.importers.history import ImportOptions, import_history

    settings = load_settings()
    options = ImportOptions(
        format=args.format,
        user=args.user,
        skip_invalid=args.skip_invalid,
        create_missing=args.create_missing,
        rejects_dir=args.rejects_dir,
    )
    summaries = []
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            print(f"error: {path}: no such file", file=sys.stderr)
            return 1
        progress = FileProgress(path.name, path.stat().st_size, not args.no_progress)
        try:
            summary = import_history(settings, str(path), options, progress)
        except (ValueError, RuntimeError) as err:  # a lake that is no folder; a run in progress
            print(f"error: {path}: {err}", file=sys.stderr)
            return 1
        finally:
            progress.close()
        print_summary(summary)
        summaries.append(summary)
    plan = backfill_plan(summaries, settings.trending_window_days, datetime.now(UTC))
    if plan is not None:
        if args.backfill:
            run_backfill(settings, plan)
        else:
            print_backfill(plan)
    return 0 if all(s.written for s in summaries) else 1


def print_summary(s) -> None:
    for error in s.errors:
        print(error, file=sys.stderr)
    if s.rejected > len(s.errors):
        print(f"... {s.rejected:,} rows rejected in all", file=sys.stderr)
    left_out = sum(s.left_out.values())
    days = f", days {s.first_day} .. {s.last_day}" if s.first_day else ""
    created = s.created or {}
    lines = [
        ("rows read", s.rows_read, ""),
        ("imported", s.imported, f"new listens written to the lake{days}"),
        ("duplicates", s.duplicates, _duplicates_note(s)),
        ("already imported", s.already_imported, "in the lake before: left out"),
        ("matched", s.matched, "to catalog songs"),
        (
            "created",
            s.created_rows,
            f"listens of songs added ({created.get('songs', 0)} songs, "
            f"{created.get('artists', 0)} artists)"
            if s.created_rows
            else "",
        ),  # fmt: skip
        ("unmatched", s.unmatched, "no catalog song: not written" if s.unmatched else ""),
        ("rejected", s.rejected, "invalid rows" if s.rejected else ""),
        ("left out", left_out, ", ".join(f"{n} {k}" for k, n in sorted(s.left_out.items()))),
    ]
    print(f"{s.file} ({s.format}):")
    for label, count, note in lines:
        print(f"  {label:17} {count:>11,}  {note}".rstrip())
    if created.get("users"):
        print(f"  new listeners in the catalog: {created['users']:,}")
    if s.top_unmatched:
        print("  most frequent unmatched (--create-missing adds those with an artist and title):")
        for artist, title, count in s.top_unmatched:
            print(f"    {count:>9,}  {artist} - {title}" if artist else f"    {count:>9,}  {title}")
    if s.written:
        print(f"imported: key {s.key[:16]}, committed at {s.committed_at:%Y-%m-%d %H:%M:%S} UTC")
        if s.rejects_file:
            print(f"rejected rows and their reasons: {s.rejects_file}")
    elif s.rejected and not s.key:
        print(
            "nothing was written: fix the rows above, or run again with --skip-invalid to"
            " write the valid rows and a rejects file",
            file=sys.stderr,
        )


def _duplicates_note(s) -> str:
    if not s.duplicates:
        return ""
    row, first = s.duplicate_rows[0]
    unit = "line" if s.format in ("lastfm", "csv") else "row"
    return f"repeated in the file, first kept (e.g. {unit} {row} repeats {unit} {first})"


@dataclass(frozen=True)
class BackfillPlan:
    intervals: list[tuple[datetime, datetime]]  # play_counters intervals to count
    first_day: date  # trending_resync days to resync
    last_day: date


def backfill_plan(summaries, window_days: int, now: datetime) -> BackfillPlan | None:
    """What brings the warehouse to the imports: their commit intervals' counts, then the
    trending snapshots of the imported days and of the window's days after them (up to
    yesterday: today's is the nightly run's). None when nothing was imported."""
    done = [s for s in summaries if s.written and s.imported]
    if not done:
        return None
    intervals = sorted({_interval(s.committed_at) for s in done})
    first = min(s.first_day for s in done)
    last = min(max(s.last_day for s in done) + timedelta(days=window_days - 1),
               now.date() - timedelta(days=1))  # fmt: skip
    return BackfillPlan(intervals, first, max(first, last))


def _interval(moment: datetime) -> tuple[datetime, datetime]:
    start = moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)
    return start, start + INTERVAL


def resync_command(plan: BackfillPlan) -> list[str]:
    start = datetime.combine(plan.first_day, datetime.min.time(), UTC) + RESYNC_AT
    end = datetime.combine(plan.last_day, datetime.min.time(), UTC) + RESYNC_AT
    return [
        "backfill", "create", "--dag-id", "trending_resync",
        "--from-date", start.isoformat(), "--to-date", end.isoformat(),
        "--reprocess-behavior", "completed",
    ]  # fmt: skip


def counters_commands(plan: BackfillPlan) -> list[list[str]]:
    return [
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
        ]  # fmt: skip
        for start, _ in plan.intervals
    ]


def print_backfill(plan: BackfillPlan) -> None:
    cli = ".venv/bin/python -m recsysctl airflow"
    closes = max(end for _, end in plan.intervals)
    print("\nTo bring the counters and trending to the imported days (or run with --backfill):")
    print(f"once the import's interval has closed ({closes:%Y-%m-%d %H:%M} UTC):")
    for command in counters_commands(plan):
        print(f"  {cli} {' '.join(command)}")
    print("then, once those runs are done:")
    print(f"  {cli} {' '.join(resync_command(plan))}")


def run_backfill(settings, plan: BackfillPlan) -> None:
    """Count each commit interval once it has closed (the scheduled run may have counted it
    before every file was published), wait for it, then start the trending backfill."""
    from recsys.airflow_client import AirflowClient
    from recsysctl.stack import airflow

    client = AirflowClient(settings)
    client.wait_for_dag("play_counters")
    for start, end in plan.intervals:
        wait_s = (end - datetime.now(UTC)).total_seconds() + 5
        if wait_s > 0:
            print(f"waiting {wait_s:.0f} s for the interval [{start:%H:%M}, {end:%H:%M}) to close")
            time.sleep(wait_s)
        run_id = client.run_interval("play_counters", start, end, note="import history")
        print(f"play_counters run {run_id} for [{start:%H:%M}, {end:%H:%M}) UTC")
        state = client.wait("play_counters", run_id)
        if state != "success":
            raise SystemExit(f"play_counters run {run_id} ended {state}: see the Airflow UI")
    client.wait_for_dag("trending_resync")
    result = airflow.run_cli(settings, *resync_command(plan))
    if result.returncode != 0:
        raise SystemExit(f"trending_resync backfill failed to start:\n{result.stderr[-2000:]}")
    print(
        f"trending_resync backfill of {plan.first_day} .. {plan.last_day} started: follow it in"
        " the Airflow UI (Browse > Backfills)"
    )
