"""The chain side of the property tests: transactions at a timestamp the test chooses, their revert names, and
one read of every number the model is compared with.

Every transaction is sent with a fixed gas limit (no estimate), so a reverting one is mined too, in its own
block, at the timestamp set with `evm_setNextBlockTimestamp`: the model then runs each operation at exactly the
chain's block time and number. `send_block` mines several transactions into one block, in order (automine off,
one `evm_mine`: tests/security/blocks.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from brownie import web3
from brownie.exceptions import VirtualMachineError

from tests.security.blocks import call, send_in_one_block

GAS_LIMIT = 6_000_000
BLOCK_GAS_LIMIT = 3_000_000  # per transaction of a shared block (anvil's block holds 12M gas)

# model error name -> the contracts' custom error name, where they differ
ERROR_ALIASES = {"OpenNotionalNotPositive": "InvalidOpenNotional"}


@dataclass
class Sent:
    """The outcome of one transaction: its receipt (None when it reverted) and the revert's error name."""

    receipt: Any = None
    error: str | None = None
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def error_name(message: str | None) -> str:
    """'BadDebt: 12' -> 'BadDebt' (brownie renders a custom error as 'Name: arg, arg')."""
    return (message or "").partition(":")[0].strip()


def send(fn: Callable[..., Any], args: tuple[Any, ...], sender: Any, timestamp: int) -> Sent:
    """Mine `fn(*args)` from `sender` in a block of its own at `timestamp`."""
    web3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
    try:
        tx = fn(*args, {"from": sender, "gas_limit": GAS_LIMIT, "allow_revert": True})
    except VirtualMachineError as exc:
        return Sent(error=error_name(exc.revert_msg) or str(exc))
    assert tx.timestamp == timestamp, f"mined at {tx.timestamp}, expected {timestamp}"
    events: dict[str, list[dict[str, Any]]] = {}
    for event in tx.events:
        events.setdefault(event.name, []).append(dict(event))
    return Sent(receipt=tx, events=events)


def send_block(calls: list[tuple[Callable[..., Any], tuple[Any, ...], Any]], timestamp: int) -> list[Sent]:
    """Mine every `(fn, args, sender)` into one block at `timestamp`, in this order."""
    web3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
    receipts = send_in_one_block([call(fn, *args, sender=sender) for fn, args, sender in calls], BLOCK_GAS_LIMIT)
    sent = []
    for tx in receipts:
        assert tx.timestamp == timestamp, f"mined at {tx.timestamp}, expected {timestamp}"
        if tx.status != 1:
            sent.append(Sent(error=error_name(tx.revert_msg) or "reverted"))
            continue
        events: dict[str, list[dict[str, Any]]] = {}
        for event in tx.events:
            events.setdefault(event.name, []).append(dict(event))
        sent.append(Sent(receipt=tx, events=events))
    return sent


@dataclass
class MarketState:
    reserves: tuple[int, int]
    total_position_size: int
    base_asset_delta: int
    collateral: int
    cumulative_premium_fraction: int  # the longs'
    cumulative_premium_fractions: tuple[int, int]  # (longs', shorts'): they differ after a funding shortfall
    side_sizes: tuple[int, int]  # (Σ long sizes, Σ |short sizes|) as the ClearingHouse keeps them
    next_funding_time: int
    positions: dict[str, tuple[int, int, int, int]]  # trader name -> (size, margin, openNotional, lastCpf)


@dataclass
class ChainState:
    vault_tokens: int  # the Vault's token balance, token units
    fund_tokens: int  # tokens held by the InsuranceFund contract itself (its money is a vault account)
    fund_balance: int  # InsuranceFund.fundBalance(), wad
    vault_wad: dict[str, int]  # free vault balance (wad) by holder name, the fund included as "fund"
    markets: dict[str, MarketState]


def read_state(d: Any, holders: dict[str, Any], traders: list[str]) -> ChainState:
    """Every stored number the tests compare: balances, reserves, net sizes, collateral, premiums, positions."""
    ch, vault = d.clearing_house, d.vault
    markets = {}
    for symbol, amm in d.amms.items():
        funding = ch.getFunding(amm)
        markets[symbol] = MarketState(
            reserves=tuple(amm.getReserve()),
            total_position_size=amm.totalPositionSize(),
            base_asset_delta=amm.getBaseAssetDelta(),
            collateral=ch.getMarket(amm)[1],
            cumulative_premium_fraction=ch.getLatestCumulativePremiumFraction(amm),
            cumulative_premium_fractions=(funding["cumulativeLong"], funding["cumulativeShort"]),
            side_sizes=(funding["longSize"], funding["shortSize"]),
            next_funding_time=amm.nextFundingTime(),
            positions={name: tuple(ch.getPosition(amm, holders[name])) for name in traders},
        )
    vault_wad = {name: vault.balanceOfWad(account) for name, account in holders.items()}
    vault_wad["fund"] = vault.balanceOfWad(d.insurance_fund)
    return ChainState(
        vault_tokens=d.quote_token.balanceOf(vault),
        fund_tokens=d.quote_token.balanceOf(d.insurance_fund),
        fund_balance=d.insurance_fund.fundBalance(),
        vault_wad=vault_wad,
        markets=markets,
    )
