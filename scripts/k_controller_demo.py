"""`brownie run scripts/k_controller_demo.py`: make k-demo: fixed k against the liquidity controller; the code is perp_ops/k_controller_demo.py."""

from __future__ import annotations

from perp_ops import k_controller_demo
from perp_ops.entry import brownie_entry


def main() -> None:
    return brownie_entry(k_controller_demo.main)
