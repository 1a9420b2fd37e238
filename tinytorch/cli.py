"""The `tinytorch` command: the course (lessons, checks, milestones) and tools.

tinytorch lessons                         the 20 lessons and your status in each
tinytorch lesson N                        write lesson N's notebook into your workspace and open Jupyter
tinytorch check N                         run lesson N's checks against your notebook
tinytorch release [DIR]                   instructor mode: every lesson as an NBGrader assignment
tinytorch milestone [NAME] [args...]      run a milestone of examples/, recorded for the inspector
tinytorch doctor                          is this machine ready? what to install if not
tinytorch profile script.py [args...]     every op the script runs, by op type and module
tinytorch profile --lines script.py       ... and line by line (line_profiler)
"""

from __future__ import annotations

import argparse
import runpy
import shutil
import subprocess
import sys
from pathlib import Path


def profile_script(script: str, args: list[str], by: str = "op", top: int = 25, lines: bool = False) -> int:
    """Run a script under the profiler (and optionally line_profiler) and print the tables."""
    from .function import OPS
    from .perf import Profile

    path = Path(script)
    if not path.is_file():
        print(f"tinytorch profile: no script at {path}", file=sys.stderr)
        return 2
    sys.argv = [str(path), *args]
    sys.path.insert(0, str(path.resolve().parent))
    lp = None
    if lines:
        from line_profiler import LineProfiler

        lp = LineProfiler()
        for cls in OPS.values():
            for name in ("forward", "backward"):
                if name in vars(cls):
                    lp.add_function(getattr(cls, name))
        lp.enable_by_count()
    prof = Profile()
    try:
        with prof:
            runpy.run_path(str(path), run_name="__main__")
    except SystemExit as e:  # a script that calls sys.exit still gets its profile
        if e.code not in (None, 0):
            print(f"(the script exited with {e.code})", file=sys.stderr)
    finally:
        if lp is not None:
            lp.disable_by_count()
    print(f"\n=== tinytorch profile of {path} (by {by}) ===")
    print(prof.text(by=by, top=top))
    if lp is not None:
        print("\n=== slowest lines of the ops ===")
        stats = lp.get_stats()
        rows = sorted(
            ((t * stats.unit, f, ln, fn, hits) for (f, _, fn), lines_ in stats.timings.items() for ln, hits, t in lines_),
            reverse=True,
        )
        import linecache

        for seconds, f, ln, fn, hits in rows[:top]:
            print(f"{1e3 * seconds:10.2f} ms {hits:8d} hits  {fn:24s} {Path(f).name}:{ln}  {linecache.getline(f, ln).strip()}")
    return 0


# ---------------------------------------------------------------------- the course


def _err(message: str) -> int:
    print(f"tinytorch: {message}", file=sys.stderr)
    return 2


def cmd_lessons(workspace: str | None) -> int:
    from .lessons import lessons, modules_root
    from .lessons.workspace import Workspace

    ws = Workspace(workspace)
    root = modules_root()
    print(f"tinytorch lessons  (sources: {root or 'not found'}; workspace: {ws.path})")
    for lesson in lessons(root):
        state, detail = ws.status(lesson)
        print(f"  {lesson.number:02d}  {lesson.name:<13} {state:<18} {detail}".rstrip())
    if root is None:
        print(
            "The lessons' sources (modules/) were not found: install from a checkout (pip install -e .) or set TINYTORCH_MODULES."
        )
    return 0


def _jupyter() -> list[str] | None:
    """The command that opens a notebook: JupyterLab, else the classic Notebook, else None."""
    here = Path(sys.executable).parent  # a virtual environment's bin/, even when it is not activated
    for name in ("jupyter-lab", "jupyter-notebook"):
        found = shutil.which(name) or shutil.which(name, path=str(here))
        if found:
            return [found]
    return None


