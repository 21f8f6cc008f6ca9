"""`make dashboard`: the dashboard on a local chain with demo markets and keepers; the code is perp_ops/dev_dashboard.py."""

from __future__ import annotations

from perp_ops import dev_dashboard
from perp_ops.entry import brownie_entry


def main() -> None:
    return brownie_entry(dev_dashboard.main)
