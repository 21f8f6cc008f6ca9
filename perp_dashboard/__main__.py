"""`python -m perp_dashboard`: serve the dashboard for a chain and its deployment."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from perp_dashboard.server import serve


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="perp dashboard", description=__doc__)
    p.add_argument("--rpc", default=os.environ.get("RPC_URL", "http://127.0.0.1:8545"), help="JSON-RPC URL (default $RPC_URL or %(default)s)")
    p.add_argument("--deployment", type=Path, default=None, help="deployment file (default deployments/<chainId>.json)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8670)
    p.add_argument("--dev-wallet", action="store_true", help="offer anvil's unlocked accounts as a wallet (refused on any other node)")
    args = p.parse_args(argv)
    serve(args.rpc, args.host, args.port, args.deployment, args.dev_wallet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
