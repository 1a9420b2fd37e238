"""tinytorch-inspector: the local web app that shows what a tinytorch run did.

tinytorch-inspector [LOGDIR] [--demo]        from a shell
inspector.launch("runs")                     from a script or notebook (returns the address)
"""

from __future__ import annotations

import threading
from typing import Any

_servers: dict[int, Any] = {}


def launch(logdir: str = "runs", host: str = "127.0.0.1", port: int = 8050, display: bool = True) -> str:
    """Serve the inspector for logdir in a background thread; in Jupyter also show it inline."""
    import logging

    from werkzeug.serving import make_server

    from .app import create_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request (every refresh) in the notebook

    if port in _servers:  # relaunching on a port replaces the old server
        _servers.pop(port).shutdown()
    app = create_app(logdir)
    server = make_server(host, port, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True, name=f"inspector:{port}").start()
    _servers[port] = server
    url = f"http://{host}:{server.port}/"
    if display:
        try:
            from IPython import get_ipython
            from IPython.display import IFrame
            from IPython.display import display as show

            if get_ipython() is not None:
                show(IFrame(url, width="100%", height=800))
        except ImportError:
            pass
    return url


def stop(port: int = 8050) -> None:
    """Stop a server started by launch()."""
    server = _servers.pop(port, None)
    if server is not None:
        server.shutdown()
