"""``recsysctl demo playlists``: the demo world's playlists as an MPD slice, the same file for
the same seed, read back by the MPD reader without a problem. No services."""

from __future__ import annotations

import json

import pytest

from recsys.importers.mpd import Playlist, read_slice
from recsys.importers.reading import Source
from recsysctl import cli


def test_demo_playlists_writes_the_same_slice_for_the_same_seed(tmp_path, capsys):
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for path in paths:
        with pytest.raises(SystemExit) as exit_:
            cli.main(["demo", "playlists", "--out", str(path), "--size", "small", "--count", "12"])
        assert exit_.value.code == 0
    assert paths[0].read_bytes() == paths[1].read_bytes()
    data = json.loads(paths[0].read_text())
    assert len(data["playlists"]) == 12
    assert "12 playlists" in capsys.readouterr().out
    with Source(str(paths[0])) as source:
        read = list(read_slice(source))
    assert all(isinstance(p, Playlist) for p in read)
    assert [len(p.tracks) for p in read] == [p["num_tracks"] for p in data["playlists"]]
    assert all(8 <= len(p.tracks) <= 80 for p in read)


def test_demo_playlists_refuses_a_size_it_does_not_know(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["demo", "playlists", "--out", str(tmp_path / "x.json"), "--size", "huge"])
    assert exit_.value.code == 1
    assert "--size: unknown size 'huge'" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
