"""The trader's commands: markets, account, quote, open, close, margin add/remove, settle, deposit, withdraw, history.

Every command takes the market first, then the side, then amounts (`perp open ETH long 100 5`,
`perp close ETH 0.1`, `perp margin remove ETH --max`). Amounts are human: margin and deposits in the collateral
token's units (at most its decimals), sizes in base, leverage a plain number. Everything is simulated before it
is signed (perp_client), so a refusal is one line and nothing is sent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import click
from web3.exceptions import ContractLogicError

from perp_client import (
    PerpClient,
    PerpError,
    PositionChanged,
    PositionLiquidated,
    Side,
    TxResult,
)
from perp_client.index import EventIndex
from perp_client.tx import revert_reason
from perp_client.units import WAD
from perp_ops.cli import output as out
from perp_ops.cli.session import (
    Session,
    fraction,
    json_option,
    positive,
    token_amount,
    with_session,
)


def _time(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _read(client: PerpClient, label: str, fn: Any) -> Any:
    """A view call; a revert (stale oracle, a closed market) as one line."""
    try:
        return fn.call()
    except ContractLogicError as exc:
        raise PerpError(f"{label}: {revert_reason(exc, client.decoder)}") from None


def _index(client: PerpClient, symbol: str) -> int | None:
    try:
        return int(client.amm(symbol).functions.getUnderlyingPrice().call())
    except ContractLogicError:
        return None


def _period(seconds: int) -> str:
    return f"{seconds // 3600} h" if seconds % 3600 == 0 else f"{seconds} s"


# ------------------------------------------------------------------------------------------------- reads


@click.command()
@with_session
@json_option
def markets(s: Session, as_json: bool) -> None:
    """Every market: state, mark, index, premium, TWAP, funding, open interest, fees."""
    c = s.client()
    paused = bool(c.clearing_house.functions.paused().call())
    rows: list[dict[str, Any]] = []
    for symbol in c.symbols:
        state = c.market_state(symbol, paused)
        try:
            m = c.market(symbol)
        except PerpError as exc:
            rows.append({"symbol": symbol, "address": c.amm(symbol).address, "state": state, "error": str(exc)})
            continue
        rows.append({
            "symbol": symbol, "address": m.address, "state": state, "mark": m.mark_price, "index": m.index_price,
            "premium": m.premium, "twap_15m": m.twap_price, "funding_rate": m.funding_rate, "funding_period": m.funding_period,
            "next_funding_time": m.next_funding_time, "seconds_to_funding": max(m.next_funding_time - m.block_timestamp, 0),
            "net_position": m.total_position_size, "open_interest_notional": m.open_interest_notional,
            "toll_ratio": m.toll_ratio, "spread_ratio": m.spread_ratio, "quote_reserve": m.quote_reserve,
            "base_reserve": m.base_reserve, "error": None,
        })
    if as_json:
        wads = {"mark", "index", "premium", "twap_15m", "funding_rate", "net_position", "open_interest_notional", "toll_ratio",
                "spread_ratio", "quote_reserve", "base_reserve"}
        out.emit_json([{k: (out.exact(v) if k in wads else v) for k, v in r.items()} for r in rows])
        return
    columns = ["market", "state", "mark", "index", "premium", "TWAP 15m", "funding (last)", "next funding", "net position",
               "open interest", "fees (toll + spread)"]
    table_rows = []
    for r in rows:
        if r["error"]:
            table_rows.append([r["symbol"], r["state"], r["error"], *[""] * (len(columns) - 3)])
            continue
        table_rows.append([
            r["symbol"], r["state"], out.price(r["mark"]), out.price(r["index"]), out.pct(r["premium"], 3), out.price(r["twap_15m"]),
            f"{out.pct(r['funding_rate'], 4)} / {_period(r['funding_period'])}",
            f"in {r['seconds_to_funding']} s", out.size(r["net_position"]), out.money(r["open_interest_notional"]),
            out.pct(r["toll_ratio"] + r["spread_ratio"], 3),
        ])
    out.console().print(out.table(None, columns, table_rows, right=columns[2:]))


@dataclass(frozen=True)
class Holding:
    symbol: str
    state: str
    data: dict[str, Any]


def _positions(c: PerpClient, trader: str) -> list[Holding]:
    paused = bool(c.clearing_house.functions.paused().call())
    found = []
    for symbol in c.symbols:
        h = c.holding(symbol, trader)
        if h.size == 0:
            continue
        state = c.market_state(symbol, paused)
        row: dict[str, Any] = {
            "market": symbol, "state": state, "side": "long" if h.size > 0 else "short", "size": h.size, "margin": h.margin,
            "open_notional": h.open_notional, "entry_price": h.open_notional * WAD // abs(h.size),
            "mark": c.pool(symbol).spot, "index": _index(c, symbol), "funding_owed": h.funding_payment,
            "unrealized_pnl": None, "margin_ratio": None, "liquidation_price": None, "free_collateral": None,
            "position_notional": None,
        }
        if state != "halted":
            p = c.position(symbol, trader)
            row.update(unrealized_pnl=p.unrealized_pnl, margin_ratio=p.margin_ratio, liquidation_price=p.liquidation_price,
                       free_collateral=p.free_collateral, position_notional=p.position_notional)
        found.append(Holding(symbol, state, row))
    return found


@click.command()
@click.argument("address", required=False)
@with_session
@json_option
def account(s: Session, address: str | None, as_json: bool) -> None:
    """Every position of ADDRESS (default: your key's) across markets, with its risk, and the balances."""
    who = s.trader(address)
    c = s.client()
    decimals = c.token_decimals
    wallet = c.wallet_balance(who) * 10 ** (18 - decimals)
    vault = c.vault_balance(who)
    positions = _positions(c, who)
    _, mmr = c.margin_ratios()
    if as_json:
        text = {"side", "market", "state"}
        out.emit_json({
            "address": who, "wallet": out.exact(wallet), "vault_balance": out.exact(vault), "maintenance_margin_ratio": out.exact(mmr),
            "positions": [{k: (v if k in text else out.exact(v)) for k, v in h.data.items()} for h in positions],
        })
        return
    con = out.console()
    con.print(out.pairs(f"account {who}", [
        ("wallet", f"{out.money(wallet)} (collateral token)"),
        ("vault balance", f"{out.money(vault)} (free: withdrawable, or margin for new positions)"),
        ("positions", f"{len(positions)} (maintenance margin ratio {out.pct(mmr)})"),
    ]))
    if not positions:
        return
    columns = ["market", "side", "size", "entry", "mark", "index", "margin", "margin ratio", "liq. price", "unrealized PnL",
               "funding owed", "free collateral"]
    rows = []
    for h in positions:
        d = h.data
        note = " (halted: settle)" if h.state == "halted" else ""
        rows.append([
            h.symbol + note, d["side"], out.size(d["size"]), out.price(d["entry_price"]), out.price(d["mark"]), out.price(d["index"]),
            out.money(d["margin"]), out.pct(d["margin_ratio"]), out.price(d["liquidation_price"]), out.money(d["unrealized_pnl"]),
            out.money(d["funding_owed"]), out.money(d["free_collateral"]),
        ])
    con.print()
    con.print(out.table(None, columns, rows, right=columns[2:]))


@click.command()
@click.argument("market")
@click.argument("side", type=click.Choice(["long", "short"], case_sensitive=False), metavar="SIDE")
@click.argument("margin")
@click.argument("leverage")
@click.option("--trader", metavar="ADDRESS", help="quote for this trader's position (default: your key's, else a new position)")
@with_session
@json_option
def quote(s: Session, market: str, side: str, margin: str, leverage: str, trader: str | None, as_json: bool) -> None:
    """What `open MARKET SIDE MARGIN LEVERAGE` would do now (exact pool math), without sending anything."""
    c = s.client()
    who = s.trader(trader) if trader else s.own_address()
    q = c.quote_open(market, side, token_amount(c, margin, "margin"), positive(leverage, "leverage"), who)
    data = {
        "market": q.symbol, "side": side.lower(), "margin": q.margin, "leverage": q.leverage, "notional": q.notional,
        "base": q.exchanged_base, "average_price": q.average_price, "price_impact": q.price_impact, "fee": q.fee,
        "mark_before": q.spot_before, "mark_after": q.spot_after, "size_after": q.size_after, "margin_after": q.margin_after,
        "margin_ratio_after": q.margin_ratio_after, "liquidation_price": q.liquidation_price, "realized_pnl": q.realized_pnl,
        "cash_from_vault": q.cash_required,
    }
    if as_json:
        out.emit_json({k: (v if k in ("market", "side") else out.exact(v)) for k, v in data.items()})
        return
    out.console().print(out.pairs(f"quote: {side.lower()} {q.symbol}, margin {out.money(q.margin)} at {out.fmt(q.leverage, 2)}x", [
        ("notional", out.money(q.notional)),
        ("base", out.size(q.exchanged_base)),
        ("average price", out.price(q.average_price)),
        ("price impact", out.pct(q.price_impact, 3)),
        ("fee", out.money(q.fee)),
        ("mark", f"{out.price(q.spot_before)} → {out.price(q.spot_after)}"),
        ("size after", out.size(q.size_after)),
        ("margin after", out.money(q.margin_after)),
        ("margin ratio after", out.pct(q.margin_ratio_after)),
        ("liquidation price", out.price(q.liquidation_price)),
        ("realized PnL", out.money(q.realized_pnl)),
        ("cash from vault", out.money(q.cash_required)),
    ]))


@click.command()
@click.argument("address", required=False)
@click.option("--market", help="only this market")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="the newest N entries")
@with_session
@json_option
def history(s: Session, address: str | None, market: str | None, limit: int, as_json: bool) -> None:
    """Trades, realised PnL, funding, margin, liquidations, settlements, deposits and withdrawals of ADDRESS."""
    who = s.trader(address)
    c = s.client()
    if market:
        c.amm(market)  # an unknown market is one line, before the index is read
    symbol = market.upper() if market else None
    with EventIndex.open(c) as index:
        index.sync()
        entries = index.history(who, symbol)[-limit:]
    scale = 10 ** (18 - c.token_decimals)
    rows = []
    for h in entries:
        # a trade's amount is its notional; a deposit's or a withdrawal's is in token units, shown as wad
        if h.kind in ("open", "increase", "reduce", "reverse", "close", "liquidation", "liquidated"):
            amount = h.notional
        elif h.kind in ("deposit", "withdraw") and h.amount is not None:
            amount = h.amount * scale
        else:
            amount = h.amount
        rows.append({"block": h.block_number, "time": _time(h.timestamp), "tx": h.tx_hash, "market": h.symbol or "vault",
                     "kind": h.kind, "size_change": h.size_change, "size_after": h.size_after, "price": h.price,
                     "amount": amount, "fee": h.fee, "realized_pnl": h.realized_pnl,
                     "funding": h.funding_payment, "bad_debt": h.bad_debt})
    if as_json:
        text = {"block", "time", "tx", "market", "kind"}
        out.emit_json({"address": who, "entries": [{k: (v if k in text else out.exact(v)) for k, v in r.items()} for r in rows]})
        return
    if not rows:
        out.console().print(f"no history for {who}{f' on {market.upper()}' if market else ''}")
        return
    columns = ["time (UTC)", "market", "what", "size", "price", "amount", "fee", "realized PnL", "funding", "tx"]
    table_rows = [[
        r["time"], r["market"], r["kind"], "" if r["size_change"] is None else out.signed(out.size(r["size_change"])),
        "" if r["price"] is None else out.price(r["price"]), "" if r["amount"] is None else out.money(r["amount"]),
        "" if r["fee"] is None else out.money(r["fee"]), "" if r["realized_pnl"] is None else out.money(r["realized_pnl"]),
        "" if r["funding"] is None else out.money(r["funding"]), r["tx"][:10] + "…",
    ] for r in rows]
    out.console().print(out.table(f"history of {who} (newest last)", columns, table_rows, right=columns[3:9]))


