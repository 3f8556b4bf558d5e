"""The operator's catalog commands, registered by ``recsysctl.cli``:

    python -m recsysctl import catalog FILE [--dry-run] [--skip-invalid] [--embed]
    python -m recsysctl import lyrics lrclib DUMP.sqlite3 [--dry-run] [--replace] [--embed]
    python -m recsysctl import lyrics csv FILE [--dry-run] [--skip-invalid] [--embed]
    python -m recsysctl catalog takedown SONG_ID | restore SONG_ID | taken-down

Takedowns, restores and the ``--embed`` run are audited as the OS user (recsys.audit).

The import shows a progress bar (bytes of the file, rows and rows/s) and ends with a summary;
its rules are ``recsys.catalog.importer``'s. Exit status: 0 when the file was imported (or,
for a dry run, could be), 1 when it was not (bad rows without ``--skip-invalid``, or a file
that is not a catalog).
"""

from __future__ import annotations

import sys

from recsys.settings import load_settings
from recsysctl.progress import FileProgress

EMBED_COMMAND = "python -m recsysctl models embed --wait"


def add_import_catalog(imports) -> None:
    """``import catalog`` under the ``import`` command's subparsers."""
    parser = imports.add_parser(
        "catalog",
        help="songs and artists from a CSV or JSON Lines file (docs/importing.md#catalog)",
        description="Upsert songs and artists from a catalog file, in one transaction.",
    )
    parser.add_argument("file", help="catalog file: .csv (with a header) or .jsonl, maybe .gz")
    parser.add_argument(
        "--dry-run", action="store_true", help="report what would change; write nothing"
    )
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="write the valid rows, and the bad ones with their reasons to FILE.rejects.jsonl",
    )
    parser.add_argument(
        "--format", choices=("csv", "jsonl"), help="the file's format (default: by its name)"
    )
    parser.add_argument(
        "--embed",
        action="store_true",
        help="start a lyrics_embeddings run through Airflow when lyrics changed",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=cmd_import_catalog)


def add_import_lyrics(imports) -> None:
    """``import lyrics lrclib|csv`` under the ``import`` command's subparsers."""
    parser = imports.add_parser(
        "lyrics", help="lyrics from an LRCLIB dump or a song_id,lyrics file (docs/importing.md)"
    )
    sources = parser.add_subparsers(dest="source", required=True)
    lrclib = sources.add_parser("lrclib", help="an LRCLIB database dump (SQLite)")
    lrclib.add_argument("dump", help="the dump's .sqlite3 file")
    lrclib.add_argument(
        "--replace", action="store_true", help="also replace lyrics songs already have"
    )
    lyrics_file = sources.add_parser("csv", help="a song_id,lyrics CSV (or JSON Lines) file")
    lyrics_file.add_argument("file")
    lyrics_file.add_argument(
        "--skip-invalid",
        action="store_true",
        help="write the valid rows, and the bad ones with their reasons to FILE.rejects.jsonl",
    )
    for source in (lrclib, lyrics_file):
        source.add_argument("--dry-run", action="store_true", help="report; write nothing")
        source.add_argument(
            "--embed", action="store_true", help="start a lyrics_embeddings run when lyrics changed"
        )
        source.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=cmd_import_lyrics)


def add_catalog(sub) -> None:
    """The ``catalog`` command: takedowns and restores."""
    parser = sub.add_parser("catalog", help="take songs down or restore them")
    actions = parser.add_subparsers(dest="action", required=True)
    for action, text in (
        ("takedown", "never serve the song again (its history is kept)"),
        ("restore", "serve a taken-down song again"),
    ):
        actions.add_parser(action, help=text).add_argument("song_id")
    actions.add_parser("taken-down", help="the taken-down songs, latest first").add_argument(
        "--limit", type=int, default=50
    )


def cmd_import_catalog(args) -> int:
    from pathlib import Path

    from recsys import db
    from recsys.catalog.files import CatalogFileError
    from recsys.catalog.importer import import_catalog

    settings = load_settings()
    path = Path(args.file)
    if not path.is_file():
        sys.exit(f"error: {path}: no such file")
    progress = FileProgress(path.name, path.stat().st_size, not args.no_progress)
    try:
        with db.connect(
            settings, autocommit=True, application_name="recsysctl import catalog"
        ) as conn:
            report = import_catalog(
                conn,
                path,
                dry_run=args.dry_run,
                skip_invalid=args.skip_invalid,
                fmt=args.format,
                progress=progress,
            )
    except CatalogFileError as err:
        progress.close()
        print(f"error: {err}", file=sys.stderr)
        print("nothing was written", file=sys.stderr)
        return 1
    progress.close()
    print_report(report, args)
    if report.written and report.plan.lyrics_changed:
        _lyrics_changed(settings, report.plan.lyrics_changed, args.embed)
    return 0 if report.written or (args.dry_run and not report.rejected) else 1


def print_report(report, args) -> None:
    for problem in report.problems:
        print(problem, file=sys.stderr)
    if report.rejected > len(report.problems):
        print(f"... {report.rejected} rows rejected in all", file=sys.stderr)
    print(
        f"{report.path} ({report.format}): {report.rows_read} rows read,"
        f" {report.rows_read - report.rejected} valid, {report.rejected} rejected"
    )
    if report.plan is not None:
        verb = "would be" if report.dry_run else "were"
        for table in ("songs", "artists"):
            c = getattr(report.plan, table)
            print(
                f"  {table:8} {c.inserted} inserted, {c.updated} updated, {c.unchanged} unchanged"
                f" ({verb})"
            )
        print(f"  lyrics   {report.plan.lyrics_changed} songs with new, changed or removed lyrics")
    if report.dry_run:
        print("dry run: nothing was written")
    elif report.written:
        print("imported (one transaction, committed)")
        if report.rejects_path:
            print(f"rejected rows and their reasons: {report.rejects_path}")
    else:
        print(
            f"nothing was written: fix the rows above, or run again with --skip-invalid to write"
            f" the {report.rows_read - report.rejected} valid rows and a rejects file",
            file=sys.stderr,
        )


