"""tinytorch-inspector [LOGDIR] [--host 127.0.0.1] [--port 8050] [--demo]"""

from __future__ import annotations

import argparse
import atexit
import ipaddress
import logging
import sys
import tempfile
from pathlib import Path


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="tinytorch-inspector",
        description="See what a tinytorch training does: its graph, gradients, memory and attention, live.",
    )
    p.add_argument(
        "logdir", nargs="?", default=None, help="directory of runs to show (default: runs, or a fresh one with --demo)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8050)
    p.add_argument("--demo", action="store_true", help="train the demo runs in the background (no download) and show them live")
    args = p.parse_args(argv)

    logdir = Path(args.logdir) if args.logdir else Path(tempfile.mkdtemp(prefix="tinytorch-demo-")) if args.demo else Path("runs")
    if not _loopback(args.host):
        print(
            f"WARNING: serving on {args.host}:{args.port}. Anyone who can reach this port can read the runs in {logdir}.",
            file=sys.stderr,
        )
    if args.demo:
        from .demo import start

        logdir.mkdir(parents=True, exist_ok=True)
        procs = start(logdir)
        atexit.register(lambda: [proc.terminate() for proc in procs if proc.poll() is None])
        print(f"demo: training {len(procs)} runs in the background into {logdir}")
    elif not logdir.is_dir():
        print(f"note: {logdir} does not exist yet; runs written there will appear without a restart")

    from .app import create_app

    app = create_app(str(logdir))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    print(f"tinytorch inspector: http://{args.host}:{args.port}/  (Ctrl+C stops it)", flush=True)
    app.run(host=args.host, port=args.port, debug=False)


if __name__ == "__main__":
    main()