# ------------------------------------------------------------------------------------------------ writes


def _report(c: PerpClient, label: str, result: TxResult, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    """What a transaction did: the position change it emitted, in one line (or JSON)."""
    change = next((e for e in result.events if isinstance(e, PositionChanged)), None)
    liquidated = next((e for e in result.events if isinstance(e, PositionLiquidated)), None)
    if as_json:
        data: dict[str, Any] = {"action": label, "tx": result.tx_hash, "block": result.block_number, "gas_used": result.gas_used,
                                **(extra or {})}
        if change is not None:
            data.update(size_change=out.exact(change.exchanged_position_size), size_after=out.exact(change.position_size_after),
                        notional=out.exact(change.position_notional), margin=out.exact(change.margin), fee=out.exact(change.fee),
                        realized_pnl=out.exact(change.realized_pnl), funding=out.exact(change.funding_payment),
                        mark=out.exact(change.spot_price))
        if liquidated is not None:
            data.update(liquidated=True)
        out.emit_json(data)
        return
    if change is None:
        detail = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in (extra or {}).items())
        click.echo(f"{label}{': ' + detail if detail else ''} (tx {result.tx_hash})")
        return
    price = change.position_notional * WAD // abs(change.exchanged_position_size) if change.exchanged_position_size else None
    click.echo(
        f"{label}: {out.signed(out.size(change.exchanged_position_size))} at {out.price(price)} "
        f"(notional {out.money(change.position_notional)}, fee {out.money(change.fee)}, realized PnL {out.money(change.realized_pnl)}); "
        f"size now {out.size(change.position_size_after)}, margin {out.money(change.margin)}, mark {out.price(change.spot_price)} "
        f"(tx {result.tx_hash})"
    )