def cmd_lesson(key: str, workspace: str | None, open_: bool) -> int:
    from .lessons import LessonError, get
    from .lessons.workspace import Workspace

    try:
        lesson = get(key)
    except LessonError as e:
        return _err(str(e))
    path, written = Workspace(workspace).start(lesson)
    if written:
        print(f"lesson {lesson.number:02d} ({lesson.title}): wrote {path}")
    else:
        print(f"lesson {lesson.number:02d}: {path} already exists; keeping your edits (delete it to start over)")
    print(f"When your Build cells pass their checks: tinytorch check {lesson.number}")
    jupyter = _jupyter() if open_ else None
    if jupyter is None:
        if open_:
            print(f"Jupyter is not installed (pip install jupyterlab); open {path} in any notebook editor.")
        return 0
    print(f"opening it with {Path(jupyter[0]).name} (Ctrl+C stops it)", flush=True)
    try:
        return subprocess.call([*jupyter, str(path)])
    except KeyboardInterrupt:
        return 0


def _print_result(r) -> None:
    print(f"  {'PASS' if r.passed else 'FAIL'}  {r.name}")
    if r.passed:
        return
    for line in r.error.splitlines() or ["(no message)"]:
        print(f"          {line}")
    if r.where:
        print(f"          at {r.where}")
    if r.output.strip():
        print("          it printed: " + r.output.strip().replace("\n", "\n          "))


def cmd_check(key: str, workspace: str | None, notebook: str | None) -> int:
    from .lessons import LessonError, get
    from .lessons.harness import run_checks
    from .lessons.notebook import FormatError
    from .lessons.workspace import Workspace

    try:
        lesson = get(key)
    except LessonError as e:
        return _err(str(e))
    ws = Workspace(workspace)
    path = Path(notebook) if notebook else ws.notebook(lesson)
    if not path.exists():
        return _err(f"{path} does not exist: start the lesson with `tinytorch lesson {lesson.number}`")
    print(f"lesson {lesson.number:02d} {lesson.name}: checking {path}")
    try:
        report = run_checks(lesson, path)
    except FormatError as e:
        return _err(str(e))
    for e in report.cell_errors:
        print(f"  cell {e.cell} ({e.first_line!r}) raised {e.error}")
    if report.cell_errors:
        print("  (the checks that need what those cells define fail below)")
    results, passed = report.results, report.passed
    for r in results:
        _print_result(r)
    if notebook is None:
        ws.record(lesson, passed, len(results))
    if passed == len(results):
        print(f"all {len(results)} checks pass: lesson {lesson.number:02d} is done. Next: tinytorch lessons")
        return 0
    print(
        f"{passed} of {len(results)} checks pass. Fix the first failure, run its cell, then `tinytorch check {lesson.number}` again."
    )
    return 1


def cmd_release(out: str) -> int:
    from .lessons import lessons
    from .lessons.release import release

    ready = [lesson for lesson in lessons() if lesson.available]
    if not ready:
        return _err("no lesson is available (modules/ not found); run from a checkout of the repository")
    for path in release(ready, out):
        print(f"wrote {path}")
    print(f"{len(ready)} lessons released into {out}: source/ for `nbgrader generate_assignment`, release/ for students")
    return 0


def cmd_milestone(name: str | None, args: list[str], logdir: str, record: bool) -> int:
    from .lessons import milestones as ms

    found = ms.milestones()
    script = ms.find(name) if name else None
    if script is None:
        if name:
            print(f"tinytorch: no milestone {name!r}", file=sys.stderr)
        if not found:
            return _err("examples/ not found: run from a checkout of the repository, or set TINYTORCH_EXAMPLES")
        print("milestones (tinytorch milestone NAME [script options]; NAME is a file name, with or without its year):")
        for path, doc in found:
            print(f"  {path.stem:<24} {doc}")
        return 0 if name is None else 2
    if not record:
        note = "not recorded (--no-record)"
    elif ms.self_recording(script):
        note = "the script records itself"
    else:
        note = f"recording into {logdir}/ (loss, time and gradient statistics every step; step 1 traced)"
    print(f"milestone {script.stem}: {' '.join(['python', str(script), *args])}\n  {note}", flush=True)
    code, run_dir = ms.run(script, args, logdir, record)
    if run_dir is not None:
        steps = ms.steps_recorded(run_dir)
        print(f"recorded {steps} optimizer steps in {run_dir}" if steps else f"{run_dir}: the script took no optimizer steps")
        print(f"see it: tinytorch-inspector {logdir}")
    elif record:
        print(f"see it: tinytorch-inspector {_own_logdir(args)}")
    return code


