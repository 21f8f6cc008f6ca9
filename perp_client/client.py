"""PerpClient: read markets and positions, quote trades with the exact pool math, send transactions.

Plain web3.py; no brownie. Human amounts (quote units, leverage as a plain number) go in; wad integers
come out in typed snapshots (perp_client.models).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.exceptions import ValidationError
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD
from web3.types import BlockIdentifier, EventData, RPCEndpoint, TxReceipt

from perp_client import pool_math as pm
from perp_client.abi import ErrorDecoder, load_abi
from perp_client.batch import BatchReader, Outcome, find_multicall
from perp_client.deployment import Addresses, deployment_path, load_addresses
from perp_client.errors import PerpError
from perp_client.models import (
    FundingShortfall,
    FundingState,
    Market,
    Position,
    PositionChanged,
    PositionLiquidated,
    Quote,
    Side,
    TxResult,
)
from perp_client.quote import (
    Holding,
    Pool,
    QuoteError,
    TradeResult,
    liquidation_price,
    price_impact,
    simulate_close,
    simulate_open,
    simulate_reduce,
)
from perp_client.tx import PENDING, Signer, revert_reason
from perp_client.units import (
    WAD,
    Number,
    UnitError,
    from_units,
    mul_wad,
    to_units,
    to_wad,
)

T = TypeVar("T")
TWAP_INTERVAL = 15 * 60
LOG_CHUNK = 5_000


def _units(x: Number, decimals: int, what: str) -> int:
    try:
        value = to_units(x, decimals)
    except UnitError as exc:
        raise PerpError(f"{what}: {exc}") from None
    if value <= 0:
        raise PerpError(f"{what} must be positive, got {x}")
    return value


def account_from_key(private_key: str) -> LocalAccount:
    """A signing account; a PerpError (without the key in it) when the key is malformed."""
    try:
        return Account.from_key(private_key)
    except (ValueError, TypeError, ValidationError):
        raise PerpError("the private key is not valid (expected 32 bytes as hex, 0x-prefixed)") from None


def cache_chain_id(w3: Web3) -> None:
    """Let the provider remember `eth_chainId`: web3.py's validation asks it before every eth_call, which
    would double the round trips of every read."""
    provider = w3.provider
    if hasattr(provider, "cache_allowed_requests") and not provider.cache_allowed_requests:
        provider.cacheable_requests = {RPCEndpoint("eth_chainId")}
        provider.cache_allowed_requests = True


class PerpClient:
    """One chain, one deployment, optionally one signing key."""

    def __init__(self, w3: Web3, addresses: Addresses, account: LocalAccount | None = None, timeout: float = 120.0):
        cache_chain_id(w3)
        chain_id = w3.eth.chain_id
        if chain_id != addresses.chain_id:
            raise PerpError(f"wrong chain: the deployment is for chain {addresses.chain_id}, the RPC serves chain {chain_id}")
        self.w3 = w3
        self.addresses = addresses
        self.decoder = ErrorDecoder()
        self.clearing_house = self._contract("ClearingHouse", addresses.clearing_house)
        self.vault = self._contract("Vault", addresses.vault)
        self.token = self._contract("MockERC20", addresses.quote_token)
        self.amms = {s: self._contract("Amm", a) for s, a in addresses.amms.items()}
        self.signer = Signer(w3, account, self.decoder, timeout) if account else None
        self._decimals: int | None = None
        self._batch: BatchReader | None = None

    @classmethod
    def connect(
        cls, rpc_url: str, deployment: Path | None = None, private_key: str | None = None, timeout: float = 120.0
    ) -> PerpClient:
        """Connect to `rpc_url`, load `deployment` (default deployments/<chainId>.json), sign with `private_key`."""
        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
        if not w3.is_connected():
            raise PerpError(f"cannot reach an Ethereum node at {rpc_url}")
        path = deployment or deployment_path(w3.eth.chain_id)
        account = account_from_key(private_key) if private_key else None
        client = cls(w3, load_addresses(path), account, timeout)
        client.check_deployed(str(path))
        return client

    def check_deployed(self, source: str = "the deployment") -> None:
        """PerpError when the chain has no code at the deployment's ClearingHouse (one eth_getCode): the record
        is from another chain, or a local chain restarted or reset since it was written."""
        address = self.addresses.clearing_house
        if not self.w3.eth.get_code(Web3.to_checksum_address(address)):
            raise PerpError(
                f"{source} is not on this chain (chain {self.addresses.chain_id} has no contract at its ClearingHouse "
                f"{address}): a local chain restarted or reset since it was deployed? Deploy again (perp deploy), "
                "or point --deployment at the right file"
            )

    def _contract(self, name: str, address: str) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_abi(name))

    # ------------------------------------------------------------------------------------------ basics

    @property
    def symbols(self) -> list[str]:
        return list(self.amms)

    @property
    def address(self) -> str:
        """The signing account's address."""
        if self.signer is None:
            raise PerpError("no private key: this client can only read (set PRIVATE_KEY)")
        return self.signer.address

    def amm(self, symbol: str) -> Contract:
        try:
            return self.amms[symbol.upper()]
        except KeyError:
            raise PerpError(f"unknown market {symbol!r} (markets: {', '.join(self.symbols)})") from None

    def symbol_of(self, amm_address: str) -> str:
        for symbol, amm in self.amms.items():
            if amm.address.lower() == amm_address.lower():
                return symbol
        return amm_address

    @property
    def token_decimals(self) -> int:
        if self._decimals is None:
            self._decimals = int(self.token.functions.decimals().call())
        return self._decimals

    def token_text(self, wad: int, up: bool = False) -> str:
        """A wad amount of quote in the collateral token's units, as a person types it: rounded down to the token's
        decimals (up with `up`: an amount needed), no trailing zeros ('1798.4', '5010')."""
        scale = 10 ** (18 - self.token_decimals)
        units = -(-wad // scale) if up else wad // scale
        return f"{from_units(units, self.token_decimals).normalize():f}"

    def _trader(self, trader: str | None) -> str:
        return Web3.to_checksum_address(trader) if trader else self.address

    def block_timestamp(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    @property
    def batch(self) -> BatchReader:
        """Batched reads through the deployment's Multicall3 (or the canonical one; else one call each)."""
        if self._batch is None:
            self._batch = BatchReader(self.w3, find_multicall(self.w3, self.addresses.multicall))
        return self._batch

    def read(
        self, label: str, calls: list[ContractFunction], may_fail: frozenset[int] = frozenset(), block: BlockIdentifier = "latest"
    ) -> tuple[int, list[Any]]:
        """Every call's value, read at one block in as few round trips as the batch allows; returns (block,
        values). A revert is a PerpError('<label>: <reason>'), except for the calls at `may_fail`: None."""
        number, outcomes = self.batch.read(calls, block)
        values = []
        for i, o in enumerate(outcomes):
            if not o.ok and i not in may_fail:
                raise PerpError(f"{label}: {self.reason(o)}")
            values.append(o.value if o.ok else None)
        return number, values

    def reason(self, outcome: Outcome) -> str:
        """The decoded revert reason of a failed batched call."""
        return self.decoder.decode(outcome.error)

    # ------------------------------------------------------------------------------------------- reads

    def margin_ratios(self, block: BlockIdentifier = "latest") -> tuple[int, int]:
        """(initMarginRatio, maintenanceMarginRatio), wad."""
        f = self.clearing_house.functions
        return int(f.initMarginRatio().call(block_identifier=block)), int(
            f.maintenanceMarginRatio().call(block_identifier=block)
        )

    def pool(self, symbol: str, block: BlockIdentifier = "latest") -> Pool:
        f = self.amm(symbol).functions
        q, b = f.getReserve().call(block_identifier=block)
        return Pool(
            q,
            b,
            f.tollRatio().call(block_identifier=block),
            f.spreadRatio().call(block_identifier=block),
            f.tradeLimitRatio().call(block_identifier=block),
        )

    def _guarded(self, label: str, read: Callable[[], T]) -> T:
        """Run view calls; a revert (stale oracle, closed market...) becomes a one-line PerpError."""
        try:
            return read()
        except ContractLogicError as exc:
            raise PerpError(f"{label}: {revert_reason(exc, self.decoder)}") from None

    def market(self, symbol: str) -> Market:
        """Reserves, mark, index, TWAP, funding and open interest of one market, read at one block."""
        return self._guarded(f"market {symbol.upper()}", lambda: self._market(symbol))

    def _market(self, symbol: str) -> Market:
        amm = self.amm(symbol)
        f = amm.functions
        calls = [
            f.open(), f.getReserve(), f.tollRatio(), f.spreadRatio(), f.tradeLimitRatio(), f.getUnderlyingPrice(),
            f.getTwapPrice(TWAP_INTERVAL), f.fundingRate(), f.fundingPeriod(), f.nextFundingTime(), f.totalPositionSize(),
            self.clearing_house.functions.getFunding(amm.address),
        ]
        clock = self.batch.timestamp_call()
        n, v = self.read(f"market {symbol.upper()}", [*calls, *([clock] if clock is not None else [])])
        timestamp = v[12] if clock is not None else self.w3.eth.get_block(n)["timestamp"]
        pool = Pool(v[1][0], v[1][1], v[2], v[3], v[4])
        funding = FundingState(*(int(x) for x in v[11]))
        return Market(
            symbol=symbol.upper(),
            address=amm.address,
            open=bool(v[0]),
            quote_reserve=pool.quote_reserve,
            base_reserve=pool.base_reserve,
            mark_price=pool.spot,
            index_price=int(v[5]),
            twap_price=int(v[6]),
            funding_rate=int(v[7]),
            funding_period=int(v[8]),
            next_funding_time=int(v[9]),
            total_position_size=int(v[10]),
            toll_ratio=pool.toll_ratio,
            spread_ratio=pool.spread_ratio,
            trade_limit_ratio=pool.trade_limit_ratio,
            block_timestamp=int(timestamp),
            funding=funding,
            # the log query only once receivers have ever been paid less (the two cumulatives then differ)
            last_shortfall=self._last_shortfall(symbol, n) if funding.receivers_cut else None,
        )

    def funding(self, symbol: str, block: BlockIdentifier = "latest") -> FundingState:
        """The ClearingHouse's funding ledger of a market at `block`: both sides' cumulatives and sizes."""
        f = self.clearing_house.functions.getFunding(self.amm(symbol).address).call(block_identifier=block)
        return FundingState(int(f[0]), int(f[1]), int(f[2]), int(f[3]))

    def funding_shortfalls(self, from_block: int | None = None, to_block: int | None = None,
                           symbol: str | None = None) -> list[FundingShortfall]:
        """Every FundingShortfall (receivers paid less) in a block range (default: since the deployment)."""
        return [
            FundingShortfall(amm=e["args"]["amm"], owed_to_receivers=int(e["args"]["owedToReceivers"]),
                             paid=int(e["args"]["paid"]), block_number=int(e["blockNumber"]),
                             tx_hash="0x" + bytes(e["transactionHash"]).hex())
            for e in self._logs("FundingShortfall", from_block, to_block, symbol)
        ]

    def _last_shortfall(self, symbol: str, block: int) -> FundingShortfall | None:
        """The latest FundingShortfall of the market within the last LOG_CHUNK blocks (one log query)."""
        found = self.funding_shortfalls(max(block - LOG_CHUNK + 1, 0), block, symbol)
        return found[-1] if found else None

    def market_state(self, symbol: str, paused: bool) -> str:
        """What a person is told of a market: halted (shut down: settle only), closed (not trading, may reopen),
        paused (the whole exchange, `paused` from the ClearingHouse) or open."""
        f = self.amm(symbol).functions
        if f.isShutdown().call():
            return "halted"
        if not f.open().call():
            return "closed"
        return "paused" if paused else "open"

    def markets(self) -> list[Market]:
        return [self.market(s) for s in self.symbols]

    def holding(self, symbol: str, trader: str | None = None, block: BlockIdentifier = "latest") -> Holding:
        """The stored position with the funding it owes now."""
        amm = self.amm(symbol)
        size, margin, open_notional, last = self.clearing_house.functions.getPosition(
            amm.address, self._trader(trader)
        ).call(block_identifier=block)
        funding = self.funding(symbol, block).payment(size, last)
        return Holding(size, margin, open_notional, funding)

    def owed_to_positions(self, symbol: str, traders: Iterable[str], block: BlockIdentifier = "latest") -> tuple[int, int]:
        """(what the open positions of `traders` in `symbol` are worth to them now: margin + unrealized PnL at
        the spot price - funding owed, each floored at 0, in wad; how many of them hold a position), read in
        one batch at one block. A trader without a position (or closed meanwhile) counts nothing. The
        operator's status and the dashboard both weigh a market's booked collateral against this."""
        amm = self.amm(symbol)
        ch = self.clearing_house.functions
        who = sorted(set(traders))
        calls = [ch.getFunding(amm.address)]
        for t in who:
            calls += [ch.getPosition(amm.address, t), ch.getPositionNotionalAndUnrealizedPnl(amm.address, t, 0)]
        may_fail = frozenset(range(2, len(calls), 2))  # the PnL of no position reverts (NoPosition)
        _, values = self.read(f"{symbol} positions", calls, may_fail=may_fail, block=block)
        total, count = 0, 0
        for i in range(len(who)):
            stored, pnl = values[1 + 2 * i], values[2 + 2 * i]
            holding = _holding(stored, values[0])
            if holding.size == 0 or pnl is None:
                continue
            total += max(holding.margin + int(pnl[1]) - holding.funding_payment, 0)
            count += 1
        return total, count

    def position(self, symbol: str, trader: str | None = None) -> Position:
        """`trader`'s position (default: the signer's), valued at one block, with its liquidation price."""
        return self._guarded(f"position {symbol.upper()}", lambda: self._position(symbol, trader))

    def _position(self, symbol: str, trader: str | None) -> Position:
        who = self._trader(trader)
        amm = self.amm(symbol)
        ch, f = self.clearing_house.functions, amm.functions
        calls = [
            ch.getPosition(amm.address, who), ch.getFunding(amm.address),
            ch.getPositionNotionalAndUnrealizedPnl(amm.address, who, 0), ch.getMarginRatio(amm.address, who),
            ch.maintenanceMarginRatio(), ch.getFreeCollateral(amm.address, who), self.vault.functions.balanceOfWad(who),
            f.getReserve(), f.tollRatio(), f.spreadRatio(), f.tradeLimitRatio(),
        ]
        # one round trip with a multicall; the margin ratio of no position reverts (NoPosition)
        _, v = self.read(f"position {symbol.upper()}", calls, may_fail=frozenset({3}))
        stored, funding, (notional, pnl), ratio, mmr, free, balance, reserve, toll, spread, limit = v
        size, margin, open_notional, last = stored
        holding = _holding(stored, funding)
        if size and ratio is None:  # a revert of a real position's ratio: say why
            _, (ratio,) = self.read(f"position {symbol.upper()}", [calls[3]])
        return Position(
            symbol=symbol.upper(),
            trader=who,
            size=size,
            margin=margin,
            open_notional=open_notional,
            last_cumulative_premium_fraction=last,
            position_notional=notional,
            unrealized_pnl=pnl,
            funding_payment=holding.funding_payment,
            margin_ratio=int(ratio) if size else None,
            free_collateral=int(free),
            liquidation_price=liquidation_price(holding, Pool(reserve[0], reserve[1], toll, spread, limit), int(mmr)),
            vault_balance=int(balance),
        )

    def vault_balance(self, trader: str | None = None) -> int:
        """Free vault balance in wad."""
        return int(self.vault.functions.balanceOfWad(self._trader(trader)).call())

    def wallet_balance(self, trader: str | None = None) -> int:
        """Quote-token balance of the wallet, token units."""
        return int(self.token.functions.balanceOf(self._trader(trader)).call())

    # ------------------------------------------------------------------------------------------ quotes

    def quote_open(self, symbol: str, side: Side | str, margin: Number, leverage: Number, trader: str | None = None) -> Quote:
        """What openPosition would do now: base, average price, impact, fee, margin ratio, liquidation price.

        `trader` (default: the signer; none = a fresh position) decides whether it increases, reduces or reverses.
        """
        try:
            s = Side.parse(side)
        except ValueError as exc:
            raise PerpError(str(exc)) from None
        margin_wad = _units(margin, 18, "margin")
        leverage_wad = _units(leverage, 18, "leverage")
        amm = self.amm(symbol)
        ch, f = self.clearing_house.functions, amm.functions
        who = trader or (self.signer.address if self.signer else None)
        calls = [ch.initMarginRatio(), ch.maintenanceMarginRatio(), f.getReserve(), f.tollRatio(), f.spreadRatio(), f.tradeLimitRatio()]
        if who:
            calls += [ch.getPosition(amm.address, Web3.to_checksum_address(who)), ch.getFunding(amm.address)]
        _, v = self.read(f"quote {symbol.upper()}", calls)  # one round trip with a multicall
        imr, mmr = int(v[0]), int(v[1])
        if WAD * WAD // leverage_wad < imr:
            raise PerpError(f"leverage {leverage} is too high: the maximum is {Decimal(WAD) / imr:.2f}x")
        pool = Pool(int(v[2][0]), int(v[2][1]), int(v[3]), int(v[4]), int(v[5]))
        old = _holding(v[6], v[7]) if who else Holding()
        try:
            result = simulate_open(pool, old, s == Side.BUY, margin_wad, leverage_wad)
        except QuoteError as exc:
            raise PerpError(f"{symbol.upper()}: {exc}") from None
        after = result.holding
        base = result.exchanged_size
        ratio = (
            pm.margin_ratio(after.size, after.margin, after.open_notional, 0, result.pool_after.quote_reserve, result.pool_after.base_reserve)
            if after.size
            else None
        )
        return Quote(
            symbol=symbol.upper(),
            side=s,
            margin=margin_wad,
            leverage=leverage_wad,
            notional=result.exchanged_quote,
            exchanged_base=base,
            average_price=result.exchanged_quote * WAD // abs(base) if base else 0,
            price_impact=price_impact(pool.spot, result.pool_after.spot),
            fee=result.fee,
            spot_before=pool.spot,
            spot_after=result.pool_after.spot,
            size_after=after.size,
            margin_after=after.margin,
            open_notional_after=after.open_notional,
            margin_ratio_after=ratio,
            liquidation_price=liquidation_price(after, result.pool_after, mmr),
            cash_required=result.margin_to_vault + result.fee,
            realized_pnl=result.realized_pnl,
        )

    # ------------------------------------------------------------------------------------------ writes

    def _send(self, fn: ContractFunction, label: str) -> TxResult:
        if self.signer is None:
            raise PerpError(f"{label}: no private key (set PRIVATE_KEY)")
        receipt = self.signer.send(fn, label)
        return TxResult(
            tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
            events=self.decode_receipt(receipt),
        )

    def send(self, fn: ContractFunction, label: str) -> TxResult:
        """Simulate, sign, send and wait for any contract call (e.g. a mock token's `mint`)."""
        return self._send(fn, label)

    def _require_open(self, symbol: str) -> Contract:
        amm = self.amm(symbol)
        if not amm.functions.open().call():
            raise PerpError(f"market {symbol.upper()} is closed")
        return amm

    def _require_cash(self, needed_wad: int, label: str) -> None:
        available = self.vault_balance()
        if needed_wad > available:
            raise PerpError(
                f"{label}: insufficient vault balance: {self.token_text(needed_wad, up=True)} needed, "
                f"{self.token_text(available)} available (deposit first)"
            )

    def deposit(self, amount: Number) -> TxResult:
        """Deposit `amount` quote tokens (human units) from the wallet into the vault (approving first if needed)."""
        units = _units(amount, self.token_decimals, "deposit amount")
        held = self.wallet_balance()
        if units > held:
            raise PerpError(
                f"deposit: insufficient wallet balance: {amount} needed, {from_units(held, self.token_decimals):f} held"
            )
        allowance = self.token.functions.allowance(self.address, self.vault.address).call()
        if allowance < units:
            self._send(self.token.functions.approve(self.vault.address, units), "approve")
        return self._send(self.vault.functions.deposit(units), "deposit")

    def withdraw(self, amount: Number) -> TxResult:
        """Withdraw `amount` quote tokens (human units) from the free vault balance."""
        units = _units(amount, self.token_decimals, "withdraw amount")
        available = int(self.vault.functions.balanceOf(self.address).call())
        if units > available:
            raise PerpError(
                f"withdraw: insufficient vault balance: {amount} asked, "
                f"{from_units(available, self.token_decimals):f} free"
            )
        return self._send(self.vault.functions.withdraw(units), "withdraw")

    def open_position(
        self, symbol: str, side: Side | str, margin: Number, leverage: Number, slippage: Number | None = "0.01"
    ) -> TxResult:
        """openPosition with a base limit `slippage` (a fraction, default 1 %) worse than the quote."""
        amm = self._require_open(symbol)
        quote = self.quote_open(symbol, side, margin, leverage)
        label = f"{'long' if quote.side == Side.BUY else 'short'} {symbol.upper()}"
        self._require_cash(quote.cash_required, label)
        limit = 0
        if slippage is not None and quote.exchanged_base:
            tolerance = to_wad(slippage)
            base = abs(quote.exchanged_base)
            limit = base - mul_wad(base, tolerance) if quote.side == Side.BUY else base + mul_wad(base, tolerance)
        fn = self.clearing_house.functions.openPosition(amm.address, int(quote.side), quote.margin, quote.leverage, limit)
        return self._send(fn, label)

    def close_position(self, symbol: str, slippage: Number | None = "0.01") -> TxResult:
        amm = self._require_open(symbol)
        holding = self.holding(symbol)
        if holding.size == 0:
            raise PerpError(f"close {symbol.upper()}: no position")
        limit = 0
        if slippage is not None:
            try:
                notional = simulate_close(self.pool(symbol), holding).exchanged_quote
            except QuoteError as exc:
                raise PerpError(f"close {symbol.upper()}: {exc}") from None
            tolerance = mul_wad(notional, to_wad(slippage))
            limit = notional - tolerance if holding.size > 0 else notional + tolerance
        return self._send(self.clearing_house.functions.closePosition(amm.address, limit), f"close {symbol.upper()}")

    def add_margin(self, symbol: str, amount: Number) -> TxResult:
        amm = self.amm(symbol)
        wad = _units(amount, 18, "margin")
        self._require_cash(wad, f"add margin {symbol.upper()}")
        return self._send(self.clearing_house.functions.addMargin(amm.address, wad), f"add margin {symbol.upper()}")

    def remove_margin(self, symbol: str, amount: Number) -> TxResult:
        amm = self.amm(symbol)
        wad = _units(amount, 18, "margin")
        holding = self.holding(symbol)
        if holding.size == 0:
            raise PerpError(f"remove margin {symbol.upper()}: no position")
        margin = holding.margin
        if wad > margin:
            raise PerpError(f"remove margin {symbol.upper()}: the position holds {self.token_text(margin)} of margin, less than {amount}")
        most = self.removable_margin(symbol)
        if wad > most:
            raise PerpError(
                f"remove margin {symbol.upper()}: {amount} asked, at most {self.token_text(most)} can be removed now "
                "(the free collateral: the margin above the initial margin ratio, unrealized losses and funding counted)"
            )
        fn = self.clearing_house.functions.removeMargin(amm.address, wad)
        return self._send(fn, f"remove margin {symbol.upper()}")

    def liquidate(self, symbol: str, trader: str) -> TxResult:
        amm = self.amm(symbol)
        fn = self.clearing_house.functions.liquidate(amm.address, Web3.to_checksum_address(trader))
        return self._send(fn, f"liquidate {trader} on {symbol.upper()}")

    def pay_funding(self, symbol: str) -> TxResult:
        amm = self.amm(symbol)
        return self._send(self.clearing_house.functions.payFunding(amm.address), f"pay funding {symbol.upper()}")

    def quote_reduce(self, symbol: str, size: Number, trader: str | None = None) -> tuple[int, TradeResult]:
        """A partial close of `size` base (human units; less than the position): the quote notional of the
        reduce-only trade and what it does (perp_client.quote.simulate_reduce)."""
        label = f"close {symbol.upper()}"
        base = _units(size, 18, "size")
        holding = self.holding(symbol, trader)
        if holding.size == 0:
            raise PerpError(f"{label}: no position")
        if base >= abs(holding.size):
            raise PerpError(
                f"{label}: {size} is not less than the position's size {from_units(abs(holding.size), 18):f}: "
                "close without a size to close it all"
            )
        try:
            return simulate_reduce(self.pool(symbol), holding, base)
        except QuoteError as exc:
            raise PerpError(f"{label}: {exc}") from None

    def reduce_position(self, symbol: str, size: Number, slippage: Number | None = "0.01") -> TxResult:
        """Close `size` base of the position, reduce-only: openPosition on the opposite side at 1x for the quote
        that trades that size now, the base limit `slippage` worse and never beyond the position's size."""
        amm = self._require_open(symbol)
        label = f"close {symbol.upper()}"
        notional, result = self.quote_reduce(symbol, size)
        self._require_cash(result.fee, label)
        holding_size = abs(self.holding(symbol).size)
        base = abs(result.exchanged_size)
        is_long = result.exchanged_size > 0  # the reducing trade's side
        limit = base
        if slippage is not None:
            slack = mul_wad(base, to_wad(slippage))
            limit = base - slack if is_long else min(base + slack, holding_size)
        side = Side.BUY if is_long else Side.SELL
        fn = self.clearing_house.functions.openPosition(amm.address, int(side), notional, WAD, limit)
        return self._send(fn, label)

    def removable_margin(self, symbol: str, trader: str | None = None) -> int:
        """The most margin (wad) that removeMargin accepts now: the free collateral, at most the margin, never < 0."""
        amm = self.amm(symbol)
        who = self._trader(trader)
        margin = self.holding(symbol, who).margin
        free = int(self.clearing_house.functions.getFreeCollateral(amm.address, who).call(block_identifier=PENDING))
        return max(min(free, margin), 0)

    def settlement_claim(self, symbol: str, trader: str | None = None) -> tuple[int, int, int]:
        """(claim, payout, window end) of `trader` in a halted market: the registered, unpaid claim and its payout
        (wad; the payout is final once the window has closed) and when the claim window closes (unix time)."""
        amm = self.amm(symbol)
        claim, payout = self.clearing_house.functions.getSettlementClaim(amm.address, self._trader(trader)).call()
        window_end = int(self.clearing_house.functions.getSettlement(amm.address).call()[0])
        return int(claim), int(payout), window_end

    def settle_position(self, symbol: str) -> TxResult:
        """settlePosition after the market halted (shut down). In the claim window it registers the position's value
        at the settlement price (funding owed included) as a claim; after the window it pays the registered claim's
        share, or settles a position first seen then, into the vault balance (README, "Settlement is fair")."""
        amm = self.amm(symbol)
        label = f"settle {symbol.upper()}"
        if not amm.functions.isShutdown().call():
            raise PerpError(f"{label}: the market is not halted: close the position instead")
        if self.holding(symbol).size == 0:
            claim, _, window_end = self.settlement_claim(symbol)
            if claim == 0:
                raise PerpError(f"{label}: no position and no claim to settle")
            now = int(self.w3.eth.get_block("latest")["timestamp"])
            if now < window_end:
                raise PerpError(f"{label}: your claim is registered; it is paid after the claim window closes at "
                                f"{window_end} (in {window_end - now} s)")
        return self._send(self.clearing_house.functions.settlePosition(amm.address), label)

    def can(self, fn: ContractFunction, sender: str | None = None) -> str | None:
        """None when `fn` would succeed as `sender` (on the pending block); else the decoded reason."""
        try:
            fn.call({"from": self._trader(sender)}, block_identifier=PENDING)
        except ContractLogicError as exc:
            return revert_reason(exc, self.decoder)
        return None

    # ------------------------------------------------------------------------------------------ events

    def decode_receipt(self, receipt: TxReceipt) -> tuple[PositionChanged | PositionLiquidated, ...]:
        """The PositionChanged / PositionLiquidated events of a receipt, in log order."""
        events = self.clearing_house.events
        found: list[EventData] = [
            *events.PositionLiquidated().process_receipt(receipt, errors=DISCARD),
            *events.PositionChanged().process_receipt(receipt, errors=DISCARD),
        ]
        found.sort(key=lambda e: e["logIndex"])
        return tuple(_event(e) for e in found)

    def _logs(self, event: str, from_block: int | None, to_block: int | None, symbol: str | None) -> list[EventData]:
        start = self.addresses.start_block if from_block is None else from_block
        end = self.w3.eth.block_number if to_block is None else to_block
        filters: dict[str, Any] = {"amm": self.amm(symbol).address} if symbol else {}
        out: list[EventData] = []
        for lo in range(start, end + 1, LOG_CHUNK):
            hi = min(lo + LOG_CHUNK - 1, end)
            out.extend(getattr(self.clearing_house.events, event).get_logs(argument_filters=filters, from_block=lo, to_block=hi))
        return out

    def position_changes(self, from_block: int | None = None, to_block: int | None = None, symbol: str | None = None) -> list[PositionChanged]:
        """Every PositionChanged in a block range (default: since the deployment)."""
        return [_event(e) for e in self._logs("PositionChanged", from_block, to_block, symbol)]  # type: ignore[misc]

    def liquidations(self, from_block: int | None = None, to_block: int | None = None, symbol: str | None = None) -> list[PositionLiquidated]:
        return [_event(e) for e in self._logs("PositionLiquidated", from_block, to_block, symbol)]  # type: ignore[misc]


def _holding(stored: tuple[int, int, int, int], funding: Sequence[int]) -> Holding:
    """A Holding from getPosition's answer and the market's getFunding (each side reads its own cumulative)."""
    size, margin, open_notional, last = stored
    return Holding(size, margin, open_notional, FundingState(*(int(x) for x in funding)).payment(size, last))


def _event(e: EventData) -> PositionChanged | PositionLiquidated:
    a = e["args"]
    meta = {"block_number": int(e["blockNumber"]), "tx_hash": "0x" + bytes(e["transactionHash"]).hex()}
    if e["event"] == "PositionLiquidated":
        return PositionLiquidated(
            trader=a["trader"], amm=a["amm"], position_notional=a["positionNotional"], position_size=a["positionSize"],
            liquidation_fee=a["liquidationFee"], liquidator=a["liquidator"], bad_debt=a["badDebt"], **meta,
        )
    return PositionChanged(
        trader=a["trader"], amm=a["amm"], margin=a["margin"], position_notional=a["positionNotional"],
        exchanged_position_size=a["exchangedPositionSize"], fee=a["fee"], position_size_after=a["positionSizeAfter"],
        realized_pnl=a["realizedPnl"], unrealized_pnl_after=a["unrealizedPnlAfter"], bad_debt=a["badDebt"],
        liquidation_penalty=a["liquidationPenalty"], spot_price=a["spotPrice"], funding_payment=a["fundingPayment"],
        **meta,
    )

