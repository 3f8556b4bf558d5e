"""The operator's experiment commands, registered by ``recsysctl.cli``:

    python -m recsysctl experiment start NAME --surface home|up_next --arm SPEC --arm SPEC ...
                                          [--notes TEXT]
    python -m recsysctl experiment start NAME --surface home --arms-file arms.json
    python -m recsysctl experiment list
    python -m recsysctl experiment show NAME
    python -m recsysctl experiment stop NAME

An arm SPEC is ``NAME:SHARE`` then any of ``:blend=W``, ``:model_version=V``, ``:random``,
e.g. ``control:0.5 low_blend:0.5:blend=0.5``; the first arm is the control and is plain. An
arms file is a JSON list of ``{"name", "share", "model_version", "blend", "random"}``, as
the admin API takes. The rules are recsys.experiment_store's (docs/operating.md#experiments).

Exit status: 0 done; 2 bad input (an argument, a definition, an unknown experiment), named
on stderr; 1 a conflict (the surface runs another experiment, the name is taken, already
stopped). Reads and writes ops.experiments; ``show`` reads analytics.online_metrics.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from recsys.experiments import SURFACES, Arm
from recsys.settings import load_settings

BAD_INPUT, CONFLICT = 2, 1
RATE_NAMES = {"play_through_rate": "play-through", "skip_rate": "skip rate",
              "play_rate": "play rate"}  # fmt: skip


class BadArgument(ValueError):
    pass


def add_experiment(sub) -> None:
    """The ``experiment`` command and its actions."""
    parser = sub.add_parser(
        "experiment",
        help="A/B experiments on a surface: start, list, show results, stop",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", required=True)
    start = actions.add_parser("start", help="start an experiment (one running per surface)")
    start.add_argument("name", help="its id: letters, digits, '.', '_', '-'")
    start.add_argument("--surface", required=True, choices=SURFACES)
    arms = start.add_mutually_exclusive_group(required=True)
    arms.add_argument(
        "--arm",
        action="append",
        metavar="SPEC",
        help="NAME:SHARE[:blend=W][:model_version=V][:random]; the first is the control",
    )
    arms.add_argument("--arms-file", type=Path, help="a JSON list of arms, as the API takes")
    start.add_argument("--notes", help="why it runs, shown with it")
    actions.add_parser("list", help="experiments, the running ones first")
    for action, text in (("show", "an experiment with each arm's results and verdicts"),
                         ("stop", "stop it: everyone is served as the control was")):  # fmt: skip
        actions.add_parser(action, help=text).add_argument("name")
    parser.set_defaults(run=cmd_experiment)


def parse_arm(spec: str) -> Arm:
    """``NAME:SHARE[:blend=W][:model_version=V][:random]`` as an Arm."""
    name, _, rest = spec.partition(":")
    share_text, *options = rest.split(":") if rest else [""]
    try:
        share = float(share_text)
    except ValueError:
        raise BadArgument(f"--arm {spec!r}: the share {share_text!r} is not a number") from None
    fields: dict = {}
    for option in options:
        key, has_value, value = option.partition("=")
        if key == "random" and not has_value:
            fields["random"] = True
        elif key in ("blend", "model_version") and has_value:
            fields[key] = _number(spec, key, value, float if key == "blend" else int)
        else:
            raise BadArgument(
                f"--arm {spec!r}: {option!r} is not blend=W, model_version=V or random"
            )
    return Arm(name, share, **fields)


def _number(spec: str, key: str, value: str, kind):
    try:
        return kind(value)
    except ValueError:
        raise BadArgument(f"--arm {spec!r}: {key} {value!r} is not a number") from None


def read_arms_file(path: Path) -> list[Arm]:
    try:
        arms = json.loads(path.read_text())
    except OSError as err:
        raise BadArgument(f"--arms-file {path}: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise BadArgument(f"--arms-file {path}: not JSON ({err})") from None
    known = {"name", "share", "model_version", "blend", "random"}
    if not isinstance(arms, list) or not all(
        isinstance(a, dict) and {"name", "share"} <= set(a) <= known for a in arms
    ):
        raise BadArgument(
            f"--arms-file {path}: must be a JSON list of objects with name and share, and"
            " any of model_version, blend, random"
        )
    return [Arm.from_dict(a) for a in arms]


def cmd_experiment(args) -> int:
    from recsys import db
    from recsys import experiment_store as store
    from recsys.audit import Actor

    by = Actor.cli()  # starts and stops are audited as the OS user
    try:
        arms = _arms(args) if args.action == "start" else None
        with db.connect(load_settings(), autocommit=True) as conn:
            if args.action == "start":
                experiment = store.start(
                    conn, args.name, args.surface, arms, by.name, args.notes, audit_as=by
                )
                print(f"experiment {experiment.name} running on {experiment.surface}:")
                _print_arms(experiment.arms)
            elif args.action == "list":
                _print_list(store.list_experiments(conn))
            elif args.action == "show":
                _print_results(store.results(conn, args.name))
            else:
                store.stop(conn, args.name, by.name, audit_as=by)
                print(f"experiment {args.name} stopped: everyone is served as the control was")
    except BadArgument as err:
        return _error(str(err), BAD_INPUT)
    except store.InvalidExperiment as err:
        return _error("; ".join(f"{_option(f)}: {r}" for f, r in err.problems), BAD_INPUT)
    except store.UnknownExperiment as err:
        return _error(f"NAME: {err}", BAD_INPUT)
    except store.ExperimentConflict as err:
        return _error(str(err), CONFLICT)
    return 0


def _arms(args) -> list[Arm]:
    return read_arms_file(args.arms_file) if args.arms_file else [parse_arm(s) for s in args.arm]


def _option(field: str) -> str:
    """A definition's field as the command line names it."""
    if field == "name":
        return "NAME"
    if field == "surface":
        return "--surface"
    if field.startswith("arms[") and "]" in field:
        index = int(field[5 : field.index("]")])
        return f"--arm {index + 1}{field[field.index(']') + 1 :].replace('.', ' ')}"
    return "--arm"


