"""The ``grader`` command line. Exit status: 0 all graded, 1 something could not be graded, 2 usage/spec error."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Sequence

import grader
from grader.errors import GraderError, UsageError
from grader.results import SubmissionResult
from grader.sandbox import CHOICES
from grader.spec import LoadedSpec, load_spec

EXIT_OK, EXIT_UNGRADED = 0, 1  # usage and spec errors exit 2 through GraderError.exit_code


def assignments_dir() -> Path:
    """``$DLGRADER_ASSIGNMENTS``, else ``./assignments``, else the one beside the grader package."""
    if os.environ.get("DLGRADER_ASSIGNMENTS"):
        return Path(os.environ["DLGRADER_ASSIGNMENTS"])
    local = Path.cwd() / "assignments"
    return local if local.is_dir() else Path(grader.__file__).resolve().parent.parent / "assignments"


def load_assignment(assignment_id: str) -> LoadedSpec:
    folder = assignments_dir()
    path = folder / assignment_id / "spec.yaml"
    if not path.is_file():
        known = sorted(p.parent.name for p in folder.glob("*/spec.yaml"))
        raise UsageError(f"no assignment {assignment_id!r} in {folder} (known: {', '.join(known) or 'none'})")
    return load_spec(path)


def _progress(total: int, quiet: bool):  # noqa: ANN202 - a small closure
    done = {"n": 0}
    start = time.monotonic()

    def report(result: SubmissionResult) -> None:
        done["n"] += 1
        if quiet:
            return
        counts = ", ".join(f"{n} {s}" for s, n in sorted(result.check_counts().items()))
        print(f"[{done['n']}/{total}] {result.student}: {result.score:g}/{result.max_score:g} ({counts}) "
              f"{time.monotonic() - start:.0f}s elapsed", file=sys.stderr, flush=True)

    return report


def _grade(paths: list[Path], assignment: str, profile: str, out: Path, as_json: bool, jobs: int,
           device: str | None, sandbox: str, single: bool, data_root: Path | None) -> int:
    from grader.pipeline import Batch, submission_dir
    from grader.report import terminal_summary, write_index
    from grader.submissions import as_submission, discover

    loaded = load_assignment(assignment)
    if single:
        one = as_submission(paths[0])
        if one is None:
            raise UsageError(f"{paths[0]}: not a submission (expected a .ipynb, a .py, or a folder holding one)")
        submissions = [one]
    else:
        submissions = discover(paths)
    if not submissions:
        raise UsageError(f"no submissions (.ipynb, .py, or folders holding one) found in: {', '.join(map(str, paths))}")
    log = (lambda msg: None) if as_json else (lambda msg: print(msg, file=sys.stderr, flush=True))
    if loaded.spec.datasets:
        log(f"Data: decoding {', '.join(sorted({d.source for d in loaded.spec.datasets.values()}))} once for the batch...")
    with Batch(loaded, profile, device=device, sandbox_name=sandbox, workers=jobs, data_root=data_root) as batch:
        log(f"{loaded.spec.title} ({loaded.spec.id}), profile '{profile}', device {batch.plan.device}: "
            f"{len(submissions)} submission(s), {len(batch.plan.checks)} checks")
        log("Reference: preparing observations (cached after the first run)...")
        reference = batch.calibrate()
        log(f"Reference: {'from cache' if reference.cached else 'computed'} ({reference.fingerprint[:12]})")
        results = batch.grade(submissions, out, on_done=_progress(len(submissions), as_json))
    folder = out / loaded.spec.id / profile
    index = write_index(results, folder)
    if as_json:
        docs = [json.loads(r.model_dump_json()) for r in results]
        print(json.dumps(docs[0] if single else docs, indent=2))
    else:
        print(terminal_summary(results))
        target = submission_dir(out, results[0]) / "report.html" if single else index
        print(f"Report: {target}")
    return EXIT_UNGRADED if any(r.status == "ungraded" for r in results) else EXIT_OK


def _calibrate(assignment: str, profile: str, device: str | None, sandbox: str, as_json: bool,
               data_root: Path | None, seeds: list[int] | None = None, record: Path | None = None) -> int:
    import dataclasses

    from grader.calibration import summarize_seeds
    from grader.pipeline import Batch

    loaded = load_assignment(assignment)
    runs = {}
    with Batch(loaded, profile, device=device, sandbox_name=sandbox, data_root=data_root) as batch:
        base = batch.plan
        for seed in seeds if seeds is not None else [base.seed]:
            batch.plan = dataclasses.replace(base, seed=seed)
            runs[seed] = batch.calibrate(force=True)
            if seeds is not None and not as_json:
                print(f"seed {seed}: the reference passes all its checks ({runs[seed].duration_s:.0f} s)", file=sys.stderr)
    reference = runs[next(iter(runs))]
    summary = {"assignment": loaded.spec.id, "profile": profile, "cache": str(reference.path),
               **reference.summary(), "figures": reference.figures}
    if seeds is not None:
        summary = {"assignment": loaded.spec.id, "profile": profile, "device": base.device, **summarize_seeds(runs)}
    if record is not None:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
    elif seeds is not None:
        for check_id, figures in summary["figures"].items():
            for name, entry in figures.items():
                print(f"  {check_id:<28} {name:<20} mean {entry['mean']:.5g}  std {entry['std']:.3g}  "
                      f"range [{entry['min']:.5g}, {entry['max']:.5g}]")
        print(f"Reference for {loaded.spec.id} ({profile}) passes all its checks under seeds "
              f"{', '.join(map(str, runs))}" + (f"; figures written to {record}" if record else ""))
    else:
        print(f"Reference for {loaded.spec.id} ({profile}) passes all its checks; cached at {reference.path}")
    return EXIT_OK


def _data(action: str, names: list[str], data_root: Path | None, as_json: bool) -> int:
    from grader import data
    from grader.data.download import fetch
    from grader.data.sources import decode

    root = data.resolve_root(data_root)
    unknown = [n for n in names if n not in data.SOURCES]
    if unknown:
        raise UsageError(f"unknown dataset(s) {', '.join(unknown)} (known: {', '.join(data.SOURCES)})")
    reports = []
    for name in names or list(data.SOURCES):
        decoded, fetched = fetch(name, root) if action == "prepare" else (decode(name, root), False)
        reports.append({"dataset": name, "root": str(root), "fetched": fetched, "canonical": decoded.canonical,
                        "content_fingerprint": decoded.content_fingerprint, "train": len(decoded.train_y),
                        "test": len(decoded.test_y), "image_shape": list(decoded.train_x.shape[1:])})
        if not as_json:
            copy = "original release" if decoded.canonical else "NOT the canonical release (a locally prepared copy)"
            print(f"{name:<14} {len(decoded.train_y):>6} train {len(decoded.test_y):>6} test  "
                  f"{'downloaded' if fetched else 'present'} · {copy} · content {decoded.content_fingerprint[:16]}")
    if as_json:
        print(json.dumps(reports, indent=2))
    else:
        print(f"data root: {root}")
    return EXIT_OK


def _list() -> int:
    folder = assignments_dir()
    for path in sorted(folder.glob("*/spec.yaml")):
        try:
            spec = load_spec(path).spec
            print(f"{spec.id:<20} {spec.title}  ({len(spec.checks)} checks)")
        except GraderError as exc:
            print(f"{path.parent.name:<20} INVALID SPEC: {exc}")
    return EXIT_OK


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment nor in the password database
        return ""


def _manual(args: argparse.Namespace) -> int:
    """``grader manual set`` / ``list``: TA grades of written answers (grader/manual.py)."""
    from grader import manual
    from grader.report import format_points

    if args.manual_command == "set":
        who = args.grader if args.grader is not None else _user()
        result = manual.set_grade(args.results_dir, args.assignment, args.profile, args.student, args.check_id,
                                  args.points, comment=args.comment, grader=who)
        check = next(c for c in result.checks if c.id == args.check_id)
        stale = " (stale: the answer changed after grading)" if check.details.get("manual", {}).get("stale") else ""
        print(f"{result.student} {check.id}: {format_points(check.points)} / {format_points(check.max_points)}{stale}; "
              f"total {format_points(result.score)} / {format_points(result.max_score)}")
        return EXIT_OK
    items = [i for i in manual.list_items(args.results_dir, args.assignment, args.profile) if i.pending or not args.pending]
    if args.json:
        print(json.dumps([dataclasses.asdict(i) for i in items], indent=2))
        return EXIT_OK
    if not items:
        print("No manual items" + (" pending." if args.pending else "."))
        return EXIT_OK
    width, check_width = max(7, *(len(i.student) for i in items)), max(5, *(len(i.check) for i in items))
    print(f"{'student':<{width}}  {'check':<{check_width}}  {'points':>10}  {'answer':>12}")
    for i in items:
        points = ("pending" if i.pending else i.status if i.points is None
                  else f"{format_points(i.points)}/{format_points(i.max_points)}")
        answer = f"{i.answer_chars} chars" if i.answer_chars else "no answer"
        print(f"{i.student:<{width}}  {i.check:<{check_width}}  {points:>10}  {answer:>12}" + ("  stale" if i.stale else ""))
    return EXIT_OK


def _validate(path: Path) -> int:
    spec = load_spec(path).spec
    print(f"{path}: valid ({spec.id}: {len(spec.checks)} checks, {sum(c.points for c in spec.checks):g} points)")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description=__doc__)
    parser.add_argument("--version", action="version", version=f"dl-grader {grader.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details (and tracebacks) on stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    def run_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--assignment", required=True, help="assignment id, e.g. conv1x1 (see `grader list`)")
        p.add_argument("--out", type=Path, default=Path("reports"), help="where reports go (default: reports/)")
        p.add_argument("--json", action="store_true", help="print the results document(s) on stdout, nothing else")
        p.add_argument("--device", choices=["cpu", "cuda"], help="override the profile's device")
        p.add_argument("--sandbox", default="auto", choices=CHOICES,
                       help="sandbox backend: bwrap, process (weaker), or auto (bwrap where it works; default)")
        data_root_option(p)

    def data_root_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-root", type=Path, help="where the datasets are (default: $DLGRADER_DATA, "
                       "else ~/.cache/dl-grader/datasets)")

    grade = sub.add_parser("grade", help="grade submission files and/or folders of submissions")
    grade.add_argument("submissions", nargs="+", type=Path)
    run_options(grade)
    grade.add_argument("--profile", choices=["grade", "check"], default="grade")
    grade.add_argument("--jobs", type=int, default=1, help="submissions run at once; cores are split between them")

    check = sub.add_parser("check", help="self-check one submission (profile 'check': public checks, CPU)")
    check.add_argument("file", type=Path)
    run_options(check)

    calibrate = sub.add_parser("calibrate", help="run the reference solution and cache its observations")
    calibrate.add_argument("--assignment", required=True)
    calibrate.add_argument("--profile", choices=["grade", "check"], default="grade")
    calibrate.add_argument("--device", choices=["cpu", "cuda"])
    calibrate.add_argument("--sandbox", default="auto", choices=CHOICES)
    calibrate.add_argument("--json", action="store_true")
    calibrate.add_argument("--seeds", type=int, nargs="+", help="run the reference under each of these seeds and "
                           "report the mean and spread of its figures")
    calibrate.add_argument("--record", type=Path, help="write the figures (with their fingerprints) to this JSON file")
    data_root_option(calibrate)

    data_cmd = sub.add_parser("data", help="datasets: download (prepare) or verify (info) under the data root")
    data_cmd.add_argument("action", choices=["prepare", "info"])
    data_cmd.add_argument("datasets", nargs="*", help="mnist, fashion_mnist, cifar10 (default: all)")
    data_root_option(data_cmd)
    data_cmd.add_argument("--json", action="store_true")

    manual_cmd = sub.add_parser("manual", help="TA grades of written answers (checks of kind 'manual')",
                                description="Grade the items a TA grades by hand. Grades are stored in "
                                "<RESULTS_DIR>/<assignment>/<profile>/<student>/manual.json and survive re-grading.")
    manual_sub = manual_cmd.add_subparsers(dest="manual_command", required=True)
    manual_set = manual_sub.add_parser("set", help="set (or change) a student's points for a manual item; the "
                                       "result, report and batch summary are updated")
    manual_set.add_argument("results_dir", type=Path, metavar="RESULTS_DIR", help="the folder graded into (--out)")
    manual_set.add_argument("assignment", metavar="ASSIGNMENT")
    manual_set.add_argument("student", metavar="STUDENT")
    manual_set.add_argument("check_id", metavar="CHECK_ID")
    manual_set.add_argument("points", type=float, metavar="POINTS", help="between 0 and the check's points")
    manual_set.add_argument("--comment", default="", help="shown to the student with the points")
    manual_set.add_argument("--grader", help="who graded (default: $USER)")
    manual_list = manual_sub.add_parser("list", help="list the manual items of a batch: points, or pending")
    manual_list.add_argument("results_dir", type=Path, metavar="RESULTS_DIR", help="the folder graded into (--out)")
    manual_list.add_argument("assignment", metavar="ASSIGNMENT")
    manual_list.add_argument("--pending", action="store_true", help="only the items awaiting a grade")
    manual_list.add_argument("--json", action="store_true", help="print the rows as JSON")
    for p in (manual_set, manual_list):
        p.add_argument("--profile", choices=["grade", "check"], default="grade", help="default: grade")

    sub.add_parser("list", help="list the assignments")
    validate = sub.add_parser("validate-spec", help="validate an assignment's spec.yaml")
    validate.add_argument("path", type=Path)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "grade":
            if args.jobs < 1:
                raise UsageError("--jobs must be at least 1")
            return _grade(args.submissions, args.assignment, args.profile, args.out, args.json, args.jobs,
                          args.device, args.sandbox, single=False, data_root=args.data_root)
        if args.command == "check":
            return _grade([args.file], args.assignment, "check", args.out, args.json, 1, args.device, args.sandbox,
                          single=True, data_root=args.data_root)
        if args.command == "calibrate":
            return _calibrate(args.assignment, args.profile, args.device, args.sandbox, args.json, args.data_root,
                              args.seeds, args.record)
        if args.command == "data":
            return _data(args.action, args.datasets, args.data_root, args.json)
        if args.command == "list":
            return _list()
        if args.command == "manual":
            return _manual(args)
        return _validate(args.path)
    except GraderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted; results written so far are kept", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - never a bare traceback; --verbose shows it
        if args.verbose:
            traceback.print_exc()
        print(f"internal error: {type(exc).__name__}: {exc} (re-run with --verbose for the traceback, "
              "and please report it)", file=sys.stderr)
        return EXIT_UNGRADED
