"""`brownie run scripts/keeper_bench.py`: make bench: a liquidator pass and a quote in round trips and wall time;
the code is perp_ops/keeper_bench.py."""

from __future__ import annotations

from perp_ops import keeper_bench
from perp_ops.entry import brownie_entry


def main() -> None:
    return brownie_entry(keeper_bench.main)