def _error(message: str, status: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return status


def describe(arm: Arm) -> str:
    if arm.random:
        return "random songs"
    parts = []
    if arm.model_version is not None:
        parts.append(f"model v{arm.model_version}")
    if arm.blend is not None:
        parts.append(f"blend {arm.blend:g}")
    return ", ".join(parts) or "as usual"


def _print_arms(arms) -> None:
    for i, arm in enumerate(arms):
        control = " (control)" if i == 0 else ""
        print(f"  {arm.name:24} {arm.share:6.3f}  {describe(arm)}{control}")


def _print_list(experiments) -> None:
    if not experiments:
        print("no experiments yet")
        return
    print(f"{'name':32} {'surface':8} {'status':8} {'started':16}  arms")
    for e in experiments:
        arms = ", ".join(f"{a.name} {a.share:g}" for a in e.arms)
        print(f"{e.name:32} {e.surface:8} {e.status:8} {e.started_at:%Y-%m-%d %H:%M}  {arms}")


def _rate(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def _print_results(found: dict) -> None:
    state = found["status"]
    if found["stopped_at"]:
        state += f" at {found['stopped_at'][:16]}"
    print(f"experiment {found['name']} on {found['surface']}, {state}"
          f" (started {found['started_at'][:16]} by {found['started_by']})")  # fmt: skip
    print(f"\n{'arm':24} {'share':>6} {'impressions':>11} {'playbacks':>9} {'play-through':>12}"
          f" {'skip rate':>9} {'play rate':>9}  serves")  # fmt: skip
    for arm in found["arms"]:
        t, r = arm["totals"], arm["rates"]
        print(f"{arm['name']:24} {arm['share']:6.3f} {t['impressions']:11d} {t['playbacks']:9d}"
              f" {_rate(r['play_through_rate']):>12} {_rate(r['skip_rate']):>9}"
              f" {_rate(r['play_rate']):>9}  {describe(Arm.from_dict(arm))}")  # fmt: skip
    confidence = f"{found['confidence']:.0%}"
    print(f"\nagainst the control ({confidence} interval of the difference):")
    for arm in found["arms"][1:]:
        for rate, lift in arm["lift"].items():
            if lift["difference"] is None:
                change = "no data yet"
            else:
                change = f"{lift['difference']:+.3f} [{lift['low']:+.3f}, {lift['high']:+.3f}]"
            print(f"  {arm['name']:24} {RATE_NAMES[rate]:13} {change:28} {lift['verdict']}")
