"""`brownie run scripts/alice_bob.py`: make demo: the Alice/Bob story; the code is perp_ops/alice_bob.py."""

from __future__ import annotations

from perp_ops import alice_bob
from perp_ops.entry import brownie_entry


def main() -> bool:
    return brownie_entry(alice_bob.main)
