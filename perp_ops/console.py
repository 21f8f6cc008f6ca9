"""Console helper: `from perp_ops.console import perp` in `brownie console`.

    >>> perp.deposit(alice, 1000)            # quote units; on a mock token the shortfall is minted first
    >>> perp.long("ETH", 100, 10, alice)     # margin 100 at 10x (base limit: 1 % worse than the quote)
    >>> perp.short("ETH", 100, 5, bob)
    >>> perp.position("ETH", alice)          # table: size, margin, PnL, margin ratio, liquidation price...
    >>> perp.market("ETH")                   # reserves, mark, index, TWAP, funding, open interest
    >>> perp.add_margin("ETH", 10, alice); perp.remove_margin("ETH", 10, alice)
    >>> perp.close("ETH", alice); perp.withdraw(alice, 50)

The deployment is loaded on first use: `deployments/<chainId>.json` on a live network, a fresh
`deploy_protocol(DEMO_CONFIG)` on a development network (recorded in deployments/<chainId>.json so that the
keeper bots can attach), or the one given to `perp.use(d)`. Bad input prints one `error: ...` line and
sends nothing; `Perp(strict=True)` raises PerpError instead.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from functools import cache
from pathlib import Path
from typing import Any

from brownie import (
    Amm,
    ChainlinkPriceFeed,
    ClearingHouse,
    InsuranceFund,
    MockERC20,
    Vault,
    network,
    web3,
)
from brownie._config import CONFIG
from brownie.exceptions import ContractNotFound, VirtualMachineError
from eth_account import Account
from web3 import Web3

from perp_client import Addresses, PerpClient, PerpError, Side
from perp_client.client import account_from_key
from perp_client.units import UnitError, fmt_wad, from_units, to_units
from perp_ops import deployments as rec
from perp_ops.deploy import DEMO_CONFIG, Deployment, deploy_protocol


def record_dev_deployment(d: Deployment) -> Path:
    """Write deployments/<chainId>.json for a development deployment (so bots and clients can attach)."""
    record = rec.DeploymentRecord(web3.eth.chain_id, network.show_active(), str(d.owner))
    roles = {
        "quote_token": d.quote_token, "vault": d.vault, "insurance_fund": d.insurance_fund,
        "clearing_house": d.clearing_house, "price_feed": d.price_feed,
        **{f"amm_{s}": a for s, a in d.amms.items()}, **{f"aggregator_{s}": a for s, a in d.aggregators.items()},
        **({"multicall": d.multicall} if d.multicall is not None else {}),
        **({"timelock": d.timelock} if d.timelock is not None else {}),
    }
    for role, contract in roles.items():
        tx = getattr(contract, "tx", None)
        record.contracts[role] = rec.ContractRecord(
            contract._name, contract.address, tx.block_number if tx else None, tx.txid if tx else None
        )
    record.complete = True
    return rec.save(record)


def _load_live(chain_id: int) -> tuple[Deployment, bool]:
    """The recorded deployment of `chain_id` as brownie contracts, and whether its token is a mock."""
    from perp_ops.live_deploy import skip_brownie_deployment_db

    skip_brownie_deployment_db()
    try:
        record = rec.load(chain_id)
    except rec.DeploymentFileError as exc:
        raise PerpError(str(exc)) from None
    if record is None or not record.complete:
        state = "no deployment" if record is None else "an unfinished deployment"
        raise PerpError(f"{state} for chain {chain_id} at {rec.deployment_file(chain_id)}: run scripts/deploy.py first")
    problems = rec.verify(record, web3.eth.get_code)
    if problems:
        raise PerpError(f"{record.path} is not on this chain ({problems[0]}): a local chain restarted or reset since it was "
                        "deployed? Deploy again (make deploy), or move the record away")
    c = record.contracts
    try:
        d = Deployment(
            MockERC20.at(c["quote_token"].address), Vault.at(c["vault"].address),
            InsuranceFund.at(c["insurance_fund"].address), ClearingHouse.at(c["clearing_house"].address),
            ChainlinkPriceFeed.at(c["price_feed"].address),
        )
    except KeyError as exc:
        raise PerpError(f"{record.path} is incomplete ({exc} missing): finish the deployment") from None
    for role, entry in c.items():
        if role.startswith("amm_"):
            d.amms[role[4:]] = Amm.at(entry.address)
    return d, not c["quote_token"].external


def addresses_of(d: Deployment) -> Addresses:
    """A brownie Deployment's addresses for perp_client, on the connected chain."""
    return Addresses(
        chain_id=web3.eth.chain_id,
        clearing_house=d.clearing_house.address,
        vault=d.vault.address,
        insurance_fund=d.insurance_fund.address,
        quote_token=d.quote_token.address,
        price_feed=d.price_feed.address,
        amms={s: a.address for s, a in d.amms.items()},
        multicall=d.multicall.address if d.multicall is not None else None,
    )


ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