@click.command("open")
@click.argument("market")
@click.argument("side", type=click.Choice(["long", "short"], case_sensitive=False), metavar="SIDE")
@click.argument("margin")
@click.argument("leverage")
@click.option("--slippage", default="1%", show_default=True, help="how much worse than the quote the base may be")
@with_session
@json_option
def open_(s: Session, market: str, side: str, margin: str, leverage: str, slippage: str, as_json: bool) -> None:
    """Open, add to, reduce or reverse a position: MARGIN (collateral token) at LEVERAGE, on SIDE."""
    c = s.client(sign=True)
    tolerance = fraction(slippage, "slippage")
    result = c.open_position(market, Side.parse(side), token_amount(c, margin, "margin"), positive(leverage, "leverage"), tolerance)
    _report(c, f"{side.lower()} {market.upper()}", result, as_json)


@click.command()
@click.argument("market")
@click.argument("size", required=False)
@click.option("--slippage", default="1%", show_default=True, help="how much worse than the quote the price may be")
@with_session
@json_option
def close(s: Session, market: str, size: str | None, slippage: str, as_json: bool) -> None:
    """Close the position in MARKET; with SIZE (base), only that much of it (reduce-only)."""
    c = s.client(sign=True)
    tolerance = fraction(slippage, "slippage")
    if size is None:
        result = c.close_position(market, tolerance)
    else:
        amount = positive(size, "size")
        whole = abs(c.holding(market).size)
        if whole and amount * WAD == whole:
            result = c.close_position(market, tolerance)
        else:
            result = c.reduce_position(market, amount, tolerance)
    _report(c, f"close {market.upper()}", result, as_json)


