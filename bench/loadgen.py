"""A small HTTP load generator in the spirit of wrk: several processes, each with keep-alive
connections on threads, writing pre-built HTTP/1.1 requests on raw sockets and reading just
the status line and Content-Length of each answer, so the client (on the same 2 cores as the
server) spends as little CPU as it can. ``paced_gets`` instead holds a steady rate from threads
of the calling process, recording every answer. Each takes ``headers`` sent with every
request (e.g. a service token's ``Authorization``)."""

from __future__ import annotations

import multiprocessing
import socket
import threading
import time
from dataclasses import dataclass

from recsysctl.simulator import Pacer


@dataclass
class LoadResult:
    requests: int
    events: int
    errors: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def _header_lines(headers: dict[str, str] | None) -> str:
    return "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())


def _request(host: str, port: int, path: str, body: bytes, headers=None) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{_header_lines(headers)}"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _read_status(reader) -> int:
    """Read one response off a keep-alive connection; return its status code."""
    status = int(reader.readline().split(b" ", 2)[1])
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    reader.read(length)
    return status


def _worker(host, port, path, bodies, events_per_body, threads, start_at, headers, out):
    counts = {"requests": 0, "events": 0, "errors": 0}
    lock = threading.Lock()

    def run(share):
        sock = socket.create_connection((host, port), timeout=30)
        reader = sock.makefile("rb")
        ok = errors = 0
        for body in share:
            sock.sendall(_request(host, port, path, body, headers))
            if _read_status(reader) == 202:
                ok += 1
            else:
                errors += 1
        reader.close()
        sock.close()
        with lock:
            counts["requests"] += ok + errors
            counts["events"] += ok * events_per_body
            counts["errors"] += errors

    shares = [bodies[i::threads] for i in range(threads)]
    while time.time() < start_at:
        time.sleep(0.001)
    pool = [threading.Thread(target=run, args=(share,)) for share in shares]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put(counts)


def in_processes(target, args_per_process: list[tuple]) -> list:
    """Run ``target(*args, queue)`` in a process for each ``args``; each puts one result on
    the queue. Returns the results in the order they arrived, once every process is done."""
    queue = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(target=target, args=(*args, queue)) for args in args_per_process
    ]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return results


def post_all(
    url_host: str,
    port: int,
    path: str,
    bodies: list[bytes],
    events_per_body: int,
    processes: int,
    threads_per_process: int,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """POST every body once, spread over processes x threads, each with ``headers``; time
    from first to last."""
    start_at = time.time() + 1.0
    results = in_processes(
        _worker,
        [
            (
                url_host,
                port,
                path,
                bodies[i::processes],
                events_per_body,
                threads_per_process,
                start_at,
                headers,
            )
            for i in range(processes)
        ],
    )
    elapsed = time.time() - start_at
    return LoadResult(
        requests=sum(r["requests"] for r in results),
        events=sum(r["events"] for r in results),
        errors=sum(r["errors"] for r in results),
        seconds=elapsed,
    )


@dataclass
class LatencyResult:
    latencies_ms: list[float]
    errors: int
    seconds: float

    @property
    def requests_per_second(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(int(len(ordered) * q / 100), len(ordered) - 1)] if ordered else 0.0


def _closed_loop(call, items, threads, start_at, seconds, out):
    """``threads`` clients, each calling ``call(state, item)`` back to back until time is up."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def run(share):
        state = {}
        mine, failed = [], 0
        while time.time() < start_at:
            time.sleep(0.001)
        end = start_at + seconds
        i = 0
        while time.time() < end:
            began = time.perf_counter()
            ok = call(state, share[i % len(share)])
            if ok:
                mine.append((time.perf_counter() - began) * 1000)
            else:
                failed += 1
            i += 1
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    pool = [threading.Thread(target=run, args=(items[t::threads],)) for t in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put((latencies, errors[0]))


def _get_status(state: dict, host: str, port: int, path: str, headers=None) -> int:
    """GET ``path`` (with ``headers``) on the keep-alive connection kept in ``state`` (opened
    when missing); return the answer's status. A kept connection the server has closed
    meanwhile (idle keep-alive timeout) is reopened once; a failure on a fresh one raises."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{_header_lines(headers)}\r\n"
    ).encode()
    while True:
        fresh = "sock" not in state
        if fresh:
            state["sock"] = socket.create_connection((host, port), timeout=30)
            state["reader"] = state["sock"].makefile("rb")
        try:
            state["sock"].sendall(request)
            return _read_status(state["reader"])
        except (OSError, IndexError, ValueError):
            _close(state)
            if fresh:
                raise


def _close(state: dict) -> None:
    if "sock" in state:
        state.pop("reader").close()
        state.pop("sock").close()


def _http_get(host, port, headers=None):
    def call(state, path):
        return _get_status(state, host, port, path, headers) == 200

    return call


def closed_loop(call_factory, items, processes: int, threads: int, seconds: float):
    """Run ``processes x threads`` concurrent clients for ``seconds``; each process builds its
    call with ``call_factory()`` (a connection per client thread lives in its state)."""
    start_at = time.time() + 1.0
    results = in_processes(
        _process_main,
        [(call_factory, items[i::processes], threads, start_at, seconds) for i in range(processes)],
    )
    return LatencyResult(
        latencies_ms=[x for lat, _ in results for x in lat],
        errors=sum(e for _, e in results),
        seconds=seconds,
    )


def _process_main(call_factory, items, threads, start_at, seconds, out):
    _closed_loop(call_factory(), items, threads, start_at, seconds, out)


def get_for(
    host: str,
    port: int,
    paths: list[str],
    clients: int,
    seconds: float,
    headers: dict[str, str] | None = None,
):
    """GET the paths round-robin, each with ``headers``, from ``clients`` keep-alive
    connections for ``seconds``."""
    processes = 2
    return closed_loop(
        _HttpGetFactory(host, port, headers),
        paths,
        processes,
        max(clients // processes, 1),
        seconds,
    )


class _HttpGetFactory:
    """Picklable: builds the HTTP GET call inside each client process."""

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None):
        self.host, self.port, self.headers = host, port, headers

    def __call__(self):
        return _http_get(self.host, self.port, self.headers)


def paced_gets(
    host: str, port: int, paths: list[str], rate: float, clients: int, until, record, headers=None
):
    """GET ``paths`` round-robin at ``rate`` requests per second in all, from ``clients``
    keep-alive connections on threads, until ``time.monotonic()`` reaches ``until``; call
    ``record(began, milliseconds, status)`` for every request (status 0: no answer).

    Open loop, unlike ``get_for``: each client holds its share of the rate on an absolute
    schedule, so a slow answer is followed by a catch-up rather than by less load.
    """

    def run(client: int):
        share, state = paths[client::clients], {}
        pacer = Pacer(rate / clients)
        time.sleep(client / rate)  # spread the clients' requests over each period
        sent = 0
        while True:
            pacer.wait_until_due(sent)
            if time.monotonic() >= until:
                break
            began = time.monotonic()
            try:
                status = _get_status(state, host, port, share[sent % len(share)], headers)
            except (OSError, IndexError, ValueError):
                status = 0
            record(began, (time.monotonic() - began) * 1000, status)
            sent += 1
        _close(state)

    pool = [threading.Thread(target=run, args=(c,), daemon=True) for c in range(clients)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
