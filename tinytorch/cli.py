"""The `tinytorch` command.

tinytorch profile script.py [args...]     every op the script runs, by op type and module
tinytorch profile --lines script.py       ... and line by line (line_profiler)
"""

from __future__ import annotations

import argparse
import runpy
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tinytorch", description="tinytorch: lessons, milestones and tools")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("profile", help="profile a script: time, FLOPs and bytes of every op it runs")
    p.add_argument("script")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    p.add_argument("--by", choices=["op", "module"], default="op")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--lines", action="store_true", help="also time the ops' source lines (line_profiler)")
    args = parser.parse_args(argv)
    if args.command == "profile":
        return profile_script(args.script, args.args, args.by, args.top, args.lines)
    return 1


if __name__ == "__main__":
    sys.exit(main())
