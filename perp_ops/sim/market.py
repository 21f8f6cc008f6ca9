"""The simulated market on chain: deployment, traders, the clock, the keepers' pass and the books.

Time is deterministic: anvil stamps every block one second after the previous one
(`anvil_setBlockTimestampInterval`), and each step starts at an exact timestamp
(`evm_setNextBlockTimestamp`), so a seed gives the same chain, to the wei, on every run.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from brownie import accounts, web3
from brownie.exceptions import VirtualMachineError
from web3.types import LogReceipt

from perp_client import PerpClient
from perp_client import pool_math as pm
from perp_client.units import mul_wad
from perp_ops.console import anvil_key, client_for
from perp_ops.deploy import (
    Deployment,
    deploy_libraries,
    deploy_protocol,
    to_aggregator_answer,
)
from perp_ops.keepers import arbitrageur, funding, liquidator
from perp_ops.keepers.arbitrageur import ArbParams
from perp_ops.keepers.common import Action

WAD = 10**18
BUY, SELL = 0, 1
START_PRICE = 3_000
HEAD = 9  # the market-wide reads at the head of the batch in Market.books
OWNER, FUNDING_KEEPER, LIQUIDATOR, ARBITRAGEUR = 0, 7, 8, 9  # indices in anvil's accounts
KEEPER_LOGGERS = ("funding", "liquidator", "arbitrageur")

# v1's production margin rules on a USDC-like token; no fluctuation limit (the arbitrageur moves the mark
# to the index in one trade, and a crash moves it by more than 1.2 % a minute)
SIM_CONFIG: dict[str, Any] = {
    "quote_decimals": 6,
    "init_margin_ratio": 10 * 10**16,  # 10x max
    "maintenance_margin_ratio": 625 * 10**14,
    "liquidation_fee_ratio": 125 * 10**14,
    "partial_liquidation_ratio": 25 * 10**16,
    "quote_asset_reserve": 15_000_000 * WAD,  # ETH at 3,000 with 5,000 ETH of virtual depth
    "base_asset_reserve": 5_000 * WAD,
    "index_price": START_PRICE * WAD,
    "spread_ratio": 1 * 10**15,  # 0.1 % to the InsuranceFund
}


ARB_PARAMS = ArbParams(leverage=Decimal(5), max_margin=Decimal(250_000))


@dataclass(frozen=True)
class Budget:
    """Who brings how much (quote units)."""

    insurance_fund: int = 150_000
    arbitrageur: int = 2_000_000
    arb: ArbParams = ARB_PARAMS


@dataclass(frozen=True)
class Profile:
    """A trader's habits: side, margin (quote units) and leverage of each new position; the deposit."""

    side: int
    margin: int
    leverage: int
    deposit: int


def draw_profiles(rng: random.Random, count: int) -> list[Profile]:
    profiles = []
    for _ in range(count):
        margin = int(min(60_000, max(200, rng.lognormvariate(8.3, 0.9))))  # median ≈ 4,000
        leverage = rng.choice([1, 2, 3, 5, 5, 8, 10, 10, 10])  # up to the maximum, often at it
        profiles.append(Profile(rng.choice([BUY, SELL]), margin, leverage, margin * 2))
    return profiles


def trader_account(i: int) -> Any:
    """A deterministic local account for trader `i` (brownie signs; gas is free on the dev chain)."""
    return accounts.add("0x" + web3.keccak(text=f"vamm-sim-trader-{i}").hex().removeprefix("0x"))


# ------------------------------------------------------------------------------------------------ clock


def rpc(method: str, *params: Any) -> Any:
    response = web3.provider.make_request(method, list(params))
    if "error" in response:
        raise RuntimeError(f"{method}: {response['error']}")
    return response.get("result")


def latest_timestamp() -> int:
    return int(web3.eth.get_block("latest")["timestamp"])


@contextmanager
def one_second_blocks() -> Iterator[None]:
    """Every new block one second after the previous one, for the duration of the block."""
    rpc("anvil_setBlockTimestampInterval", 1)
    try:
        yield
    finally:
        rpc("anvil_removeBlockTimestampInterval")


