"""Run the dashboard: in the foreground (`serve`) or in a background thread (`BackgroundServer`, for tests and demos)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import uvicorn

from perp_dashboard.app import create_app


def _config(rpc_url: str, host: str, port: int, deployment: Path | None, dev_wallet: bool) -> uvicorn.Config:
    app = create_app(rpc_url, deployment, dev_wallet)
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)


def serve(rpc_url: str, host: str = "127.0.0.1", port: int = 8670, deployment: Path | None = None, dev_wallet: bool = False) -> None:
    """Serve until Ctrl-C."""
    print(f"dashboard: http://{host}:{port}/  (chain {rpc_url}{', development wallet on' if dev_wallet else ''})", flush=True)
    uvicorn.Server(_config(rpc_url, host, port, deployment, dev_wallet)).run()


class BackgroundServer:
    """The dashboard in a daemon thread: `with BackgroundServer(...) as url:`."""

    def __init__(self, rpc_url: str, port: int, deployment: Path | None = None, dev_wallet: bool = False, host: str = "127.0.0.1"):
        self.server = uvicorn.Server(_config(rpc_url, host, port, deployment, dev_wallet))
        self.url = f"http://{host}:{port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard did not start on {self.url}")
            time.sleep(0.05)
        return self.url

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
