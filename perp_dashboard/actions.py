"""Prepare what the page's wallet signs: validate, quote with perp_client's quote code, simulate as the trader.

The server never signs. For each action it returns the transactions to send (target and calldata, in
order) or one clear reason why not; a trade comes with the same quote the command line prints. Every
transaction is simulated (`eth_call` from the trader, on the pending block) and a revert comes back as
the protocol's error in words, so nothing is sent that the chain would refuse.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError

from perp_client import PerpClient, PerpError, Side
from perp_client.quote import Holding, QuoteError, simulate_close, simulate_reduce
from perp_client.tx import GAS_HEADROOM_FIXED, GAS_HEADROOM_PCT, revert_reason
from perp_client.units import (
    WAD,
    UnitError,
    fmt_pct,
    fmt_wad,
    from_units,
    mul_wad,
    to_units,
)
from perp_dashboard.views import words

MAX_SLIPPAGE = Decimal("0.5")
UNSIMULATED_GAS = 200_000  # a deposit right after its approval (the approval is not mined when it is prepared)


@dataclass(frozen=True)
class TxStep:
    """One transaction for the wallet: `label` says what it does."""

    label: str
    to: str
    data: str
    gas: int


@dataclass
class Prepared:
    """The transactions to send, in order, and what the page shows about them."""

    steps: list[TxStep] = field(default_factory=list)
    preview: dict[str, Any] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        return {"steps": [s.__dict__ for s in self.steps], "preview": self.preview}


def amount(value: Any, decimals: int, what: str) -> int:
    """A positive human amount from the form, exactly; PerpError('<what>: ...') otherwise."""
    text = str(value).strip() if value is not None else ""
    if not text:
        raise PerpError(f"{what}: enter an amount")
    try:
        units = to_units(text, decimals)
    except UnitError as exc:
        raise PerpError(f"{what}: {exc}") from None
    if units <= 0:
        raise PerpError(f"{what} must be positive, got {text}")
    return units


def fraction(value: Any, what: str, upper: Decimal) -> Decimal:
    try:
        x = Decimal(str(value).strip())
    except ArithmeticError:
        raise PerpError(f"{what}: not a number: {value!r}") from None
    if not x.is_finite() or x < 0 or x > upper:
        raise PerpError(f"{what} must be between 0 and {upper}, got {value}")
    return x


class Preparer:
    """Builds the page's transactions for `trader` over `client` (read-only: it has no key)."""

    def __init__(self, client: PerpClient, trader: str) -> None:
        if not Web3.is_address(trader):
            raise PerpError(f"not an address: {trader!r}")
        self.client = client
        self.trader = Web3.to_checksum_address(trader)

    def _step(self, fn: ContractFunction, label: str, simulate: bool = True) -> TxStep:
        """The transaction for `fn`, simulated as the trader first (unless an earlier step must run before it)."""
        gas = UNSIMULATED_GAS
        if simulate:
            try:
                fn.call({"from": self.trader}, block_identifier="pending")
                # head-room as perp_client's Signer: the first trade of a block writes a TWAP observation
                gas = int(fn.estimate_gas({"from": self.trader}, block_identifier="pending")) * GAS_HEADROOM_PCT // 100 + GAS_HEADROOM_FIXED
            except ContractLogicError as exc:
                raise PerpError(f"{label}: the protocol refuses: {words(revert_reason(exc, self.client.decoder))}") from None
        return TxStep(label, fn.address, fn._encode_transaction_data(), gas)

    def _open_market(self, symbol: str) -> Any:
        amm = self.client.amm(symbol)
        if amm.functions.isShutdown().call():
            raise PerpError(f"market {symbol.upper()} is halted: only settling is possible")
        if not amm.functions.open().call():
            raise PerpError(f"market {symbol.upper()} is closed")
        return amm

    def _need_cash(self, wad: int, label: str) -> None:
        free = self.client.vault_balance(self.trader)
        if wad > free:
            raise PerpError(f"{label}: insufficient vault balance: {fmt_wad(wad, 2)} needed, {fmt_wad(free, 2)} available (deposit first)")

    # --------------------------------------------------------------------------------------- vault

    def deposit(self, value: Any) -> Prepared:
        decimals = self.client.token_decimals
        units = amount(value, decimals, "deposit amount")
        held = self.client.wallet_balance(self.trader)
        if units > held:
            raise PerpError(f"deposit: insufficient wallet balance: {value} needed, {from_units(held, decimals):,f} held")
        token, vault = self.client.token.functions, self.client.vault
        steps = []
        allowance = token.allowance(self.trader, vault.address).call()
        if allowance < units:
            steps.append(self._step(token.approve(vault.address, units), "approve the vault"))
        steps.append(self._step(vault.functions.deposit(units), f"deposit {value}", simulate=allowance >= units))
        return Prepared(steps)

    def withdraw(self, value: Any) -> Prepared:
        decimals = self.client.token_decimals
        units = amount(value, decimals, "withdraw amount")
        free = int(self.client.vault.functions.balanceOf(self.trader).call())
        if units > free:
            raise PerpError(f"withdraw: insufficient vault balance: {value} asked, {from_units(free, decimals):,f} free")
        return Prepared([self._step(self.client.vault.functions.withdraw(units), f"withdraw {value}")])

    def mint(self, value: Any) -> Prepared:
        """Test tokens from the mock token (development chains only; the server checks)."""
        units = amount(value, self.client.token_decimals, "mint amount")
        return Prepared([self._step(self.client.token.functions.mint(self.trader, units), f"mint {value} test tokens")])

    # --------------------------------------------------------------------------------------- trading

    def quote(self, symbol: str, side: str, margin: Any, leverage: Any) -> dict[str, Any]:
        """The command line's quote, for the form's preview."""
        margin_wad = amount(margin, 18, "margin")
        leverage_wad = amount(leverage, 18, "leverage")
        q = self.client.quote_open(symbol, side, from_units(margin_wad, 18), from_units(leverage_wad, 18), self.trader)
        return {
            "symbol": q.symbol, "side": "long" if q.side == Side.BUY else "short",
            "notional_text": fmt_wad(q.notional, 2), "base_text": fmt_wad(q.exchanged_base, 6),
            "entry_text": fmt_wad(q.average_price), "impact_text": fmt_pct(q.price_impact, 3), "fee_text": fmt_wad(q.fee, 4),
            "mark_after_text": fmt_wad(q.spot_after), "size_after_text": fmt_wad(q.size_after, 6),
            "margin_ratio_after_text": fmt_pct(q.margin_ratio_after), "liquidation_text": fmt_wad(q.liquidation_price),
            "cash_text": fmt_wad(q.cash_required, 2), "exchanged_base": q.exchanged_base, "cash_required": q.cash_required,
            "margin": q.margin, "leverage": q.leverage, "side_int": int(q.side),
        }

    def open(self, symbol: str, side: str, margin: Any, leverage: Any, slippage: Any) -> Prepared:
        amm = self._open_market(symbol)
        tolerance = fraction(slippage, "slippage", MAX_SLIPPAGE)
        q = self.quote(symbol, side, margin, leverage)
        label = f"{q['side']} {symbol.upper()}"
        preview = {k: v for k, v in q.items() if k.endswith("_text") or k == "side"}
        self._need_cash(q["cash_required"], label)
        base = abs(q["exchanged_base"])
        slack = mul_wad(base, to_units(tolerance, 18))
        limit = base - slack if q["side_int"] == Side.BUY else base + slack
        fn = self.client.clearing_house.functions.openPosition(amm.address, q["side_int"], q["margin"], q["leverage"], limit)
        return Prepared([self._step(fn, label)], preview)

    def close(self, symbol: str, part: Any, slippage: Any) -> Prepared:
        """Close the whole position (`part` 1) or reduce it by that fraction of its size."""
        amm = self._open_market(symbol)
        share = fraction(part, "part to close", Decimal(1))
        if share == 0:
            raise PerpError("part to close must be more than 0")
        tolerance = to_units(fraction(slippage, "slippage", MAX_SLIPPAGE), 18)
        holding = self.client.holding(symbol, self.trader)
        if holding.size == 0:
            raise PerpError(f"close {symbol.upper()}: no position")
        pool = self.client.pool(symbol)
        label = f"close {symbol.upper()}"
        try:
            whole = simulate_close(pool, holding)
        except QuoteError as exc:
            raise PerpError(f"{label}: {exc}") from None
        if share == 1:
            notional = whole.exchanged_quote
            slack = mul_wad(notional, tolerance)
            limit = notional - slack if holding.size > 0 else notional + slack
            fn = self.client.clearing_house.functions.closePosition(amm.address, limit)
            return Prepared([self._step(fn, label)], {"notional_text": fmt_wad(notional, 2), "pnl_text": fmt_wad(whole.realized_pnl, 4)})
        # a partial close is a reduce: the opposite side, at 1x, for the quote that trades that share of the size
        base_out = mul_wad(abs(holding.size), to_units(share, 18))
        opposite = Side.SELL if holding.size > 0 else Side.BUY
        try:
            notional, reduce = simulate_reduce(pool, holding, base_out)
        except QuoteError as exc:
            raise PerpError(f"{label}: {exc}") from None
        self._need_cash(reduce.fee, label)
        base = abs(reduce.exchanged_size)
        slack = mul_wad(base, tolerance)
        limit = base - slack if opposite == Side.BUY else base + slack
        fn = self.client.clearing_house.functions.openPosition(amm.address, int(opposite), notional, WAD, limit)
        preview = {"notional_text": fmt_wad(notional, 2), "pnl_text": fmt_wad(reduce.realized_pnl, 4),
                   "size_after_text": fmt_wad(reduce.holding.size, 6)}
        return Prepared([self._step(fn, f"{label} {share * 100:f}%")], preview)

    def add_margin(self, symbol: str, value: Any) -> Prepared:
        amm = self._open_market(symbol)
        wad = amount(value, 18, "margin")
        if self.client.holding(symbol, self.trader).size == 0:
            raise PerpError(f"add margin {symbol.upper()}: no position")
        self._need_cash(wad, f"add margin {symbol.upper()}")
        return Prepared([self._step(self.client.clearing_house.functions.addMargin(amm.address, wad), f"add {value} margin on {symbol.upper()}")])

    def remove_margin(self, symbol: str, value: Any) -> Prepared:
        amm = self._open_market(symbol)
        wad = amount(value, 18, "margin")
        holding: Holding = self.client.holding(symbol, self.trader)
        if holding.size == 0:
            raise PerpError(f"remove margin {symbol.upper()}: no position")
        free = int(self.client.clearing_house.functions.getFreeCollateral(amm.address, self.trader).call())
        if wad > free:
            raise PerpError(f"remove margin {symbol.upper()}: at most {fmt_wad(max(free, 0), 2)} can be removed now")
        fn = self.client.clearing_house.functions.removeMargin(amm.address, wad)
        return Prepared([self._step(fn, f"remove {value} margin from {symbol.upper()}")])

    def settle(self, symbol: str) -> Prepared:
        amm = self.client.amm(symbol)
        if not amm.functions.isShutdown().call():
            raise PerpError(f"settle {symbol.upper()}: the market is not halted (close the position instead)")
        ch = self.client.clearing_house.functions
        claim = int(ch.getSettlementClaim(amm.address, self.trader).call()[0])
        if claim == 0 and ch.getPosition(amm.address, self.trader).call()[0] == 0:
            raise PerpError(f"settle {symbol.upper()}: no position")
        end = int(amm.functions.settlementWindowEnd().call())
        if claim and int(self.client.w3.eth.get_block("latest")["timestamp"]) < end:
            raise PerpError(f"settle {symbol.upper()}: your claim of {fmt_wad(claim, 2)} is registered; it is paid once the "
                            f"claim window closes ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(end))})")
        label = f"collect the {symbol.upper()} settlement" if claim else f"settle {symbol.upper()}"
        return Prepared([self._step(self.client.clearing_house.functions.settlePosition(amm.address), label)])

