"""`brownie run scripts/networks.py`: register the live networks with brownie; the code is perp_ops/networks.py."""

from __future__ import annotations

from perp_ops import networks
from perp_ops.entry import brownie_entry


def main() -> None:
    return brownie_entry(networks.main)
