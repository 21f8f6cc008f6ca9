"""Trading and operations dashboard: a Starlette server over perp_client and a page bundled from npm packages.

    python -m perp_dashboard --rpc http://127.0.0.1:8545 [--port 8670] [--dev-wallet]

See docs/dashboard.md.
"""

from perp_dashboard.app import create_app
from perp_dashboard.server import BackgroundServer, serve

__all__ = ["BackgroundServer", "create_app", "serve"]
