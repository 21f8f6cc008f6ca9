"""`brownie run scripts/gas_report.py`: make gas: the gas benchmark; the code is perp_ops/gas_report.py."""

from __future__ import annotations

from perp_ops import gas_report
from perp_ops.entry import brownie_entry


def main() -> None:
    return brownie_entry(gas_report.main)
