"""Reading a text file as blocks of whole lines: every line once, in order and numbered,
whatever the block size; a line at the length limit or over it refused wherever it falls,
inside a block or across blocks. No services."""

from __future__ import annotations

import pytest

from recsys.importers.reading import BadLine, Block, Source, line_blocks

LIMIT = 64


def read(path, block: int) -> list[tuple[int, str]]:
    """(line number, "ok: text" or "bad: reason") of every line, from the blocks."""
    out = []
    with Source(str(path)) as source:
        for piece in line_blocks(source, limit=LIMIT, block=block):
            if isinstance(piece, BadLine):
                out.append((piece.line, f"bad: {piece.reason}"))
                continue
            assert isinstance(piece, Block)
            for i, text in enumerate(piece.data.decode().splitlines()):
                out.append((piece.first_line + i, f"ok: {text}"))
    return out


@pytest.mark.parametrize("block", [LIMIT, 3 * LIMIT, 1 << 20])
def test_long_lines_are_refused_wherever_they_fall(tmp_path, block):
    lines = [
        "a" * 10,
        "b" * (LIMIT - 1),  # the longest line read
        "c" * LIMIT,  # refused: at the limit
        "d" * 5,
        "e" * (3 * LIMIT),  # refused: over it
        "f" * (LIMIT // 2),
        "g" * (LIMIT // 2 + 7),
    ]
    path = tmp_path / "lines.txt"
    path.write_text("\n".join(lines) + "\n" + "h" * LIMIT)  # the last line, no newline: refused
    refused = f"bad: the line is longer than {LIMIT:,} bytes: not read"
    assert read(path, block) == [
        (1, f"ok: {lines[0]}"),
        (2, f"ok: {lines[1]}"),
        (3, refused),
        (4, f"ok: {lines[3]}"),
        (5, refused),
        (6, f"ok: {lines[5]}"),
        (7, f"ok: {lines[6]}"),
        (8, refused),
    ]


def test_a_file_is_read_whole_in_blocks_of_any_size(tmp_path):
    lines = [f"line {i} " + "x" * (i % 50) for i in range(2_000)]
    path = tmp_path / "many.txt"
    path.write_text("\n".join(lines) + "\n")
    expected = [(i + 1, f"ok: {text}") for i, text in enumerate(lines)]
    for block in (LIMIT, 1_000, 1 << 20):
        assert read(path, block) == expected
