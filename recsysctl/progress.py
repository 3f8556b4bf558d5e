"""The import commands' progress bar: tqdm over a file's bytes (rate and ETA), with rows and
rows/s beside it, on stderr so the summary on stdout stays clean."""

from __future__ import annotations

import sys
import time


class FileProgress:
    """``progress(position, rows)`` after each block read; ``close()`` at the end."""

    def __init__(self, name: str, size: int, enabled: bool):
        from tqdm import tqdm

        self.started = time.monotonic()
        self.bar = tqdm(
            total=size, unit="B", unit_scale=True, desc=name, disable=not enabled, file=sys.stderr
        )

    def __call__(self, position: int, rows: int) -> None:
        self.bar.update(position - self.bar.n)
        rate = rows / max(time.monotonic() - self.started, 1e-6)
        self.bar.set_postfix_str(f"{rows:,} rows, {rate:,.0f} rows/s", refresh=False)

    def close(self) -> None:
        self.bar.close()