def _lyrics_changed(settings, changed: int, start_now: bool) -> None:
    """Changed lyrics are embedded by the lyrics_embeddings job (its md5 rule finds them):
    started through Airflow with ``--embed``, else the command is printed."""
    if not start_now:
        print(
            f"{changed} songs need their lyrics embedded: the daily lyrics_embeddings run will,"
            f" or now: {EMBED_COMMAND}"
        )
        return
    from recsys import db, model_admin
    from recsys.airflow_client import AirflowClient, AirflowError
    from recsys.audit import Actor

    try:
        with db.connect(settings, autocommit=True) as conn:
            run = model_admin.start(AirflowClient(settings), conn, "embed", Actor.cli())
    except (AirflowError, OSError) as err:
        print(f"could not start lyrics_embeddings through Airflow ({err}); run: {EMBED_COMMAND}")
        return
    print(f"lyrics_embeddings run {run['run_id']} started for {changed} songs")


def cmd_import_lyrics(args) -> int:
    from recsys import db
    from recsys.catalog import lyrics
    from recsys.catalog.files import CatalogFileError

    settings = load_settings()
    try:
        with db.connect(
            settings, autocommit=True, application_name="recsysctl import lyrics"
        ) as conn:
            if args.source == "lrclib":
                bar = _TrackProgress(not args.no_progress)
                try:
                    report = lyrics.import_lrclib(
                        conn, args.dump, dry_run=args.dry_run, replace=args.replace, progress=bar
                    )
                finally:
                    bar.close()
            else:
                report = lyrics.import_lyrics_file(
                    conn, args.file, dry_run=args.dry_run, skip_invalid=args.skip_invalid
                )
    except CatalogFileError as err:
        print(f"error: {err}\nnothing was written", file=sys.stderr)
        return 1
    print_lyrics_report(report, args.source)
    if report.written and report.updated:
        _lyrics_changed(settings, report.updated, args.embed)
    return 0 if report.written or (args.dry_run and not report.rejected) else 1


class _TrackProgress:
    """A tqdm bar over the dump's track ids."""

    def __init__(self, enabled: bool):
        from tqdm import tqdm

        self.bar = tqdm(unit=" tracks", unit_scale=True, disable=not enabled, file=sys.stderr)

    def __call__(self, reached: int, total: int) -> None:
        self.bar.total = total
        self.bar.update(reached - self.bar.n)

    def close(self) -> None:
        self.bar.close()


def print_lyrics_report(report, source: str) -> None:
    for problem in report.problems:
        print(problem, file=sys.stderr)
    verb = "would be" if report.dry_run else "were"
    if source == "lrclib":
        kinds = ", ".join(f"{n} {kind}" for kind, n in report.kinds.items())
        print(
            f"{report.path}: {report.rows_read} tracks with lyrics read;"
            f" {report.matched} of the catalog's {report.catalog_songs} songs matched"
            f" ({report.match_rate:.1%}): {kinds}"
        )
    else:
        print(
            f"{report.path}: {report.rows_read} rows read, {report.rows_read - report.rejected}"
            f" valid, {report.rejected} rejected"
        )
    print(
        f"  songs    {report.updated} updated, {report.unchanged} unchanged,"
        f" {report.kept} kept their own lyrics ({verb})"
    )
    if report.dry_run:
        print("dry run: nothing was written")
    elif report.written:
        print("imported (one transaction, committed)")
        if report.rejects_path:
            print(f"rejected rows and their reasons: {report.rejects_path}")
    else:
        print(
            "nothing was written: fix the rows above, or run again with --skip-invalid",
            file=sys.stderr,
        )


def cmd_catalog(args) -> int:
    from recsys import db
    from recsys.audit import Actor, audited
    from recsys.catalog import store

    with db.connect(load_settings(), autocommit=True) as conn:
        if args.action == "taken-down":
            for song_id, title, artist, when in store.taken_down(conn, args.limit):
                print(f"{when:%Y-%m-%d %H:%M:%S%z}  {song_id}  {title} ({artist})")
            return 0
        if args.action == "takedown":
            with audited(conn, Actor.cli(), "song.takedown", args.song_id) as attempt:
                done = store.take_down(conn, args.song_id)
                if done is None:
                    attempt.outcome = "unknown_song"
                else:
                    attempt.details["changed"] = done[1]
            if done is None:
                sys.exit(f"error: no song {args.song_id!r}")
            when, changed = done
            state = "taken down" if changed else "was already taken down"
            print(f"{args.song_id} {state} at {when:%Y-%m-%d %H:%M:%S%z}: it is no longer served")
            return 0
        with audited(conn, Actor.cli(), "song.restore", args.song_id) as attempt:
            restored = store.restore(conn, args.song_id)
            if restored is None:
                attempt.outcome = "unknown_song"
            else:
                attempt.details["changed"] = restored
        if restored is None:
            sys.exit(f"error: no song {args.song_id!r}")
        print(f"{args.song_id} {'restored' if restored else 'was not taken down'}: it is served")
        return 0
