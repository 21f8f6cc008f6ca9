"""Test helpers: custom-error matching, units."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from brownie.exceptions import VirtualMachineError

WAD = 10**18
BUY, SELL = 0, 1
ADD_TO_AMM, REMOVE_FROM_AMM = 0, 1
SPOT, TWAP, ORACLE = 0, 1, 2


def wad(x: float | str) -> int:
    """Human number (int, float or decimal string) → wad, exactly for ints and decimal strings."""
    if isinstance(x, int):
        return x * WAD
    from decimal import Decimal

    return int(Decimal(str(x)) * WAD)


@contextmanager
def reverts_with(name: str, *args: object) -> Iterator[None]:
    """Expect a revert with custom error `name` (brownie renders it as "Name: arg1, arg2")."""
    try:
        yield
    except VirtualMachineError as exc:
        message = exc.revert_msg or ""
        got_name, _, got_args = message.partition(":")
        assert got_name == name, f"expected {name}, got {message!r}"
        if args:
            expected = ", ".join(str(a) for a in args)
            assert got_args.strip() == expected, f"expected {name}: {expected}, got {message!r}"
    else:
        raise AssertionError(f"expected a revert with {name}")