@click.group()
def margin() -> None:
    """Add margin to a position, or remove what it does not need."""


@margin.command("add")
@click.argument("market")
@click.argument("amount")
@with_session
@json_option
def margin_add(s: Session, market: str, amount: str, as_json: bool) -> None:
    """Move AMOUNT (collateral token) from your vault balance into the position's margin."""
    c = s.client(sign=True)
    value = token_amount(c, amount, "margin")
    if c.holding(market).size == 0:
        raise PerpError(f"add margin {market.upper()}: no position")
    result = c.add_margin(market, value)
    _report(c, f"add margin {market.upper()}", result, as_json, {"amount": f"{value:f}", "margin_now": out.money(c.holding(market).margin)})


@margin.command("remove")
@click.argument("market")
@click.argument("amount", required=False)
@click.option("--max", "most", is_flag=True, help="remove as much as can be removed now")
@with_session
@json_option
def margin_remove(s: Session, market: str, amount: str | None, most: bool, as_json: bool) -> None:
    """Move AMOUNT of the position's margin back to your vault balance (--max: all that is not needed)."""
    if (amount is None) == (not most):
        raise PerpError(f"remove margin {market.upper()}: give an AMOUNT or --max, not {'both' if most else 'neither'}")
    c = s.client(sign=True)
    label = f"remove margin {market.upper()}"
    if c.holding(market).size == 0:
        raise PerpError(f"{label}: no position")
    decimals = c.token_decimals
    removable = c.removable_margin(market)
    shown = out.units(removable, decimals)
    if most:
        value = Decimal(shown or "0")
        if value <= 0:
            raise PerpError(f"{label}: nothing can be removed now (free collateral {out.money(removable)})")
    else:
        value = token_amount(c, amount or "", "margin")
        if value * WAD > removable:
            raise PerpError(f"{label}: {amount} asked, at most {shown} can be removed now (perp margin remove {market.upper()} --max)")
    result = c.remove_margin(market, value)
    _report(c, label, result, as_json, {"amount": f"{value:f}", "margin_now": out.money(c.holding(market).margin)})


