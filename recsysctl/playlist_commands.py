"""``python -m recsysctl import playlists FILE...`` and ``python -m recsysctl demo playlists``,
registered by ``recsysctl.cli``.

    python -m recsysctl import playlists mpd.slice.0-999.json --create-missing
    python -m recsysctl import playlists data/mpd/mpd.slice.*.json --user mpd --dry-run
    python -m recsysctl demo playlists --out playlists.json --size default --count 2000

``import playlists`` reads Million Playlist Dataset slices into ``catalog.playlists`` (the
rules are ``recsys.importers.mpd_import``'s): each file is one transaction, a file with a bad
playlist writes nothing and its problems are printed as ``FILE: playlists[I] (pid P): FIELD:
reason``. Exit status 0 when every file was imported, else 1. ``demo playlists`` writes the
demo world's generated playlists as a slice (``recsysctl.demo.playlists``), which imports
into the demo catalog (``make up``) as it is, matched by artist and title.
"""

from __future__ import annotations

import sys
from pathlib import Path

from recsys.settings import load_settings
from recsysctl.progress import FileProgress

MAX_ERRORS_SHOWN = 50
TOP_UNMATCHED = 10


def add_import_playlists(imports) -> None:
    """``import playlists`` under the ``import`` command's subparsers."""
    parser = imports.add_parser(
        "playlists",
        help="playlists: Million Playlist Dataset slices (docs/importing.md)",
        description="Import Million Playlist Dataset slice files as playlists of one owner.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument(
        "--user", default="mpd", help="the listener who owns the imported playlists (default mpd)"
    )
    parser.add_argument(
        "--create-missing",
        action="store_true",
        help="add songs the catalog lacks (genre 'unknown'); otherwise their tracks are"
        " counted, listed and left out of the playlists",
    )
    parser.add_argument("--dry-run", action="store_true", help="report, write nothing")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=cmd_import_playlists)


def add_demo_playlists(demo) -> None:
    """``demo playlists`` under the ``demo`` command (``demo`` alone still loads the demo)."""
    kinds = demo.add_subparsers(dest="demo_kind")
    parser = kinds.add_parser(
        "playlists",
        help="write the demo world's generated playlists as an MPD slice",
        description="Write playlists of the demo world's listeners as a Million Playlist"
        " Dataset slice (the same size, seed and count give the same file).",
    )
    parser.add_argument("--out", required=True, help="the slice file to write")
    parser.add_argument("--size", default="default", help="small, default or large")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--count", type=int, default=2000, help="playlists (default 2000)")
    parser.set_defaults(run=cmd_demo_playlists)


def cmd_demo_playlists(args) -> int:
    from recsysctl.demo import generate_world
    from recsysctl.demo.playlists import generate_slice, write_slice

    if args.count < 1:
        print("error: --count: must be at least 1", file=sys.stderr)
        return 1
    try:
        world = generate_world(args.size, seed=args.seed)
    except ValueError as err:
        print(f"error: --size: {err}", file=sys.stderr)
        return 1
    data = generate_slice(world, args.count, args.seed)
    write_slice(data, Path(args.out))
    tracks = sum(p["num_tracks"] for p in data["playlists"])
    print(f"{args.out}: {args.count:,} playlists, {tracks:,} tracks (demo world {args.size},"
          f" seed {args.seed})")  # fmt: skip
    return 0


def cmd_import_playlists(args) -> int:
    from recsys import db
    from recsys.importers.mpd_import import Importer

    settings = load_settings()
    for name in args.files:
        if not Path(name).is_file():
            print(f"error: {name}: no such file", file=sys.stderr)
            return 1
    ok = True
    with db.connect(settings) as conn:
        importer = Importer(conn, args.user, args.create_missing)
        for name in args.files:
            path = Path(name)
            progress = FileProgress(path.name, path.stat().st_size, not args.no_progress)
            try:
                report = importer.run(str(path), args.dry_run, progress)
            finally:
                progress.close()
            print_report(report)
            ok = ok and (report.written or (args.dry_run and not report.errors))
    return 0 if ok else 1


def print_report(r) -> None:
    for error in r.errors[:MAX_ERRORS_SHOWN]:
        print(error, file=sys.stderr)
    if len(r.errors) > MAX_ERRORS_SHOWN:
        print(f"... {len(r.errors):,} problems in all", file=sys.stderr)
    c = r.counts
    print(f"{r.file} (MPD slice): {c.playlists + len(r.errors):,} playlists read,"
          f" {c.playlists:,} valid, {len(r.errors):,} rejected")  # fmt: skip
    if r.errors:
        print(f"nothing of {r.file} was written: fix the playlists above", file=sys.stderr)
        return
    unmatched = sum(r.unmatched.values())
    created = r.created
    print(f"  playlists {r.inserted:>9,} inserted, {r.updated:,} updated, {r.unchanged:,}"
          f" unchanged (were), {r.empty:,} empty (no song matched)")  # fmt: skip
    print(f"  tracks    {c.tracks + c.repeats:>9,} read: {c.repeats:,} repeats in a playlist (kept"
          f" once), {r.matched:,} matched, {unmatched:,} unmatched (left out)")  # fmt: skip
    if r.created_tracks:
        print(f"  added     {r.created_tracks:>9,} tracks of songs the catalog lacked:"
              f" {created.get('songs', 0):,} songs, {created.get('artists', 0):,} artists"
              " (genre 'unknown')")  # fmt: skip
    if r.unmatched:
        print("  most frequent unmatched (--create-missing adds them):")
        for (artist, title), count in r.unmatched.most_common(TOP_UNMATCHED):
            print(f"    {count:>9,}  {artist} - {title}")
    owner = f"owned by '{r.owner}'" + (" (added)" if created.get("users") else "")
    if r.dry_run:
        print(f"dry run: nothing written (one transaction, rolled back); {owner}")
    else:
        print(f"imported (one transaction, committed); {owner}")
