"""The analyst views of ``sql/views``: one view per file, each applied by every migrate run.

A file is ``NN.<schema>.<view>.sql``; migrate runs the files in name order, so a view that
reads another must sort after it. The first tests read the files only; the others run
``recsys.db.migrate`` against the session's real PostgreSQL.
"""

from __future__ import annotations

import re
import shutil

import psycopg
import pytest

from recsys import db

VIEW_FILES = sorted(db.VIEWS_DIR.glob("*.sql"))
FILE_NAME = re.compile(r"^\d{2}\.(?P<view>[a-z_]+\.[a-z0-9_]+)\.sql$")


def view_of(path) -> str:
    """``analytics.top_songs_7d`` for ``01.analytics.top_songs_7d.sql``."""
    return FILE_NAME.match(path.name)["view"]


def test_there_are_view_files():
    assert len(VIEW_FILES) >= 7


@pytest.mark.parametrize("path", VIEW_FILES, ids=lambda p: p.name)
def test_a_file_defines_documents_and_grants_its_own_view(path):
    assert FILE_NAME.match(path.name), f"{path.name}: name it NN.<schema>.<view>.sql"
    view, text = view_of(path), path.read_text()
    assert re.findall(r"^create view ([\w.]+) as$", text, re.M) == [view]
    assert f"drop view if exists {view} cascade;" in text
    assert f"comment on view {view} is" in text
    assert f"grant select on {view} to analyst;" in text


def test_file_numbers_are_unique():
    numbers = [p.name.split(".")[0] for p in VIEW_FILES]
    assert len(numbers) == len(set(numbers))


def _views(conn) -> dict[str, tuple]:
    """Every view of the files as it is in the database: definition, comments, analyst's
    right to read it."""
    state = {}
    for path in VIEW_FILES:
        view = view_of(path)
        state[view] = conn.execute(
            "select pg_get_viewdef(c.oid), obj_description(c.oid, 'pg_class'),"
            " array(select col_description(c.oid, a.attnum) from pg_attribute as a"
            "       where a.attrelid = c.oid and a.attnum > 0 order by a.attnum),"
            " has_table_privilege('analyst', c.oid, 'select')"
            " from pg_class as c where c.oid = to_regclass(%s) and c.relkind = 'v'",
            (view,),
        ).fetchone()
    return state


@pytest.mark.integration
def test_every_view_file_is_applied(postgres):
    with db.connect(postgres) as conn:
        state = _views(conn)
    missing = [view for view, row in state.items() if row is None]
    assert missing == []
    for view, (definition, comment, column_comments, analyst_reads) in state.items():
        assert definition and comment, view
        assert None not in column_comments, f"{view}: a column without a comment"
        assert analyst_reads, f"the analyst role cannot read {view}"


@pytest.mark.integration
def test_a_view_file_sorts_after_every_view_it_reads(postgres):
    order = {view_of(path): n for n, path in enumerate(VIEW_FILES)}
    with db.connect(postgres) as conn:
        reads = conn.execute(
            "select distinct reader.oid::regclass::text, source.oid::regclass::text"
            " from pg_depend as d"
            " join pg_rewrite as r on r.oid = d.objid"
            " join pg_class as reader on reader.oid = r.ev_class"
            " join pg_class as source on source.oid = d.refobjid"
            " where d.classid = 'pg_rewrite'::regclass and d.refclassid = 'pg_class'::regclass"
            "   and source.relkind = 'v' and source.oid <> reader.oid"
            "   and reader.oid::regclass::text = any(%s)",
            (list(order),),
        ).fetchall()
    assert ("analytics.genre_skip_rates", "analytics.song_skip_rates") in reads
    for reader, source in reads:
        assert source in order, f"{reader} reads {source}, which no file of sql/views defines"
        assert order[source] < order[reader], f"{reader} must be numbered after {source}"


@pytest.mark.integration
def test_migrate_again_applies_nothing_and_keeps_the_views(postgres):
    with db.connect(postgres) as conn:
        before = _views(conn)
    assert db.migrate(postgres) == []
    assert db.migrate(postgres) == []
    with db.connect(postgres) as conn:
        assert _views(conn) == before


@pytest.mark.integration
def test_a_failing_view_file_leaves_every_view_as_it_was(postgres, tmp_path, monkeypatch):
    for path in VIEW_FILES:
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "99.analytics.broken.sql").write_text(
        "create view analytics.broken as select * from analytics.no_such_table;\n"
    )
    monkeypatch.setattr(db, "VIEWS_DIR", tmp_path)
    with db.connect(postgres) as conn:
        before = _views(conn)
    with pytest.raises(psycopg.errors.UndefinedTable):
        db.migrate(postgres)
    with db.connect(postgres) as conn:
        assert _views(conn) == before
        assert conn.execute("select to_regclass('analytics.broken')").fetchone()[0] is None