@click.command()
@click.argument("market")
@with_session
@json_option
def settle(s: Session, market: str, as_json: bool) -> None:
    """After MARKET halted (shut down): in the claim window, register your position's value as a claim; after it,
    be paid the claim's share into your vault balance (run it again then)."""
    c = s.client(sign=True)
    before = c.vault_balance()
    result = c.settle_position(market)
    claim, payout, window_end = c.settlement_claim(market)
    amount = out.exact if as_json else out.money
    extra: dict[str, Any] = {"credited": amount(c.vault_balance() - before)}
    if claim:
        extra.update(claim=amount(claim), payout_if_the_window_closed_now=amount(payout), paid_after=_time(window_end))
    _report(c, f"settle {market.upper()}", result, as_json, extra)


@click.command()
@click.argument("amount")
@with_session
@json_option
def deposit(s: Session, amount: str, as_json: bool) -> None:
    """Deposit AMOUNT of the collateral token from your wallet into the vault (approving it first if needed)."""
    c = s.client(sign=True)
    value = token_amount(c, amount, "deposit amount")
    result = c.deposit(value)
    _report(c, "deposit", result, as_json, {"amount": f"{value:f}", "vault_balance": out.money(c.vault_balance())})


@click.command()
@click.argument("amount")
@with_session
@json_option
def withdraw(s: Session, amount: str, as_json: bool) -> None:
    """Withdraw AMOUNT of the collateral token from your free vault balance to your wallet."""
    c = s.client(sign=True)
    value = token_amount(c, amount, "withdraw amount")
    result = c.withdraw(value)
    _report(c, "withdraw", result, as_json, {"amount": f"{value:f}", "vault_balance": out.money(c.vault_balance())})


LOCAL_CHAIN_IDS = frozenset({1337, 31337, 31338})


@click.command()
@click.argument("amount")
@with_session
@json_option
def mint(s: Session, amount: str, as_json: bool) -> None:
    """Mint AMOUNT test tokens to your wallet: local chains only, where the collateral is the mock token."""
    c = s.client(sign=True)
    chain_id = c.addresses.chain_id
    if chain_id not in LOCAL_CHAIN_IDS:
        raise PerpError(f"mint: chain {chain_id} is not a local chain: its collateral is a real token (get it from a faucet)")
    value = token_amount(c, amount, "mint amount")
    units = int(value * 10**c.token_decimals)
    result = c.send(c.token.functions.mint(c.address, units), "mint")
    wallet = c.wallet_balance() * 10 ** (18 - c.token_decimals)
    _report(c, "mint", result, as_json, {"amount": f"{value:f}", "wallet": out.money(wallet)})


COMMANDS = [markets, account, quote, open_, close, margin, settle, deposit, withdraw, mint, history]
