"""`make sim` / `brownie run scripts/simulate.py main SCENARIO`: the crash simulation; the code is perp_ops/simulate.py."""

from __future__ import annotations

from perp_ops import simulate
from perp_ops.entry import brownie_entry
from perp_ops.simulate import SimResult


def main(scenario: str = "crash") -> SimResult:
    return brownie_entry(simulate.main, scenario)
