"""The soak benchmark's printed report: each minute's requests, errors, p50 and p99 per kind,
the error rate, p99 flatness, the retrain's run, every process's memory, and the targets.

p99 flatness is the highest window's p99 over the median window's, per kind, leaving out
the windows the retrain overlaps. A p99 needs samples: a minute of 120 event batches has
its p99 at its second-slowest answer. So each ratio is printed beside the ratio the same
answers give once shuffled across the same windows: what a perfectly steady service, with
this latency distribution, would show from sampling alone. The target is judged on
``--flatness-window``-minute windows (5), where that noise is well under the 20% allowed.
"""

from __future__ import annotations

import random
import statistics

from bench.loadgen import LatencyResult

KINDS = ("home", "next song", "events", "event")
MAX_ERRORS = 0
MAX_P99_RATIO = 1.2
MAX_MEMORY_GROWTH = 0.10
MB = 1024 * 1024
# Private memory growing less than this is a few pages of a small process, not a leak.
MEMORY_NOISE = 5 * MB


def window_of(answer, timeline) -> int | None:
    """The measured minute an answer's request began in; -1 for the warm-up, None after."""
    if answer.began < timeline.start:
        return -1
    minute = int((answer.began - timeline.start) // 60)
    return minute if answer.began < timeline.end else None


def retrain_minutes(retrain, timeline, minutes: int) -> set[int]:
    """The measured minutes the retrain's run overlapped (from its trigger to its end)."""
    if retrain is None or retrain.started_at is None or retrain.problem:
        return set()
    until = retrain.finished_at or timeline.end
    return {
        m
        for m in range(minutes)
        if retrain.started_at < timeline.start + (m + 1) * 60 and until > timeline.start + m * 60
    }


def _cell(answers) -> str:
    done = LatencyResult([a.ms for a in answers if a.ok], 0, 60)
    errors = sum(not a.ok and a.status != 429 for a in answers)
    return f"{len(answers):6d} {errors:4d} {done.percentile(50):7.1f} {done.percentile(99):7.1f}"


def print_windows(by_window, minutes: int, retrained: set[int], snapshots) -> None:
    print("\nminute   " + " ".join(f"{kind:<27}" for kind in KINDS) + "  429  stack priv.")
    print(" " * 9 + " ".join(["   req  err  p50 ms  p99 ms"] * len(KINDS)))
    for window in range(-1, minutes):
        answers = by_window.get(window, {})
        name = "warm-up" if window < 0 else f"{window + 1}{'*' if window in retrained else ''}"
        cells = " ".join(_cell(answers.get(kind, [])) for kind in KINDS)
        limited = sum(a.status == 429 for mine in answers.values() for a in mine)
        private = ""
        if window >= 0:  # the stack's private memory at the minute's end
            total = sum(m.private * m.count for m in snapshots[window + 1].values())
            private = f"{total / MB:8.0f} MB"
        print(f"{name:<8} {cells} {limited:4d} {private:>11}")
    if retrained:
        print("* the retrain's run overlapped this minute")


def window_latencies(
    by_window, minutes: int, width: int, leave_out: set[int], kind: str
) -> list[list[float]]:
    """The answered latencies of ``kind`` in consecutive windows of ``width`` minutes (a
    last, shorter window dropped), leaving out windows holding a minute of ``leave_out``."""
    windows = []
    for first in range(0, minutes - width + 1, width):
        span = range(first, first + width)
        if leave_out.isdisjoint(span):
            windows.append([a.ms for m in span for a in by_window.get(m, {}).get(kind, []) if a.ok])
    return windows


def p99_ratio(windows: list[list[float]]) -> float | None:
    """The highest window p99 over the median window p99 (None: under 2 windows)."""
    p99s = [LatencyResult(w, 0, 60).percentile(99) for w in windows if w]
    return max(p99s) / statistics.median(p99s) if len(p99s) >= 2 else None


def noise_ratio(windows: list[list[float]], rounds: int = 25, seed: int = 0) -> float | None:
    """The median ``p99_ratio`` of the same latencies shuffled across the same windows
    (each keeping its count): the ratio sampling alone gives a service that never changed."""
    pooled = [ms for w in windows for ms in w]
    rng = random.Random(seed)
    ratios = []
    for _ in range(rounds):
        rng.shuffle(pooled)
        shuffled, at = [], 0
        for w in windows:
            shuffled.append(pooled[at : at + len(w)])
            at += len(w)
        ratio = p99_ratio(shuffled)
        if ratio is None:
            return None
        ratios.append(ratio)
    return statistics.median(ratios)


def _ratio(value: float | None) -> str:
    return f"{value:5.2f}" if value is not None else "  n/a"


def print_flatness(by_window, minutes: int, retrained: set[int], widths) -> dict:
    """Each kind's p99 flatness per window width, with and without the retrain's windows,
    beside its sampling-noise ratio; returns {width: {kind: ratio without the retrain}}."""
    steady: dict[int, dict[str, float | None]] = {}
    print("\np99 flatness (highest window p99 / median window p99; noise: the same answers")
    print("shuffled across the windows, what sampling alone gives a steady service)")
    for width in widths:
        steady[width] = {}
        print(f"  {width}-minute windows")
        for kind in KINDS:
            without = window_latencies(by_window, minutes, width, retrained, kind)
            every = window_latencies(by_window, minutes, width, set(), kind)
            steady[width][kind] = p99_ratio(without)
            print(
                f"    {kind:<10} without the retrain's {_ratio(steady[width][kind])}"
                f" (noise {_ratio(noise_ratio(without))}); all {_ratio(p99_ratio(every))}"
                f" (noise {_ratio(noise_ratio(every))})"
            )
    return steady


def print_retrain(retrain, timeline) -> None:
    if retrain is None:
        print("\nretrain: not run (--no-retrain)")
        return
    if retrain.started_at is None:
        print("\nretrain: not started (--retrain-at is past the end)")
        return
    if retrain.problem:
        print(f"\nretrain: could not start: {retrain.problem}")
        return
    changes = ", ".join(f"{state} at {timeline.stamp(t)}" for t, state in retrain.states)
    print(f"\nretrain: run {retrain.run_id} triggered at {timeline.stamp(retrain.started_at)}")
    print(f"  {changes}")
    if retrain.finished_at is None:
        print("  still not finished when the soak stopped following it")
    else:
        took = retrain.finished_at - retrain.started_at
        after = " (after the traffic stopped)" if retrain.finished_at > timeline.end else ""
        print(f"  finished {retrain.states[-1][1]} after {took / 60:.1f} min{after}")
    if retrain.last:
        print(f"  tasks: {retrain.last.get('tasks')}")
        model = retrain.last.get("model")
        if model:
            reason = f" ({model['reason']})" if model.get("reason") else ""
            print(f"  model version {model['version']}: {model['status']}{reason}")


def _growth(before, after, field: str) -> float | None:
    if before is None or after is None:
        return None
    return getattr(after, field) / getattr(before, field) - 1


def _columns(before, after, field: str) -> str:
    start = f"{getattr(before, field) / MB:7.0f}" if before else "      -"
    end = f"{getattr(after, field) / MB:7.0f}" if after else "      -"
    growth = _growth(before, after, field)
    change = f"{growth:+8.1%}" if growth is not None else ("     new" if after else "    gone")
    return f"{start} {end} {change}"


def print_memory(start: dict, end: dict) -> dict[str, list[str]]:
    """Each process's RSS and private memory at start and end; returns, per measure, the
    processes seen at both that grew by the limit or more (private: and by 5 MB or more)."""
    print(f"\nmemory, MB {'':<64}RSS                  private")
    print(f"  {'service':<21} {'process':<43} {'pid':>7}" + "   start     end   growth" * 2)
    grew: dict[str, list[str]] = {"rss": [], "private": []}
    for key in sorted(start.keys() | end.keys(), key=lambda k: (k[0], str(k[1]))):
        before, after = start.get(key), end.get(key)
        service, label, pid = key[0], (before or after).label, (before or after).pid
        if pid is None:
            label = (
                f"{label}, each ({before.count if before else 0}->{after.count if after else 0})"
            )
        for field, names in grew.items():
            growth = _growth(before, after, field)
            noise = MEMORY_NOISE if field == "private" else 0
            if (
                growth is not None
                and growth >= MAX_MEMORY_GROWTH
                and getattr(after, field) - getattr(before, field) >= noise
            ):
                names.append(f"{service} {label}{f' pid {pid}' if pid else ''} {growth:+.0%}")
        print(
            f"  {service:<21} {label[:43]:<43} {pid or '':>7} "
            f"{_columns(before, after, 'rss')} {_columns(before, after, 'private')}"
        )
    print("  private: RSS less resident shared pages (PostgreSQL's shared buffers, mapped files)")
    return grew


def report(answers, timeline, retrain, snapshots, args) -> None:
    """``snapshots``: the stack's memory at the start and at the end of each minute."""
    minutes = int(args.minutes)
    by_window: dict[int, dict[str, list]] = {}
    for answer in answers:
        window = window_of(answer, timeline)
        if window is not None and answer.kind in KINDS:
            by_window.setdefault(window, {}).setdefault(answer.kind, []).append(answer)
    retrained = retrain_minutes(retrain, timeline, minutes)
    print_windows(by_window, minutes, retrained, snapshots)

    errors = sum(not a.ok and a.status != 429 for a in answers)
    limited = sum(a.status == 429 for a in answers)
    print(f"\nrequests: {len(answers):,}; errors {errors} ({errors / max(len(answers), 1):.3%})")
    for kind in (*KINDS, "admin"):
        mine = [a for a in answers if a.kind == kind]
        failures = sorted({a.status for a in mine if not a.ok})
        print(
            f"  {kind:<10} {len(mine):7,} requests, "
            f"{sum(not a.ok and a.status != 429 for a in mine)} errors"
            + (f" (statuses {failures}; 0 = no answer)" if failures else "")
        )
    print(f"429 (rate limited, not counted as errors): {limited}")
    print_retrain(retrain, timeline)

    width = args.flatness_window
    steady = print_flatness(by_window, minutes, retrained, sorted({1, width}))
    grew = print_memory(snapshots[0], snapshots[-1])

    judged = [r for r in steady[width].values() if r is not None]
    flat = (
        ("met" if max(judged) <= MAX_P99_RATIO else "missed") + f" (worst {max(judged):.2f})"
        if judged
        else "not judged (under 2 windows without the retrain)"
    )
    print("\ntargets")
    print(f"  0 errors: {'met' if errors <= MAX_ERRORS else 'missed'} ({errors})")
    print(f"  p99 flat within 20% ({width}-minute windows without the retrain): {flat}")
    for field, on in (
        ("private", "private memory, growth under 5 MB ignored"),
        ("rss", "RSS, strictly, for information only"),
    ):
        names = grew[field]
        verdict = "met" if not names else f"missed by {len(names)}: " + "; ".join(names)
        print(f"  memory growth under 10% ({on}): {verdict}")
