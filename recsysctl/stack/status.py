"""``make status``: each service, its address, whether it is healthy, where its data lives."""

from __future__ import annotations

from recsys.settings import Settings
from recsysctl.stack.services import services


def status_rows(settings: Settings) -> list[tuple[str, str, str, str]]:
    rows = []
    for service in services(settings):
        try:
            state = "healthy" if service.module.healthy(settings) else "down"
        except Exception as err:  # a status line must never crash the table
            state = f"error: {err}"[:60]
        rows.append((service.name, state, service.address, service.data))
    return rows


def print_status(settings: Settings) -> bool:
    rows = status_rows(settings)
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    header = ("service", "state", "address", "data")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    for row in (header, *rows):
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
    return all(r[1] == "healthy" for r in rows)
