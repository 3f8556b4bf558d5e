"""Keep one service process running: restart it when it exits, stop it when told to.

The local stack's equivalent of compose's ``restart: unless-stopped``. Airflow's scheduler,
dag-processor and triggerer exit when their metadata database goes away (a PostgreSQL
restart); run under this supervisor they come back on their own once it is reachable again.

    python -m recsysctl.stack.supervise --name airflow-scheduler -- airflow scheduler

SIGTERM or SIGINT (``make down`` signals the whole process group) stops the child and the
supervisor without a restart. A child that exits is started again after a back-off that
doubles from ``--min-backoff`` up to ``--max-backoff``, and starts over once a child has
run for ``--healthy-after`` seconds. Each restart is one line in the service's log.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time


class Supervisor:
    def __init__(self, argv: list[str], name: str, min_backoff_s: float, max_backoff_s: float,
                 healthy_after_s: float):  # fmt: skip
        self.argv, self.name = argv, name
        self.min_backoff_s, self.max_backoff_s = min_backoff_s, max_backoff_s
        self.healthy_after_s = healthy_after_s
        self.stopping = False
        self.child: subprocess.Popen | None = None
        self.restarts = 0

    def stop(self, signum, _frame) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signum)

    def run(self) -> int:
        backoff = self.min_backoff_s
        code = 0
        while not self.stopping:
            started = time.monotonic()
            self.child = subprocess.Popen(self.argv)
            if self.stopping:  # told to stop while the child was starting
                self.child.terminate()
            code = self.child.wait()
            if self.stopping:
                return code
            if time.monotonic() - started >= self.healthy_after_s:
                backoff = self.min_backoff_s
            self.restarts += 1
            _log(f"{self.name} exited with code {code}; restart {self.restarts} in {backoff:.1f} s")
            deadline = time.monotonic() + backoff
            while time.monotonic() < deadline and not self.stopping:
                time.sleep(0.2)
            backoff = min(backoff * 2, self.max_backoff_s)
        return code


def _log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    print(f"[{stamp}Z supervise] {message}", flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="the service's name, for the log")
    parser.add_argument("--min-backoff", type=float, default=1.0, help="seconds (default 1)")
    parser.add_argument("--max-backoff", type=float, default=30.0, help="seconds (default 30)")
    parser.add_argument(
        "--healthy-after",
        type=float,
        default=60.0,
        help="seconds a child must run for the back-off to start over (default 60)",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if not args.command:
        parser.error("give the command to supervise after --")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    supervisor = Supervisor(
        args.command, args.name, args.min_backoff, args.max_backoff, args.healthy_after
    )
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