@cache
def anvil_key(index: int) -> str:
    """The private key anvil gives accounts[index] on a local chain (its default mnemonic)."""
    Account.enable_unaudited_hdwallet_features()
    acct = Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return "0x" + bytes(acct.key).hex()


def client_for(d: Deployment, private_key: str | None = None) -> PerpClient:
    """A PerpClient (plain web3, its own connection) on brownie's chain for `d`, signing with `private_key`."""
    account = account_from_key(private_key) if private_key else None
    return PerpClient(Web3(Web3.HTTPProvider(web3.provider.endpoint_uri)), addresses_of(d), account)


class Perp:
    """Human-unit helpers over one deployment; see the module docstring."""

    def __init__(self, deployment: Deployment | None = None, strict: bool = False) -> None:
        self.strict = strict
        self._d = deployment
        self._mintable = deployment is not None
        self._client: PerpClient | None = None

    # ---------------------------------------------------------------------------------------- loading

    def use(self, deployment: Deployment, mintable: bool = True) -> None:
        """Work on `deployment` (e.g. the result of `run("deploy")`)."""
        self._d, self._mintable, self._client = deployment, mintable, None

    @property
    def d(self) -> Deployment:
        if self._d is None:
            if CONFIG.network_type == "live":
                self._d, self._mintable = _load_live(web3.eth.chain_id)
            else:
                print("perp: deploying a fresh protocol (DEMO_CONFIG) on the development network")
                with redirect_stdout(io.StringIO()):  # brownie's per-transaction lines
                    self._d, self._mintable = deploy_protocol(DEMO_CONFIG), True
                path = record_dev_deployment(self._d)
                print(f"perp: markets {', '.join(self._d.amms)}; addresses in {path}")
            self._client = None
        return self._d

    @property
    def client(self) -> PerpClient:
        """A read-only PerpClient on the same chain (the maths and the tables)."""
        if self._client is None:
            self._client = client_for(self.d)
        return self._client

    # ---------------------------------------------------------------------------------------- helpers

    @contextmanager
    def _guard(self, label: str) -> Iterator[None]:
        try:
            yield
        except (PerpError, UnitError, ValueError) as exc:
            self._error(label, str(exc))
        except VirtualMachineError as exc:
            self._error(label, exc.revert_msg or str(exc))
        except ContractNotFound as exc:
            self._error(label, f"{exc}: the chain does not hold this deployment (restarted or reset?); deploy again")

    def _error(self, label: str, message: str) -> None:
        text = message if message.startswith(label) else f"{label}: {message}"
        if self.strict:
            raise PerpError(text)
        print(f"error: {text}")

    def _amm(self, symbol: str) -> Any:
        self.client.amm(symbol)  # raises the readable "unknown market" error
        return self.d.amms[symbol.upper()]

    def _precheck(self, fn: Any, account: Any) -> None:
        reason = self.client.can(fn, account.address)
        if reason:
            raise PerpError(reason)

    def _summary(self, who: Any, label: str, tx: Any) -> None:
        events = self.client.decode_receipt(web3.eth.get_transaction_receipt(tx.txid))
        change = next((e for e in events if hasattr(e, "position_size_after")), None)
        if change is None:
            print(f"{who}: {label} (tx {tx.txid})")
            return
        print(
            f"{who}: {label}: size {fmt_wad(change.position_size_after, 6)} (exchanged {fmt_wad(change.exchanged_position_size, 6)} "
            f"for {fmt_wad(change.position_notional, 2)}), margin {fmt_wad(change.margin, 2)}, fee {fmt_wad(change.fee, 4)}, "
            f"realized PnL {fmt_wad(change.realized_pnl, 4)}, mark {fmt_wad(change.spot_price, 4)} (tx {tx.txid[:10]}…)"
        )

    # ---------------------------------------------------------------------------------------- vault

    def deposit(self, account: Any, amount: Any) -> None:
        """Deposit `amount` quote units; on a mock token the wallet's shortfall is minted first."""
        with self._guard("deposit"):
            d = self.d
            units = to_units(amount, self.client.token_decimals)
            if units <= 0:
                raise PerpError("the amount must be positive")
            held = d.quote_token.balanceOf(account)
            if held < units:
                if not self._mintable:
                    raise PerpError(f"insufficient wallet balance: {amount} needed, {from_units(held, self.client.token_decimals):f} held")
                d.quote_token.mint(account, units - held, {"from": account}, silent=True)
            d.quote_token.approve(d.vault, units, {"from": account}, silent=True)
            d.vault.deposit(units, {"from": account}, silent=True)
            print(f"{account}: deposited {amount}; vault balance {fmt_wad(d.vault.balanceOfWad(account), 2)}")

    def withdraw(self, account: Any, amount: Any) -> None:
        with self._guard("withdraw"):
            d = self.d
            units = to_units(amount, self.client.token_decimals)
            free = d.vault.balanceOf(account)
            if units <= 0 or units > free:
                raise PerpError(f"insufficient vault balance: {amount} asked, {from_units(free, self.client.token_decimals):f} free")
            d.vault.withdraw(units, {"from": account}, silent=True)
            print(f"{account}: withdrew {amount}; vault balance {fmt_wad(d.vault.balanceOfWad(account), 2)}")

    # ---------------------------------------------------------------------------------------- trading

    def long(self, symbol: str, margin: Any, leverage: Any, account: Any) -> None:
        """Open or add to a long: `margin` quote units at `leverage`x."""
        self._open(symbol, Side.BUY, margin, leverage, account)

    def short(self, symbol: str, margin: Any, leverage: Any, account: Any) -> None:
        self._open(symbol, Side.SELL, margin, leverage, account)

    def _open(self, symbol: str, side: Side, margin: Any, leverage: Any, account: Any) -> None:
        label = f"{'long' if side == Side.BUY else 'short'} {symbol.upper()}"
        with self._guard(label):
            amm = self._amm(symbol)
            q = self.client.quote_open(symbol, side, margin, leverage, account.address)
            balance = self.d.vault.balanceOfWad(account)
            if q.cash_required > balance:
                raise PerpError(
                    f"insufficient vault balance: {fmt_wad(q.cash_required, 2)} needed (margin + fee), "
                    f"{fmt_wad(balance, 2)} available; deposit first"
                )
            base = abs(q.exchanged_base)  # the base limit: 1 % worse than the quote
            limit = base - base // 100 if side == Side.BUY else base + base // 100
            fn = self.client.clearing_house.functions.openPosition(amm.address, int(side), q.margin, q.leverage, limit)
            self._precheck(fn, account)
            tx = self.d.clearing_house.openPosition(amm, int(side), q.margin, q.leverage, limit, {"from": account}, silent=True)
            self._summary(account, label, tx)

    def close(self, symbol: str, account: Any) -> None:
        label = f"close {symbol.upper()}"
        with self._guard(label):
            amm = self._amm(symbol)
            self._precheck(self.client.clearing_house.functions.closePosition(amm.address, 0), account)
            tx = self.d.clearing_house.closePosition(amm, 0, {"from": account}, silent=True)
            self._summary(account, label, tx)

    def add_margin(self, symbol: str, amount: Any, account: Any) -> None:
        label = f"add margin {symbol.upper()}"
        with self._guard(label):
            amm = self._amm(symbol)
            wad = to_units(amount, 18)
            balance = self.d.vault.balanceOfWad(account)
            if wad > balance:
                raise PerpError(f"insufficient vault balance: {amount} needed, {fmt_wad(balance, 2)} available")
            self._precheck(self.client.clearing_house.functions.addMargin(amm.address, wad), account)
            self.d.clearing_house.addMargin(amm, wad, {"from": account}, silent=True)
            print(f"{account}: added {amount} margin on {symbol.upper()}")

    def remove_margin(self, symbol: str, amount: Any, account: Any) -> None:
        label = f"remove margin {symbol.upper()}"
        with self._guard(label):
            amm = self._amm(symbol)
            wad = to_units(amount, 18)
            size, margin = self.d.clearing_house.getPosition(amm, account)[:2]
            if size == 0:
                raise PerpError("no position")
            if wad > margin:
                raise PerpError(f"the position holds {fmt_wad(margin, 2)} of margin, less than {amount}")
            self._precheck(self.client.clearing_house.functions.removeMargin(amm.address, wad), account)
            self.d.clearing_house.removeMargin(amm, wad, {"from": account}, silent=True)
            print(f"{account}: removed {amount} margin from {symbol.upper()}")

    # ---------------------------------------------------------------------------------------- views

    def position(self, symbol: str, account: Any) -> None:
        """Print the position table of `account` in `symbol`."""
        with self._guard(f"position {symbol.upper()}"):
            print(self.client.position(symbol, account.address).table())

    def market(self, symbol: str) -> None:
        """Print the market table of `symbol`."""
        with self._guard(f"market {symbol.upper()}"):
            print(self.client.market(symbol).table())

    def quote(self, symbol: str, side: str, margin: Any, leverage: Any, account: Any = None) -> None:
        """Print what `long`/`short` would do now (exact pool math), without sending anything."""
        with self._guard(f"quote {symbol.upper()}"):
            trader = account.address if account is not None else None
            print(self.client.quote_open(symbol, side, margin, leverage, trader).table())


perp = Perp()
