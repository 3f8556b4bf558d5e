"""A small HTTP load generator in the spirit of wrk: several processes, each with keep-alive
connections on threads, writing pre-built HTTP/1.1 requests on raw sockets and reading just
the status line and Content-Length of each answer, so the client (on the same 2 cores as the
server) spends as little CPU as it can."""

from __future__ import annotations

import multiprocessing
import socket
import threading
import time
from dataclasses import dataclass


@dataclass
class LoadResult:
    requests: int
    events: int
    errors: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def _request(host: str, port: int, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
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


def _worker(host, port, path, bodies, events_per_body, threads, start_at, out):
    counts = {"requests": 0, "events": 0, "errors": 0}
    lock = threading.Lock()

    def run(share):
        sock = socket.create_connection((host, port), timeout=30)
        reader = sock.makefile("rb")
        ok = errors = 0
        for body in share:
            sock.sendall(_request(host, port, path, body))
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


def post_all(
    url_host: str,
    port: int,
    path: str,
    bodies: list[bytes],
    events_per_body: int,
    processes: int,
    threads_per_process: int,
) -> LoadResult:
    """POST every body once, spread over processes x threads; time from first to last."""
    queue = multiprocessing.Queue()
    start_at = time.time() + 1.0
    procs = [
        multiprocessing.Process(
            target=_worker,
            args=(
                url_host,
                port,
                path,
                bodies[i::processes],
                events_per_body,
                threads_per_process,
                start_at,
                queue,
            ),
        )
        for i in range(processes)
    ]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    elapsed = time.time() - start_at
    for p in procs:
        p.join()
    return LoadResult(
        requests=sum(r["requests"] for r in results),
        events=sum(r["events"] for r in results),
        errors=sum(r["errors"] for r in results),
        seconds=elapsed,
    )