def next_block_at(timestamp: int) -> int:
    """Stamp the next block with `timestamp` (or the next free second, if the chain is past it)."""
    timestamp = max(timestamp, latest_timestamp() + 1)
    rpc("evm_setNextBlockTimestamp", timestamp)
    return timestamp


def mine_at(timestamp: int) -> None:
    next_block_at(timestamp)
    rpc("evm_mine")


class _Collect(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.INFO)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(f"{record.name} {record.levelname}: {record.getMessage()}")


@contextmanager
def keeper_logs(sink: list[str]) -> Iterator[None]:
    """The keepers' log lines (a refused transaction is a warning) into `sink`, not onto the progress bar."""
    handler = _Collect(sink)
    loggers = [logging.getLogger(name) for name in KEEPER_LOGGERS]
    saved = [(log.propagate, log.level) for log in loggers]
    for log in loggers:
        log.addHandler(handler)
        log.propagate = False
        log.setLevel(logging.INFO)
    try:
        yield
    finally:
        for log, (propagate, level) in zip(loggers, saved, strict=True):
            log.removeHandler(handler)
            log.propagate, log.level = propagate, level


# ------------------------------------------------------------------------------------------------ books


@dataclass(frozen=True)
class Holding:
    size: int
    margin: int
    open_notional: int
    last_cumulative: int


@dataclass(frozen=True)
class Books:
    """One read of the chain (wad unless noted)."""

    quote_reserve: int
    base_reserve: int
    index: int
    funding_rate: int
    fund: int
    collateral: int
    vault_tokens: int  # token units
    free: dict[str, int]  # address -> free vault balance, every participant and the fund
    holdings: dict[str, Holding]
    cumulative: int  # the longs' cumulative premium fraction
    shutdown: bool
    settlement_price: int
    cumulative_short: int = 0  # the shorts' (less than the longs' after receivers were paid less)

    @property
    def mark(self) -> int:
        return pm.spot_price(self.quote_reserve, self.base_reserve)

    def value(self, h: Holding) -> int:
        """What the position is worth to its holder now: margin + PnL − funding (closing it alone at the
        pool), or its settlement value after a shutdown."""
        if h.size == 0:
            return 0
        cumulative = self.cumulative if h.size > 0 else self.cumulative_short  # each side reads its own
        if self.shutdown:
            return settlement_value(h, self.settlement_price, cumulative)
        _, pnl = pm.spot_notional_and_pnl(h.size, h.open_notional, self.quote_reserve, self.base_reserve)
        return h.margin + pnl - mul_wad(cumulative - h.last_cumulative, h.size)


def settlement_value(h: Holding, price: int, cumulative: int) -> int:
    """ClearingHouse.settlePosition's value before the floor: margin + PnL at the settlement price (v1's formula,
    its rounding) − the funding owed."""
    value = h.margin - mul_wad(cumulative - h.last_cumulative, h.size)
    if price == 0:
        return value
    open_price = h.open_notional * WAD // abs(h.size)
    return mul_wad(h.size, price - open_price) + value


# ------------------------------------------------------------------------------------------------ the market


@dataclass
class Tally:
    """What happened during one step."""

    liquidations: int = 0
    partial: int = 0
    liquidated_notional: int = 0
    bad_debt: int = 0  # positions' bad debt and the liquidators' fee shortfall, both drawn from the fund
    fund_funding: int = 0  # the pool's side of funding: + the fund earned, − it paid
    receivers_unpaid: int = 0  # the pool's side of funding the fund could not pay: taken off the receivers
    halted_shortfall: int | None = None

    def add(self, other: Tally) -> None:
        """Accumulate `other` into this one (the shortfall: the halt's, once)."""
        self.liquidations += other.liquidations
        self.partial += other.partial
        self.liquidated_notional += other.liquidated_notional
        self.bad_debt += other.bad_debt
        self.fund_funding += other.fund_funding
        self.receivers_unpaid += other.receivers_unpaid
        if other.halted_shortfall is not None:
            self.halted_shortfall = (self.halted_shortfall or 0) + other.halted_shortfall