def _own_logdir(args: list[str]) -> str:
    """Where a self-recording script writes: its --logdir, the folder of its --run, else runs."""
    for flag in ("--logdir", "--run"):
        if flag in args[:-1]:
            value = args[args.index(flag) + 1]
            return value if flag == "--logdir" else str(Path(value).parent)
    return "runs"


def cmd_doctor() -> int:
    from .lessons.doctor import REQUIRED, diagnose

    findings = diagnose()
    width = max(len(f.name) for f in findings)
    for f in findings:
        mark = "ok  " if f.ok else ("FAIL" if f.level == REQUIRED else "--  ")
        print(f"  {mark} {f.name:<{width}}  {f.detail}")
        if not f.ok and f.fix:
            print(f"       {'':<{width}}  fix: {f.fix}")
    failed = [f.name for f in findings if not f.ok and f.level == REQUIRED]
    print("ready." if not failed else f"not ready: {', '.join(failed)} (see the fixes above)")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tinytorch", description="tinytorch: lessons, milestones and tools")
    sub = parser.add_subparsers(dest="command", required=True)
    ws_help = "the learner's workspace folder (default: ./tinytorch-workspace)"
    p = sub.add_parser("lessons", help="the 20 lessons and your status in each")
    p.add_argument("--workspace", default=None, help=ws_help)
    p = sub.add_parser("lesson", help="write lesson N's notebook into your workspace (never overwriting it) and open Jupyter")
    p.add_argument("n", help="lesson number or name (5, 05, autograd)")
    p.add_argument("--workspace", default=None, help=ws_help)
    p.add_argument("--no-open", dest="open", action="store_false", help="do not start Jupyter")
    p = sub.add_parser("check", help="run lesson N's checks against your notebook")
    p.add_argument("n", help="lesson number or name")
    p.add_argument("--workspace", default=None, help=ws_help)
    p.add_argument("--notebook", default=None, help="check this notebook (.ipynb or lesson.py) instead of the workspace's")
    p = sub.add_parser("release", help="instructor mode: every lesson as an NBGrader assignment (source/ and release/)")
    p.add_argument("dir", nargs="?", default="tinytorch-release")
    p = sub.add_parser("milestone", help="run a milestone of examples/ (the list without NAME), recorded for the inspector")
    p.add_argument("name", nargs="?")
    p.add_argument("--logdir", default="runs", help="where the run goes (default: runs)")
    p.add_argument("--no-record", dest="record", action="store_false", help="run without recording")
    p.epilog = "Other options go to the script; after -- everything does (tinytorch milestone xor -- --epochs 100)."
    sub.add_parser("doctor", help="check this machine: Python, NumPy, Graphviz, the inspector, datasets, Jupyter")
    p = sub.add_parser("profile", help="profile a script: time, FLOPs and bytes of every op it runs")
    p.add_argument("script")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    p.add_argument("--by", choices=["op", "module"], default="op")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--lines", action="store_true", help="also time the ops' source lines (line_profiler)")
    argv = sys.argv[1:] if argv is None else list(argv)
    script_args: list[str] = []
    if argv[:1] == ["milestone"] and "--" in argv:  # everything after -- belongs to the milestone's script
        script_args = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command != "milestone":
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "lessons":
        return cmd_lessons(args.workspace)
    if args.command == "lesson":
        return cmd_lesson(args.n, args.workspace, args.open)
    if args.command == "check":
        return cmd_check(args.n, args.workspace, args.notebook)
    if args.command == "release":
        return cmd_release(args.dir)
    if args.command == "milestone":
        return cmd_milestone(args.name, [*unknown, *script_args], args.logdir, args.record)
    if args.command == "doctor":
        return cmd_doctor()
    if args.command == "profile":
        return profile_script(args.script, args.args, args.by, args.top, args.lines)
    return 1


if __name__ == "__main__":
    sys.exit(main())
