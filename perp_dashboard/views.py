"""What the page shows, read from the chain through perp_client and the event log, as JSON-ready dicts.

Every amount goes out twice: `*_text` in human units (the same formatting as the command line's tables)
and the exact wad integer as a decimal string (`*_wad`), or a float where only a chart needs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from web3.exceptions import ContractLogicError

from perp_client import PerpClient, PerpError
from perp_client.index import trade_kind
from perp_client.tx import revert_reason
from perp_client.units import WAD, fmt_pct, fmt_wad, from_units, mul_wad
from perp_dashboard.events import Event, select

T = TypeVar("T")
DAY = 86_400
CHART_POINTS = 300
_INDEX_AT: dict[tuple[str, str], float | None] = {}  # the index at a trade's block, by (market, transaction)
STATUS_WORDS = {
    "open": "open",
    "paused": "paused: trading is stopped by the owner (withdrawals and margin stay open)",
    "closed": "closed by the owner: no trading",
    "halted": "halted: the market is shut down, only settling is possible",
}


def words(reason: str) -> str:
    """`NotEnoughFreeCollateral(freeCollateral=-1.5)` → `not enough free collateral (freeCollateral=-1.5)`."""
    name, _, rest = reason.partition("(")
    if not name.isidentifier() or not name[:1].isupper():
        return reason
    spaced = "".join(f" {c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))
    return spaced + (f" ({rest.rstrip(')')})" if rest.rstrip(")") else "")


def attempt(client: PerpClient, read: Callable[[], T]) -> tuple[T | None, str | None]:
    """(value, None), or (None, the decoded revert in words) when the view reverts."""
    try:
        return read(), None
    except ContractLogicError as exc:
        return None, words(revert_reason(exc, client.decoder))
    except PerpError as exc:
        return None, str(exc)


def num(x: int | None) -> float | None:
    return None if x is None else x / WAD


def wad_fields(name: str, x: int | None, places: int = 4) -> dict[str, Any]:
    return {f"{name}_text": fmt_wad(x, places), f"{name}_wad": None if x is None else str(x)}


# ------------------------------------------------------------------------------------------------ markets


def market_status(client: PerpClient, symbol: str, paused: bool) -> str:
    return client.market_state(symbol, paused)


def open_interest(trades: list[Event], settled: list[Event]) -> tuple[int, int]:
    """(long, short) base open interest from the last position size of every trader (short as positive)."""
    size: dict[str, int] = {}
    for e in trades:
        size[e.args["trader"]] = int(e.args["positionSizeAfter"])
    for e in settled:
        size[e.args["trader"]] = 0
    return sum(s for s in size.values() if s > 0), -sum(s for s in size.values() if s < 0)


def market_view(client: PerpClient, events: list[Event], symbol: str, paused: bool) -> dict[str, Any]:
    amm = client.amm(symbol)
    f = amm.functions
    block = client.w3.eth.get_block("latest")
    now = int(block["timestamp"])
    q, b = f.getReserve().call()
    mark = q * WAD // b
    index, index_error = attempt(client, lambda: int(f.getUnderlyingPrice().call()))
    period = int(f.fundingPeriod().call())
    next_time = int(f.nextFundingTime().call())
    mark_twap, _ = attempt(client, lambda: int(f.getTwapPrice(period).call()))
    index_twap, _ = attempt(client, lambda: int(f.getUnderlyingTwapPrice(period).call()))
    estimate = (mark_twap - index_twap) * period // DAY * WAD // index_twap if mark_twap and index_twap else None
    trades = select(events, "PositionChanged", amm=amm.address)
    settled = [*select(events, "SettlementClaimed", amm=amm.address), *select(events, "PositionSettled", amm=amm.address)]
    long_oi, short_oi = open_interest(trades, settled)
    volume = sum(int(e.args["positionNotional"]) for e in trades if e.timestamp >= now - DAY and e.args["exchangedPositionSize"])
    repegs = select(events, "Repegged", amm=amm.address)
    halts = select(events, "MarketHalted", amm=amm.address)
    _, collateral, _ = client.clearing_house.functions.getMarket(amm.address).call()
    status = market_status(client, symbol, paused)
    premium = (mark - index) * WAD // index if index else None
    return {
        "symbol": symbol,
        "address": amm.address,
        "status": status,
        "status_text": STATUS_WORDS[status],
        "block": int(block["number"]),
        "timestamp": now,
        **wad_fields("mark", mark),
        **wad_fields("index", index),
        "index_error": index_error,
        "premium_text": fmt_pct(premium, 3),
        "gap_text": fmt_wad(None if index is None else mark - index),
        **wad_fields("twap", mark_twap),
        "funding_rate_text": fmt_pct(int(f.fundingRate().call()), 4),
        "funding_estimate_text": fmt_pct(estimate, 4) if estimate is not None else "- (not enough price history)",
        "funding_period": period,
        "next_funding_time": next_time,
        "seconds_to_funding": max(next_time - now, 0),
        **wad_fields("oi_long", long_oi),
        **wad_fields("oi_short", short_oi),
        "oi_long_notional_text": fmt_wad(mul_wad(long_oi, mark), 2),
        "oi_short_notional_text": fmt_wad(mul_wad(short_oi, mark), 2),
        **wad_fields("net_position", int(f.totalPositionSize().call())),
        "k_text": f"{from_units(q * b // WAD, 18):.4E}",
        **wad_fields("quote_reserve", q, 2),
        **wad_fields("base_reserve", b, 4),
        "peg_text": fmt_wad(int(repegs[-1].args["priceAfter"])) if repegs else "never repegged",
        **wad_fields("volume_24h", volume, 2),
        "trades_24h": sum(1 for e in trades if e.timestamp >= now - DAY),
        **wad_fields("collateral", int(collateral), 2),
        "halt_shortfall_text": fmt_wad(sum(int(e.args["shortfall"]) for e in halts), 2) if halts else None,
        "fees_text": f"toll {fmt_pct(int(f.tollRatio().call()), 3)}, spread {fmt_pct(int(f.spreadRatio().call()), 3)}",
    }


def chart_points(client: PerpClient, events: list[Event], symbol: str, samples: list[tuple[int, float, float | None]]) -> list[dict[str, Any]]:
    """Mark and index over time: the mark after every trade (its event), the index at that block (when the
    node keeps the state), and the samples the server took as blocks went by; oldest first."""
    amm = client.amm(symbol)
    points: dict[int, tuple[float, float | None]] = {}
    for e in select(events, "PositionChanged", amm=amm.address)[-CHART_POINTS:]:
        key = (amm.address, e.tx_hash)  # a transaction's block state never changes; a reorg changes the hash
        if key not in _INDEX_AT:
            index, _ = attempt(client, lambda e=e: int(amm.functions.getUnderlyingPrice().call(block_identifier=e.block)))
            _INDEX_AT[key] = num(index)
            while len(_INDEX_AT) > 10 * CHART_POINTS:
                del _INDEX_AT[next(iter(_INDEX_AT))]
        points[e.timestamp] = (int(e.args["spotPrice"]) / WAD, _INDEX_AT[key])
    for t, mark, index_f in samples:
        points.setdefault(t, (mark, index_f))
    return [{"t": t, "mark": m, "index": i} for t, (m, i) in sorted(points.items())[-CHART_POINTS:]]


# ------------------------------------------------------------------------------------------------ account


def position_view(client: PerpClient, symbol: str, trader: str, mmr: int, status: str) -> dict[str, Any] | None:
    """One position with everything the trader needs to judge its risk; None when there is none."""
    amm = client.amm(symbol)
    size, margin, open_notional, _ = client.clearing_house.functions.getPosition(amm.address, trader).call()
    if size == 0:
        return claim_view(client, symbol, trader, mmr, status)
    base = {"symbol": symbol, "status": status, "side": "long" if size > 0 else "short", **wad_fields("size", size, 6),
            **wad_fields("margin", margin, 2), **wad_fields("open_notional", open_notional, 2),
            **wad_fields("entry", open_notional * WAD // abs(size)), **wad_fields("mmr", mmr), "mmr_text": fmt_pct(mmr)}
    if status == "halted":
        return {**base, "settle_only": True, **wad_fields("mark", None), **wad_fields("liquidation_price", None),
                **wad_fields("pnl", None), **wad_fields("funding", None), "margin_ratio_text": "-", "margin_ratio": None}
    p = client.position(symbol, trader)
    q, b = amm.functions.getReserve().call()
    return {
        **base,
        "settle_only": False,
        **wad_fields("mark", q * WAD // b),
        **wad_fields("notional", p.position_notional, 2),
        **wad_fields("pnl", p.unrealized_pnl, 4),
        **wad_fields("funding", p.funding_payment, 4),
        **wad_fields("liquidation_price", p.liquidation_price),
        **wad_fields("free_collateral", p.free_collateral, 2),
        "margin_ratio_text": fmt_pct(p.margin_ratio),
        "margin_ratio": num(p.margin_ratio),
        "mmr": num(mmr),
    }


def claim_view(client: PerpClient, symbol: str, trader: str, mmr: int, status: str) -> dict[str, Any] | None:
    """A settlement claim registered in a halted market's claim window and not paid yet; None when there is none.
    Its payout is final once the window has closed (before that, what it would be if it closed now)."""
    if status != "halted":
        return None
    amm = client.amm(symbol)
    claim, payout = client.clearing_house.functions.getSettlementClaim(amm.address, trader).call()
    if claim == 0:
        return None
    end = int(amm.functions.settlementWindowEnd().call())
    return {"symbol": symbol, "status": status, "side": "claim", "settle_only": True, **wad_fields("size", None),
            **wad_fields("margin", claim, 2), **wad_fields("open_notional", None), **wad_fields("entry", None),
            **wad_fields("mmr", mmr), "mmr_text": fmt_pct(mmr), **wad_fields("mark", None),
            **wad_fields("liquidation_price", None), **wad_fields("pnl", payout, 2), **wad_fields("funding", None),
            "margin_ratio_text": "-", "margin_ratio": None, "claim_window_end": end}


HISTORY_KINDS = {"PositionChanged", "PositionLiquidated", "MarginChanged", "PositionSettled", "SettlementClaimed",
                 "Deposited", "Withdrawn"}


def history_row(client: PerpClient, e: Event, decimals: int) -> dict[str, Any]:
    a = e.args
    market = client.symbol_of(a["amm"]) if "amm" in a else "vault"
    row: dict[str, Any] = {"block": e.block, "time": e.timestamp, "tx": e.tx_hash, "market": market}
    if e.name == "PositionChanged":
        exchanged, after = int(a["exchangedPositionSize"]), int(a["positionSizeAfter"])
        kind = trade_kind(exchanged, after, int(a["liquidationPenalty"]))
        price = int(a["positionNotional"]) * WAD // abs(exchanged) if exchanged else None
        detail = f"{fmt_wad(exchanged, 6)} base at {fmt_wad(price)}; size {fmt_wad(after, 6)}"
        row.update(kind=kind, detail=detail, fee_text=fmt_wad(int(a["fee"])), pnl_text=fmt_wad(int(a["realizedPnl"])),
                   funding_text=fmt_wad(int(a["fundingPayment"])))
    elif e.name == "PositionLiquidated":
        row.update(kind="liquidated", detail=f"size {fmt_wad(int(a['positionSize']), 6)}, bad debt {fmt_wad(int(a['badDebt']), 2)}",
                   fee_text=fmt_wad(int(a["liquidationFee"])), pnl_text="-", funding_text="-")
    elif e.name == "MarginChanged":
        amount = int(a["amount"])
        row.update(kind="add margin" if amount > 0 else "remove margin", detail=fmt_wad(abs(amount), 2),
                   fee_text="-", pnl_text="-", funding_text=fmt_wad(int(a["fundingPayment"])))
    elif e.name == "PositionSettled":
        row.update(kind="settle", detail=f"{fmt_wad(int(a['valueTransferred']), 2)} credited", fee_text="-", pnl_text="-", funding_text="-")
    elif e.name == "SettlementClaimed":
        end = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(int(a["windowEnd"])))
        row.update(kind="settle", detail=f"claim of {fmt_wad(int(a['value']), 2)} registered (funding included); paid after {end}",
                   fee_text="-", pnl_text="-", funding_text="-")
    else:
        amount = f"{from_units(int(a['amount']), decimals):,.2f}"
        row.update(kind=e.name.lower(), detail=amount, fee_text="-", pnl_text="-", funding_text="-")
    return row


def account_view(client: PerpClient, events: list[Event], trader: str, paused: bool) -> dict[str, Any]:
    decimals = client.token_decimals
    _, mmr = client.margin_ratios()
    positions = []
    for symbol in client.symbols:
        status = market_status(client, symbol, paused)
        view = position_view(client, symbol, trader, mmr, status)
        if view is not None:
            positions.append(view)
    mine = [
        e for e in events
        if e.name in HISTORY_KINDS and str(e.args.get("trader", e.args.get("account", ""))).lower() == trader.lower()
    ]
    wallet = client.wallet_balance(trader)
    return {
        "address": trader,
        "wallet_text": f"{from_units(wallet, decimals):,.2f}",
        "wallet_units": str(wallet),
        **wad_fields("vault", client.vault_balance(trader), 2),
        "positions": positions,
        "history": [history_row(client, e, decimals) for e in reversed(mine[-200:])],
    }


# ------------------------------------------------------------------------------------------------ operator

# The parts of OpenZeppelin's TimelockController the operator view reads (when the owner is one).
TIMELOCK_ABI: list[dict[str, Any]] = [
    {"type": "function", "name": "getMinDelay", "stateMutability": "view", "inputs": [], "outputs": [{"name": "", "type": "uint256"}]},
    {"type": "event", "name": "CallScheduled", "anonymous": False, "inputs": [
        {"name": "id", "type": "bytes32", "indexed": True}, {"name": "index", "type": "uint256", "indexed": True},
        {"name": "target", "type": "address", "indexed": False}, {"name": "value", "type": "uint256", "indexed": False},
        {"name": "data", "type": "bytes", "indexed": False}, {"name": "predecessor", "type": "bytes32", "indexed": False},
        {"name": "delay", "type": "uint256", "indexed": False}]},
    {"type": "event", "name": "CallExecuted", "anonymous": False, "inputs": [
        {"name": "id", "type": "bytes32", "indexed": True}, {"name": "index", "type": "uint256", "indexed": True},
        {"name": "target", "type": "address", "indexed": False}, {"name": "value", "type": "uint256", "indexed": False},
        {"name": "data", "type": "bytes", "indexed": False}]},
    {"type": "event", "name": "Cancelled", "anonymous": False, "inputs": [{"name": "id", "type": "bytes32", "indexed": True}]},
]


def governance_view(client: PerpClient) -> dict[str, Any]:
    """Who owns the ClearingHouse; when it is a TimelockController, its delay and the calls still pending."""
    owner = client.clearing_house.functions.owner().call()
    if not client.w3.eth.get_code(owner):
        return {"owner": owner, "owner_kind": "an account (EOA): changes take effect at once", "pending": []}
    timelock = client.w3.eth.contract(address=owner, abi=TIMELOCK_ABI)
    delay, error = attempt(client, lambda: int(timelock.functions.getMinDelay().call()))
    if delay is None:
        return {"owner": owner, "owner_kind": f"a contract that is not a timelock ({error})", "pending": []}
    start = client.addresses.start_block
    done = {e["args"]["id"] for name in ("CallExecuted", "Cancelled") for e in getattr(timelock.events, name).get_logs(from_block=start)}
    pending = []
    for e in timelock.events.CallScheduled.get_logs(from_block=start):
        if e["args"]["id"] in done:
            continue
        ready = client.w3.eth.get_block(e["blockNumber"])["timestamp"] + int(e["args"]["delay"])
        pending.append({"id": "0x" + bytes(e["args"]["id"]).hex(), "target": e["args"]["target"],
                        "selector": "0x" + bytes(e["args"]["data"][:4]).hex(), "ready_at": ready})
    return {"owner": owner, "owner_kind": f"a TimelockController, minimum delay {delay} s", "pending": pending}


def owed_to_traders(client: PerpClient, events: list[Event], symbol: str) -> int:
    """What the market's open positions are worth to their traders now (margin + PnL − funding, floored at 0):
    every trader the events name, valued by `PerpClient.owed_to_positions` (the operator's status too)."""
    traders = {e.args["trader"] for e in select(events, "PositionChanged", amm=client.amm(symbol).address)}
    return client.owed_to_positions(symbol, traders)[0]


def oracle_view(client: PerpClient, symbol: str, now: int) -> dict[str, Any]:
    amm = client.amm(symbol)
    feed = client._contract("ChainlinkPriceFeed", client.addresses.price_feed)
    key = amm.functions.priceFeedKey().call()
    aggregator, decimals, max_staleness = feed.functions.getAggregator(key).call()
    agg = client.w3.eth.contract(address=aggregator, abi=AGGREGATOR_ABI)
    latest, error = attempt(client, lambda: agg.functions.latestRoundData().call())
    if latest is None:
        return {"symbol": symbol, "aggregator": aggregator, "error": error, "age": None, "stale": True}
    _, answer, _, updated_at, _ = latest
    age = now - int(updated_at)
    return {
        "symbol": symbol, "aggregator": aggregator, "error": None,
        "answer_text": f"{from_units(int(answer), int(decimals)):,.4f}",
        "age": age, "max_staleness": int(max_staleness),
        "stale": bool(max_staleness) and age > int(max_staleness),
    }


AGGREGATOR_ABI: list[dict[str, Any]] = [
    {"type": "function", "name": "latestRoundData", "stateMutability": "view", "inputs": [], "outputs": [
        {"name": "roundId", "type": "uint80"}, {"name": "answer", "type": "int256"}, {"name": "startedAt", "type": "uint256"},
        {"name": "updatedAt", "type": "uint256"}, {"name": "answeredInRound", "type": "uint80"}]},
]


def sequencer_view(client: PerpClient) -> dict[str, Any]:
    """The L2 sequencer uptime feed, when the price feed has one."""
    abi = client._contract("ChainlinkPriceFeed", client.addresses.price_feed).abi
    if not any(i.get("name") == "sequencerUptimeFeed" for i in abi):
        return {"text": "no sequencer uptime feed in this deployment's price feed"}
    feed = client._contract("ChainlinkPriceFeed", client.addresses.price_feed)
    address, error = attempt(client, lambda: feed.functions.sequencerUptimeFeed().call())
    if error or not address or int(address, 16) == 0:
        return {"text": error or "not configured (no sequencer check: an L1 or a local chain)"}
    agg = client.w3.eth.contract(address=address, abi=AGGREGATOR_ABI)
    latest, error = attempt(client, lambda: agg.functions.latestRoundData().call())
    if latest is None:
        return {"text": f"uptime feed {address} unreadable: {error}"}
    return {"text": f"{'DOWN' if latest[1] else 'up'} since {latest[2]} (feed {address})"}


def vault_owed(client: PerpClient, events: list[Event], collaterals: list[int]) -> tuple[int, int]:
    """What the Vault owes (wad): the free balance of every account the events name, the insurance fund and
    the fee pool, plus the collateral booked in every market (margins and realised PnL not yet paid out);
    and how many accounts that counts."""
    accounts = {client.addresses.insurance_fund, client.clearing_house.functions.feePool().call()}
    for e in events:
        for key in ("account", "trader", "liquidator"):
            if key in e.args:
                accounts.add(e.args[key])
    accounts.discard("0x0000000000000000000000000000000000000000")
    free = sum(int(client.vault.functions.balanceOfWad(a).call()) for a in accounts)
    return free + sum(max(c, 0) for c in collaterals), len(accounts)


def operator_view(client: PerpClient, events: list[Event], paused: bool) -> dict[str, Any]:
    fund = client._contract("InsuranceFund", client.addresses.insurance_fund)
    now = client.block_timestamp()
    markets = []
    for symbol in client.symbols:
        amm = client.amm(symbol)
        status = market_status(client, symbol, paused)
        _, collateral, _ = client.clearing_house.functions.getMarket(amm.address).call()
        owed = owed_to_traders(client, events, symbol) if status != "halted" else None
        bad_debt = sum(int(e.args["badDebt"]) for e in select(events, "PositionChanged", amm=amm.address))
        markets.append({
            "symbol": symbol, "status": status, "status_text": STATUS_WORDS[status],
            **wad_fields("collateral", int(collateral), 2), **wad_fields("owed", owed, 2),
            "covered": None if owed is None else int(collateral) >= owed,
            **wad_fields("bad_debt", bad_debt, 2),
            "halt_shortfall_text": fmt_wad(sum(int(e.args["shortfall"]) for e in select(events, "MarketHalted", amm=amm.address)), 2),
            "oracle": oracle_view(client, symbol, now),
        })
    vault_tokens = int(client.token.functions.balanceOf(client.vault.address).call())
    owed, accounts = vault_owed(client, events, [int(m["collateral_wad"]) for m in markets])
    held = vault_tokens * 10 ** (18 - client.token_decimals)
    return {
        "paused": paused,
        **wad_fields("fund", int(fund.functions.fundBalance().call()), 2),
        **wad_fields("surplus", int(fund.functions.surplus().call()), 2),
        **wad_fields("reserve_floor", int(fund.functions.reserveFloor().call()), 2),
        "vault_tokens_text": f"{from_units(vault_tokens, client.token_decimals):,.2f}",
        **wad_fields("vault_owed", owed, 2),
        "vault_accounts": accounts,
        "vault_covered": held >= owed,
        "markets": markets,
        "halted": [m["symbol"] for m in markets if m["status"] == "halted"],
        "sequencer": sequencer_view(client),
        "governance": governance_view(client),
        "funding_paid": len(select(events, "FundingPaid")),
    }