@dataclass
class Market:
    """The protocol, its participants and the keepers' clients."""

    d: Deployment
    owner: Any
    traders: list[Any]
    profiles: list[Profile]
    arbitrageur: Any
    liquidator: Any
    budget: Budget
    clients: dict[str, PerpClient] = field(default_factory=dict)
    liquidator_state: liquidator.LiquidatorState = field(default_factory=liquidator.LiquidatorState)
    actions: list[Action] = field(default_factory=list)
    log: list[str] = field(default_factory=list)  # the keepers' warnings
    orders: Counter[str] = field(default_factory=Counter)  # the traders' orders: filled | refused
    next_log_block: int = 0

    @property
    def scale(self) -> int:
        return 10 ** (18 - SIM_CONFIG["quote_decimals"])

    @property
    def participants(self) -> list[Any]:
        """Everyone who can hold a position or a vault balance."""
        return [*self.traders, self.arbitrageur, self.liquidator]

    @property
    def amm(self) -> Any:
        return self.d.amm

    @property
    def reader(self) -> PerpClient:
        return self.clients["liquidator"]

    # -------------------------------------------------------------------------------------- set-up

    def deposit(self, who: Any, amount: int) -> None:
        raw = amount * 10 ** SIM_CONFIG["quote_decimals"]
        self.d.quote_token.mint(who, raw, {"from": who})
        self.d.quote_token.approve(self.d.vault, raw, {"from": who})
        self.d.vault.deposit(raw, {"from": who})

    def seed_insurance_fund(self, amount: int) -> None:
        raw = amount * 10 ** SIM_CONFIG["quote_decimals"]
        self.d.quote_token.mint(self.owner, raw, {"from": self.owner})
        self.d.quote_token.approve(self.d.insurance_fund, raw, {"from": self.owner})
        self.d.insurance_fund.deposit(raw, {"from": self.owner})

    def set_index(self, price: float) -> None:
        wad = int(price * 100) * WAD // 100
        self.d.aggregators["ETH"].updateAnswer(to_aggregator_answer(wad), {"from": self.owner})

    # -------------------------------------------------------------------------------------- traders

    def open(self, i: int, profile: Profile, rng: random.Random) -> None:
        trader = self.traders[i]
        side = profile.side if rng.random() < 0.7 else 1 - profile.side
        leverage = rng.choice([profile.leverage, rng.randint(1, 10)])
        fee_room = 1 + leverage * 2 / 1000
        margin = min(profile.margin, int(self.d.vault.balanceOf(trader) / 10 ** SIM_CONFIG["quote_decimals"] / fee_room))
        if margin < 100:
            return
        self.trade(self.d.clearing_house.openPosition, self.amm, side, margin * WAD, leverage * WAD, 0, {"from": trader})

    def trade(self, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
            self.orders["filled"] += 1
        except VirtualMachineError:
            self.orders["refused"] += 1  # e.g. a close that would leave bad debt: the liquidator's job

    def activity(self, rng: random.Random, chance: float) -> None:
        """Each trader, with probability `chance`: opens a position if flat, else closes it."""
        for i, trader in enumerate(self.traders):
            if rng.random() >= chance:
                continue
            if self.d.clearing_house.getPosition(self.amm, trader)[0] == 0:
                self.open(i, self.profiles[i], rng)
            else:
                self.trade(self.d.clearing_house.closePosition, self.amm, 0, {"from": trader})

    # -------------------------------------------------------------------------------------- keepers

    def run_keepers(self) -> None:
        """One pass of each in-repo keeper (what `--once` runs), against this chain."""
        if self.d.amm.isShutdown():
            return
        self.actions += funding.run_once(self.clients["funding"])
        self.actions += arbitrageur.run_once(self.clients["arbitrageur"], None, self.budget.arb)
        self.actions += liquidator.run_once(self.clients["liquidator"], self.liquidator_state)

    # -------------------------------------------------------------------------------------- reading

    def books(self) -> Books:
        """Everything the step records, in one JSON-RPC batch."""
        c = self.reader
        ch, amm, vault = c.clearing_house.functions, c.amm("ETH").functions, c.vault.functions
        who = [p.address for p in self.participants]
        holders = [*(t.address for t in self.traders), self.arbitrageur.address]
        with c.w3.batch_requests() as batch:
            for fn in (
                amm.getReserve(), amm.getUnderlyingPrice(), amm.fundingRate(),
                vault.balanceOfWad(self.d.insurance_fund.address), ch.getMarket(c.amm("ETH").address),
                c.token.functions.balanceOf(self.d.vault.address), ch.getFunding(c.amm("ETH").address),
                amm.getSettlementPrice(), amm.isShutdown(),
            ):
                batch.add(fn)
            for a in who:
                batch.add(vault.balanceOfWad(a))
            for a in holders:
                batch.add(ch.getPosition(c.amm("ETH").address, a))
            out = batch.execute()
        (q, b), index, rate, fund, market, tokens, funding, price, shutdown = out[:HEAD]
        free = dict(zip(who, out[HEAD : HEAD + len(who)], strict=True))
        holdings = {a: Holding(*p) for a, p in zip(holders, out[HEAD + len(who) :], strict=True)}
        return Books(q, b, index, rate, fund, market[1], tokens, free, holdings, funding[0], bool(shutdown), price,
                     cumulative_short=funding[1])

    def scan(self, tally: Tally) -> None:
        """The ClearingHouse's events since the last scan, into `tally`."""
        c = self.reader
        latest = c.w3.eth.block_number
        if self.next_log_block > latest:
            return
        logs = c.w3.eth.get_logs({"address": c.clearing_house.address, "fromBlock": self.next_log_block, "toBlock": latest})
        self.next_log_block = latest + 1
        for log in logs:
            self._count(tally, log)

    def _count(self, tally: Tally, log: LogReceipt) -> None:
        events = self.reader.clearing_house.events
        topic = "0x" + bytes(log["topics"][0]).hex()
        for name in ("PositionChanged", "PositionLiquidated", "FundingPaid", "FundingShortfall", "MarketHalted"):
            event = getattr(events, name)()
            if topic != event.topic:
                continue
            args = event.process_log(log)["args"]
            if name == "PositionChanged":
                tally.bad_debt += args["badDebt"]
                if args["liquidationPenalty"] and args["positionSizeAfter"] != 0:
                    tally.partial += 1
            elif name == "PositionLiquidated":
                tally.liquidations += 1
                tally.liquidated_notional += args["positionNotional"]
                tally.bad_debt += args["badDebt"]
            elif name == "FundingPaid":
                tally.fund_funding += args["insuranceFundPnl"]
            elif name == "FundingShortfall":
                tally.receivers_unpaid += args["owedToReceivers"] - args["paid"]
            else:
                tally.halted_shortfall = args["shortfall"]


def link_libraries() -> None:
    """The libraries a deployment links to, deployed now if this chain has none yet."""
    deploy_libraries({"from": accounts[OWNER]})


def deploy_market(traders: int, rng: random.Random, budget: Budget) -> Market:
    """A fresh protocol, `traders` funded traders with their profiles, the keepers' clients."""
    owner = accounts[OWNER]
    d = deploy_protocol(SIM_CONFIG, deployer=owner)
    m = Market(
        d, owner, [trader_account(i) for i in range(traders)], draw_profiles(rng, traders),
        accounts[ARBITRAGEUR], accounts[LIQUIDATOR], budget,
    )
    m.clients = {
        "funding": client_for(d, anvil_key(FUNDING_KEEPER)),
        "liquidator": client_for(d, anvil_key(LIQUIDATOR)),
        "arbitrageur": client_for(d, anvil_key(ARBITRAGEUR)),
    }
    m.next_log_block = web3.eth.block_number + 1
    m.seed_insurance_fund(budget.insurance_fund)
    m.deposit(m.arbitrageur, budget.arbitrageur)
    for trader, profile in zip(m.traders, m.profiles, strict=True):
        m.deposit(trader, profile.deposit)
    return m
