"""Responding traffic: the simulated listeners of ``recsysctl.responding`` against the real
web app, many at a time, and the ``simulate-responses`` command.

Reads a demo world and the web app's answers (``GET /api/v1/recs/<user_id>`` and
``/api/v1/recs/<user_id>/<song_id>``); writes each playback's event through
``POST /api/v1/logs/events`` (``simulator.HttpSink``) and prints a report per experiment arm.

    python -m recsysctl simulate-responses --listeners 60 --sessions 5 --seed 1 --size small

Example
-------
>>> report = simulate_responses(load_settings(), generate_world("small", seed=11),
...                             listeners=20, sessions=3, seed=1)  # doctest: +SKIP
>>> print(format_report(report))  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import requests
from tqdm import tqdm

from recsys.settings import Settings
from recsysctl import demo, simulator
from recsysctl.credentials import service_session
from recsysctl.responding import (
    LIST_LENGTH,
    UP_NEXT_SONGS,
    ArmCounts,
    Step,
    count_by_arm,
    listener_rng,
    run_session,
    song_indexes,
)

RECS_PATH = "/api/v1/recs"
MAX_LIMIT = 100  # the API's page size limit (webapp.api.params.Page)


class HttpRecommendations:
    """The web app as one listener's client sees it: answers from ``/api/v1/recs``, events
    through ``simulator.HttpSink``. Retries while the web app is briefly away; waits as told
    when over the rate limit."""

    def __init__(
        self,
        settings: Settings,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.url = settings.webapp_url + RECS_PATH
        self.session = session or service_session(
            settings, "simulator", ["events:write:any", "recs:read:any"]
        )
        self.sink = simulator.HttpSink(settings, self.session, sleep)
        self._sleep = sleep

    def _get(self, path: str, limit: int) -> requests.Response:
        """The web app's answer to GET ``path``; raises ``SimulationError`` when it stays
        away (no listener gets far without answers, so the run stops)."""
        attempt, url = 0, f"{self.url}/{path}"
        while attempt < simulator.MAX_ATTEMPTS:
            if attempt:
                self._sleep(simulator.BACKOFF_S * 2 ** (attempt - 1))
            attempt += 1
            try:
                response = self.session.get(url, params={"limit": limit}, timeout=30)
            except (requests.ConnectionError, requests.Timeout):
                continue
            if response.status_code == 429:  # over the rate limit: wait as told
                self._sleep(float(response.headers.get("Retry-After", 1)))
                attempt -= 1
                continue
            if response.status_code not in simulator.RETRYABLE_STATUSES:
                return response
        raise simulator.SimulationError(
            f"the web app did not answer GET {url} after {simulator.MAX_ATTEMPTS} attempts"
        )

    @staticmethod
    def _answer(response: requests.Response) -> dict | None:
        if response.status_code == 404:  # a song gone from the catalog: no list
            return None
        if response.status_code != 200:
            raise simulator.SimulationError(
                f"the web app answered {response.status_code} to {response.url}: "
                f"{response.text[:200]}"
            )
        return response.json()

    def home(self, user_id: str, limit: int) -> dict | None:
        response = self._get(user_id, limit)
        if response.status_code == 404:
            raise simulator.SimulationError(
                f"the web app does not know listener {user_id}: simulate the demo world "
                "loaded into its catalog (--size, --world-seed)"
            )
        return self._answer(response)

    def up_next(self, user_id: str, song_id: str, limit: int) -> dict | None:
        return self._answer(self._get(f"{user_id}/{song_id}", limit))

    def send(self, event: dict) -> str:
        before = (len(self.sink.tally.accepted_event_ids), self.sink.tally.rejected)
        self.sink.send([event])
        if len(self.sink.tally.accepted_event_ids) > before[0]:
            return "accepted"
        return "rejected" if self.sink.tally.rejected > before[1] else "failed"

    def close(self) -> None:
        self.session.close()


@dataclass
class ResponseReport:
    """What a responding simulation asked, sent and got, per experiment arm."""

    seed: int
    listeners: int
    sessions: int
    seconds: float
    arms: dict[str, ArmCounts]
    unanswered: int  # Up Next lists of a song the web app no longer knows
    steps: list[Step] = field(repr=False, default_factory=list)

    @property
    def events(self) -> list[dict]:
        return [s.event for s in self.steps if s.event is not None]

    def count(self, outcome: str) -> int:
        return sum(s.outcome == outcome for s in self.steps)


def simulate_responses(
    settings: Settings,
    world: demo.World,
    listeners: int | None = None,
    sessions: int = 3,
    seed: int | None = None,
    up_next: int = UP_NEXT_SONGS,
    limit: int = LIST_LENGTH,
    threads: int = 4,
    progress: bool = True,
) -> ResponseReport:
    """``sessions`` sessions by each of the first ``listeners`` users of ``world`` (all when
    None) against the web app, ``threads`` listeners at a time.

    Raises
    ------
    ValueError
        On a count out of range.
    simulator.SimulationError
        When the web app does not know a listener or refuses a request outright.
    """
    model = demo.listening_model(world)
    listeners = len(model.user_ids) if listeners is None else listeners
    if not 1 <= listeners <= len(model.user_ids):
        raise ValueError(f"listeners must be 1 to {len(model.user_ids)}, not {listeners}")
    if sessions < 1 or up_next < 0 or not 1 <= limit <= MAX_LIMIT or threads < 1:
        raise ValueError(
            f"sessions and threads must be at least 1, up_next at least 0, limit 1 to {MAX_LIMIT}"
        )
    seed = int(np.random.SeedSequence().entropy % 2**32) if seed is None else seed
    song_index = song_indexes(model)

    def listen(user: int) -> list[Step]:
        api = HttpRecommendations(settings)
        rng = listener_rng(seed, user)
        try:
            return [
                step
                for _ in range(sessions)
                for step in run_session(model, song_index, user, api, rng, up_next, limit)
            ]
        finally:
            api.close()

    started = time.monotonic()
    steps: list[Step] = []
    bar = tqdm(total=listeners, unit="listener", desc="responding", disable=not progress)
    pool = ThreadPoolExecutor(max_workers=threads)
    try:
        with bar:
            for listened in pool.map(listen, range(listeners)):  # in listener order
                steps += listened
                bar.update(1)
    finally:  # on an error, listeners not yet started never start
        pool.shutdown(cancel_futures=True)
    return ResponseReport(
        seed=seed,
        listeners=listeners,
        sessions=sessions,
        seconds=time.monotonic() - started,
        arms=count_by_arm(steps, settings.play_min_seconds),
        unanswered=sum(s.answer is None for s in steps),
        steps=steps,
    )


def format_report(report: ResponseReport) -> str:
    """A short table: per experiment arm, answers asked, events sent and accepted, plays,
    completes, skips, lists left and the play-through rate."""
    lines = [
        f"{report.listeners} listeners x {report.sessions} sessions (seed {report.seed}) "
        f"in {report.seconds:.1f} s: events accepted {report.count('accepted')}, rejected "
        f"{report.count('rejected')}, failed {report.count('failed')}; "
        f"Up Next of songs gone from the catalog {report.unanswered}",
        f"{'experiment:arm':32} {'answers':>7} {'events':>6} {'accepted':>8} {'plays':>5} "
        f"{'completes':>9} {'skips':>5} {'left':>4} {'play-through':>12}",
    ]
    for arm, c in report.arms.items():
        through = "-" if c.play_through is None else f"{c.play_through:.3f}"
        lines.append(
            f"{arm:32} {c.answers:7} {c.events:6} {c.accepted:8} {c.plays:5} "
            f"{c.completes:9} {c.skips:5} {c.left:4} {through:>12}"
        )
    return "\n".join(lines)


def _count(low: int, high: int | None = None):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, not {value}")
        return value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``simulate-responses``."""
    parser.add_argument(
        "--listeners",
        type=_count(1),
        default=None,
        help="the first N demo users listen (default: all of them)",
    )
    parser.add_argument(
        "--sessions", type=_count(1), default=3, help="sessions per listener (default: 3)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the listeners' choices: the same answers then get the same choices "
        "(default: a new one each run, printed)",
    )
    parser.add_argument(
        "--up-next",
        type=_count(0),
        default=UP_NEXT_SONGS,
        help=f"most songs played from Up Next after the home page's (default: {UP_NEXT_SONGS})",
    )
    parser.add_argument(
        "--limit",
        type=_count(1, MAX_LIMIT),
        default=LIST_LENGTH,
        help=f"songs asked for per list (default: {LIST_LENGTH})",
    )
    parser.add_argument(
        "--threads", type=_count(1, 64), default=4, help="listeners at a time (default: 4)"
    )
    parser.add_argument(
        "--size",
        choices=tuple(demo.SIZES),
        default="default",
        help="demo world size; must be the one loaded into the catalog (default: default)",
    )
    parser.add_argument(
        "--world-seed",
        type=int,
        default=demo.DEFAULT_SEED,
        help="seed of the demo world; must be the one loaded into the catalog "
        f"(default: {demo.DEFAULT_SEED})",
    )


def cmd_simulate_responses(args: argparse.Namespace, settings: Settings) -> int:
    """Run the listeners, print the report; 2 for arguments the world cannot take, 1 when
    the web app stayed away or events were lost."""
    world = demo.generate_world(args.size, seed=args.world_seed)
    if args.listeners is not None and args.listeners > len(world.users):
        print(
            f"error: --listeners {args.listeners}: the {args.size} demo world has "
            f"{len(world.users)} listeners",
            file=sys.stderr,
        )
        return 2
    try:
        report = simulate_responses(
            settings,
            world,
            listeners=args.listeners,
            sessions=args.sessions,
            seed=args.seed,
            up_next=args.up_next,
            limit=args.limit,
            threads=args.threads,
        )
    except simulator.SimulationError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(format_report(report))
    return 0 if report.count("failed") + report.count("rejected") == 0 else 1
