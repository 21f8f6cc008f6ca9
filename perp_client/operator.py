"""Operator logic for a live deployment: status, timelocked changes, the guardian's pause (docs/operations.md).

Typed, on plain web3.py through `PerpClient`, with no command-line dependency; `python -m perp_client.operator`
is a thin entry point over it (`status` exits 1 when something needs a person).

- `Operator.status()`: per market open / closed / halted, mark, index and its age against the feed's
  `maxStaleness`, the funding rate and the next funding time, open interest, the collateral the market holds
  against what its open positions are worth to their traders (from the event index and one batched read), the
  bad debt it has had; the pause flag, the InsuranceFund's balance, surplus and bad debt still to pay; and the
  list of problems that need a person.
- `plan` / `schedule` / `pending` / `execute` / `cancel`: an owner call through the TimelockController; a
  plan prints the exact call (target, function, arguments, calldata, operation id) and a before / after
  table of the parameters it changes.
- `pause`: the guardian's (or the owner's) `ClearingHouse.pause()`; unpausing is the owner's: `plan_unpause()`.
- `top_up(amount)`: the operator's tokens into the InsuranceFund (approve, then `InsuranceFund.deposit`).
Bad input (an unknown role or function, wrong arguments, an operation not pending) is a PerpError, nothing sent.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError, MismatchedABI

from perp_client.abi import load_abi
from perp_client.client import PerpClient
from perp_client.deployment import deployment_path
from perp_client.errors import PerpError
from perp_client.index import EventIndex
from perp_client.tx import revert_reason
from perp_client.units import (
    Number,
    UnitError,
    fmt_pct,
    fmt_wad,
    from_units,
    to_units,
)

WAD = 10**18
ZERO32 = "0x" + "00" * 32
# how late a funding payment may be before it needs a person (the keeper is down)
FUNDING_GRACE = 15 * 60
# role in deployments/<chainId>.json -> contract name (ABI)
ROLE_CONTRACT = {
    "clearing_house": "ClearingHouse",
    "vault": "Vault",
    "insurance_fund": "InsuranceFund",
    "price_feed": "ChainlinkPriceFeed",
    "timelock": "TimelockController",
}


def _feed_key(symbol: str) -> bytes:
    return symbol.encode().ljust(32, b"\0")


@dataclass(frozen=True)
class MarketStatus:
    symbol: str
    address: str
    state: str  # "open", "closed" (not trading, may reopen) or "halted" (shut down for good: settle only)
    mark_price: int
    index_price: int | None  # None: the feed refuses (stale, incomplete, non-positive)
    index_age: int | None  # seconds since the feed's last update
    max_staleness: int  # 0: unchecked
    funding_rate: int
    next_funding_time: int
    open_interest_notional: int
    collateral: int  # wad booked for this market's positions
    owed: int | None = None  # wad: what its open positions are worth to their traders now (None: halted)
    positions: int = 0  # open positions counted in `owed`
    bad_debt: int = 0  # wad: the bad debt its positions have left so far (the PositionChanged events)

    @property
    def shortfall(self) -> int:
        """How much more its open positions are worth than the market holds (the fund prepays it at payout)."""
        return max((self.owed or 0) - self.collateral, 0)


@dataclass(frozen=True)
class Status:
    block: int
    timestamp: int
    paused: bool
    fund_balance: int
    fund_surplus: int
    markets: list[MarketStatus]
    problems: list[str] = field(default_factory=list)
    sequencer: str = "no sequencer uptime feed (an L1 or a local chain)"
    bad_debt_owed: int = 0  # wad: bad debt the InsuranceFund still has to pay (a halted market's)

    @property
    def needs_person(self) -> bool:
        return bool(self.problems)

    def table(self) -> str:
        head = (f"{'market':<7} {'state':<7} {'mark':>12} {'index':>12} {'age':>7} {'funding':>9} "
                f"{'next in':>8} {'open interest':>15} {'collateral':>14} {'owed':>14} {'bad debt':>12}")
        title = (f"block {self.block} · trading {'PAUSED' if self.paused else 'on'} · insurance fund "
                 f"{fmt_wad(self.fund_balance, 2)} (surplus {fmt_wad(self.fund_surplus, 2)}, "
                 f"bad debt to pay {fmt_wad(self.bad_debt_owed, 2)})")
        rows = [title, f"sequencer: {self.sequencer}", head]
        for m in self.markets:
            rows.append(
                f"{m.symbol:<7} {m.state:<7} {fmt_wad(m.mark_price, 2):>12} "
                f"{(fmt_wad(m.index_price, 2) if m.index_price is not None else 'refused'):>12} "
                f"{(f'{m.index_age}s' if m.index_age is not None else '?'):>7} {fmt_pct(m.funding_rate, 4):>9} "
                f"{max(m.next_funding_time - self.timestamp, 0):>7}s {fmt_wad(m.open_interest_notional, 2):>15} "
                f"{fmt_wad(m.collateral, 2):>14} {(fmt_wad(m.owed, 2) if m.owed is not None else 'settling'):>14} "
                f"{fmt_wad(m.bad_debt, 2):>12}"
            )
        rows.append("owed: what the open positions are worth to their traders now (margin + PnL - funding); "
                    "the InsuranceFund prepays what a market holds less than that when it is paid out")
        rows += [f"NEEDS A PERSON: {p}" for p in self.problems] or ["all fine"]
        return "\n".join(rows)


@dataclass(frozen=True)
class PlannedCall:
    """One owner call as the timelock will make it."""

    role: str
    target: str
    function: str
    args: tuple[Any, ...]
    data: str
    salt: str
    operation_id: str
    changes: tuple[tuple[str, str, str], ...] = ()  # (parameter, now, after the call), human units

    def describe(self) -> str:
        args = ", ".join(str(a) for a in self.args)
        return f"{self.role} ({self.target}).{self.function}({args})  calldata {self.data}  operation {self.operation_id}"

    def table(self) -> str:
        """The parameters the call changes, now and after it (human units); one line when it reads none."""
        if not self.changes:
            return f"{self.function}: no parameter of {self.role} to compare (see the call above)"
        width = max(len(c[0]) for c in self.changes)
        now_w = max(len("now"), *(len(c[1]) for c in self.changes))
        rows = [f"{'parameter':<{width}}  {'now':>{now_w}}  after"]
        rows += [f"{name:<{width}}  {before:>{now_w}}  {after}{'' if before != after else '  (unchanged)'}"
                 for name, before, after in self.changes]
        return "\n".join(rows)


@dataclass(frozen=True)
class PendingOperation:
    operation_id: str
    target: str
    data: str
    predecessor: str
    salt: str
    ready_at: int
    ready: bool
    description: str


class Operator:
    """Status and governance of one deployment, through a PerpClient (signing as the operator's key)."""

    def __init__(self, client: PerpClient, contracts: dict[str, str]):
        self.client = client
        self.w3 = client.w3
        self.contracts = {role: Web3.to_checksum_address(a) for role, a in contracts.items()}
        self.insurance_fund = self._contract("insurance_fund")
        self.price_feed = self._contract("price_feed")
        self.timelock = self._contract("timelock") if "timelock" in self.contracts else None

    @classmethod
    def from_record(cls, client: PerpClient, path: Path | None = None) -> Operator:
        path = path or deployment_path(client.addresses.chain_id)
        data = json.loads(path.read_text())
        return cls(client, {role: str(c["address"]) for role, c in data["contracts"].items()})

    def _contract(self, role: str) -> Contract:
        name = ROLE_CONTRACT.get(role) or ("Amm" if role.startswith("amm_") else None)
        if name is None or role not in self.contracts:
            raise PerpError(f"unknown contract role {role!r} (roles: {', '.join(sorted(self.contracts))})")
        return self.w3.eth.contract(address=self.contracts[role], abi=load_abi(name))

    # -------------------------------------------------------------------------------------------- status

    def status(self, index: EventIndex | None = None) -> Status:
        """The deployment now. `index`: the event index to find open positions and past bad debt in (synced
        first); default: the client's index file (`perp_client.index.default_index_path`)."""
        own = index is None
        index = EventIndex.open(self.client) if index is None else index
        try:
            index.sync()
            return self._status(index)
        finally:
            if own:
                index.close()

    def _status(self, events: EventIndex) -> Status:
        block = self.w3.eth.get_block("latest")
        now = int(block["timestamp"])
        ch = self.client.clearing_house.functions
        problems: list[str] = []
        paused = bool(ch.paused().call())
        if paused:
            problems.append("trading is paused: find out why, then schedule unpause() through the timelock")
        balance = int(self.insurance_fund.functions.fundBalance().call())
        surplus = int(self.insurance_fund.functions.surplus().call())
        bad_debt_owed = int(self.insurance_fund.functions.badDebtOwed().call())
        if balance == 0:
            problems.append("the InsuranceFund is empty: a market halts at its first bad debt; top it up")
        if bad_debt_owed:
            problems.append(f"the InsuranceFund still owes {fmt_wad(bad_debt_owed, 2)} of a halted market's bad debt: "
                            "top it up (perp_client.operator top-up)")
        sequencer = self._sequencer(now, problems)
        markets = []
        for symbol, amm in self.client.amms.items():
            f = amm.functions
            halted = bool(f.isShutdown().call())
            is_open = bool(f.open().call())
            state = "halted" if halted else "open" if is_open else "closed"
            aggregator, _, max_staleness = self.price_feed.functions.getAggregator(_feed_key(symbol)).call()
            agg = self.w3.eth.contract(address=aggregator, abi=load_abi("MockAggregator"))
            age = now - int(agg.functions.latestRoundData().call()[3])
            try:
                index_price: int | None = int(f.getUnderlyingPrice().call())
            except ContractLogicError as exc:
                index_price = None
                if not halted:
                    problems.append(f"{symbol}: the index is refused ({revert_reason(exc, self.client.decoder)})")
            if index_price is not None and max_staleness and age > max_staleness and not halted:
                problems.append(f"{symbol}: the index is {age} s old, over its {max_staleness} s limit")
            q, b = f.getReserve().call()
            mark = int(q) * WAD // int(b) if b else 0
            next_funding = int(f.nextFundingTime().call())
            if is_open and now > next_funding + FUNDING_GRACE:
                problems.append(f"{symbol}: funding is {now - next_funding} s overdue: is the funding keeper running?")
            if halted:
                problems.append(f"{symbol}: halted: traders register their claims with settlePosition before the claim window closes, then collect (docs/operations.md §6)")
            _, collateral, _ = ch.getMarket(amm.address).call()
            owed, positions = (None, 0) if halted else self.owed_to_positions(symbol, events)
            bad_debt = sum(int(e.args["badDebt"]) for e in events.events("PositionChanged", amm=amm.address))
            m = MarketStatus(
                symbol, amm.address, state, mark, index_price, age, int(max_staleness), int(f.fundingRate().call()),
                next_funding, abs(int(f.totalPositionSize().call())) * mark // WAD, int(collateral), owed, positions,
                bad_debt,
            )
            if m.shortfall > surplus:
                problems.append(f"{symbol}: its open positions are worth {fmt_wad(m.shortfall, 2)} more than it holds and the "
                                f"InsuranceFund's surplus is {fmt_wad(surplus, 2)}: closing them will be refused; top the fund up")
            markets.append(m)
        return Status(int(block["number"]), now, paused, balance, surplus, markets, problems, sequencer, bad_debt_owed)

    def owed_to_positions(self, symbol: str, index: EventIndex) -> tuple[int, int]:
        """(what `symbol`'s open positions are worth to their traders now, wad; how many positions): the
        index's open positions valued by `PerpClient.owed_to_positions` (the dashboard's number too)."""
        return self.client.owed_to_positions(symbol, index.open_positions(symbol))

    def _sequencer(self, now: int, problems: list[str]) -> str:
        """The L2 sequencer as the price feed's uptime feed reports it (one line); a problem while it is down."""
        f = self.price_feed.functions
        address = f.sequencerUptimeFeed().call()
        if int(address, 16) == 0:
            return "no sequencer uptime feed (an L1 or a local chain)"
        grace = int(f.sequencerGracePeriod().call())
        feed = self.w3.eth.contract(address=address, abi=load_abi("MockSequencerUptimeFeed"))
        try:
            _, answer, started_at, _, _ = feed.functions.latestRoundData().call()
        except ContractLogicError as exc:
            problems.append(f"the sequencer uptime feed {address} does not answer ({revert_reason(exc, self.client.decoder)}): "
                            "no opening and no liquidation")
            return f"uptime feed {address} unreadable"
        if answer != 0:
            problems.append(f"the L2 sequencer is down (since {now - int(started_at)} s): no opening and no liquidation "
                            f"until it is back and {grace} s have passed")
            return f"DOWN for {now - int(started_at)} s (grace period {grace} s once back)"
        left = int(started_at) + grace - now
        if left > 0:
            return f"up for {now - int(started_at)} s; grace period: opening and liquidation resume in {left} s"
        return f"up for {now - int(started_at)} s (grace period {grace} s over)"

    # ------------------------------------------------------------------------------------------ timelock

    def _require_timelock(self) -> Contract:
        if self.timelock is None:
            raise PerpError("this deployment has no timelock (deployments/<chainId>.json has no 'timelock' role)")
        return self.timelock

    def plan(self, role: str, function: str, *args: Any, salt: str = ZERO32) -> PlannedCall:
        """The exact owner call the timelock would make; an unknown function or wrong arguments is a PerpError."""
        tl = self._require_timelock()
        target = self._contract(role)
        try:
            data = target.encode_abi(function, args=list(args))
        except (ValueError, TypeError, MismatchedABI) as exc:
            lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
            cause = next((ln for ln in lines if ln.startswith(("Expected", "Signature"))), lines[0] if lines else "bad call")
            raise PerpError(f"{role}.{function}{tuple(args)}: {cause}") from None
        op = tl.functions.hashOperation(target.address, 0, data, ZERO32, salt).call()
        changes = self._changes(target, function, args)
        return PlannedCall(role, target.address, function, tuple(args), data, salt, Web3.to_hex(op), changes)

    def plan_unpause(self) -> PlannedCall:
        """Unpausing is the owner's call: through the timelock, after its delay (the guardian only pauses)."""
        return self.plan("clearing_house", "unpause")

    def _changes(self, target: Contract, function: str, args: tuple[Any, ...]) -> tuple[tuple[str, str, str], ...]:
        """(parameter, now, after) for each parameter `function` sets, read from the contract's getter of the
        same name (`setOpen(bool open_)` -> `open()`); () when an argument has no getter to compare with."""
        views = {f["name"]: f for f in target.abi
                 if f.get("type") == "function" and f.get("stateMutability") in ("view", "pure") and not f["inputs"]}
        inputs = next(f["inputs"] for f in target.abi
                      if f.get("type") == "function" and f["name"] == function and len(f["inputs"]) == len(args))
        if function in CHANGED_VIEWS:
            names, afters = CHANGED_VIEWS[function], FIXED_AFTER.get(function, args)
        else:
            names, afters = [], args
            for item in inputs:
                name = item["name"].strip("_")
                from_setter = function[3:4].lower() + function[4:] if function.startswith("set") else ""
                if name in views:
                    names.append(name)
                elif len(inputs) == 1 and from_setter in views:
                    names.append(from_setter)
                else:
                    return ()
        out = []
        for name, after in zip(names, afters, strict=True):
            before = getattr(target.functions, name)().call()
            kind = views[name]["outputs"][0]["type"]
            out.append((name, _human(name, kind, before), _human(name, kind, after)))
        return tuple(out)

    def schedule(self, call: PlannedCall, delay: int | None = None) -> str:
        """Schedule `call` (as the client's key, a proposer); returns the operation id."""
        tl = self._require_timelock()
        delay = int(tl.functions.getMinDelay().call()) if delay is None else delay
        self.client.send(tl.functions.schedule(call.target, 0, call.data, ZERO32, call.salt, delay), "schedule")
        return call.operation_id

    def pending(self) -> list[PendingOperation]:
        """Operations scheduled and neither executed nor cancelled, oldest first."""
        tl = self._require_timelock()
        start = self.client.addresses.start_block
        salts = {Web3.to_hex(e["args"]["id"]): Web3.to_hex(e["args"]["salt"])
                 for e in tl.events.CallSalt().get_logs(from_block=start)}
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        out = []
        for e in tl.events.CallScheduled().get_logs(from_block=start):
            a = e["args"]
            op = Web3.to_hex(a["id"])
            if not tl.functions.isOperationPending(op).call():
                continue
            ready_at = int(tl.functions.getTimestamp(op).call())
            out.append(PendingOperation(op, a["target"], Web3.to_hex(a["data"]), Web3.to_hex(a["predecessor"]),
                                        salts.get(op, ZERO32), ready_at, now >= ready_at, self._describe(a["target"], a["data"])))
        return out

    def _describe(self, target: str, data: bytes) -> str:
        for role, address in self.contracts.items():
            if address.lower() == target.lower() and (role in ROLE_CONTRACT or role.startswith("amm_")):
                try:
                    fn, args = self._contract(role).decode_function_input(data)
                    return f"{role}.{fn.fn_name}({', '.join(f'{k}={v}' for k, v in args.items())})"
                except ValueError:
                    break
        return f"{target} calldata {Web3.to_hex(data)}"

    def _find_pending(self, operation_id: str) -> PendingOperation:
        for p in self.pending():
            if p.operation_id.lower() == operation_id.lower():
                return p
        raise PerpError(f"operation {operation_id} is not pending (never scheduled, already executed or cancelled)")

    def execute(self, operation_id: str) -> None:
        p = self._find_pending(operation_id)
        if not p.ready:
            raise PerpError(f"operation {operation_id} is not ready: it may be executed from timestamp {p.ready_at}")
        tl = self._require_timelock()
        self.client.send(tl.functions.execute(p.target, 0, p.data, p.predecessor, p.salt), "execute")

    def cancel(self, operation_id: str) -> None:
        self._find_pending(operation_id)
        tl = self._require_timelock()
        self.client.send(tl.functions.cancel(operation_id), "cancel")

    # ------------------------------------------------------------------------------------------ guardian

    def pause(self) -> None:
        """The guardian's (or owner's) pause: trading stops, money does not."""
        self.client.send(self.client.clearing_house.functions.pause(), "pause")

    # ----------------------------------------------------------------------------------------------- fund

    def top_up(self, amount: Number) -> int:
        """Move `amount` quote tokens (human units) from the operator's wallet into the InsuranceFund (anyone
        may; approving the fund first when needed). Returns the fund's balance after, in wad."""
        decimals = self.client.token_decimals
        try:
            units = to_units(amount, decimals)
        except UnitError as exc:
            raise PerpError(f"top-up amount: {exc}") from None
        if units <= 0:
            raise PerpError(f"top-up amount must be positive, got {amount}")
        token = self.client.token.functions
        held = int(token.balanceOf(self.client.address).call())
        if units > held:
            raise PerpError(f"top-up: the wallet {self.client.address} holds {from_units(held, decimals):f} tokens, "
                            f"less than {amount}")
        fund = self.insurance_fund.address
        if int(token.allowance(self.client.address, fund).call()) < units:
            self.client.send(token.approve(fund, units), "approve")
        self.client.send(self.insurance_fund.functions.deposit(units), "top up the InsuranceFund")
        return int(self.insurance_fund.functions.fundBalance().call())


# setters whose changed parameters are not named by their arguments, and calls that set a fixed value
CHANGED_VIEWS: dict[str, tuple[str, ...]] = {
    "raiseReserveFloor": ("reserveFloor",),
    "setSequencerUptimeFeed": ("sequencerUptimeFeed", "sequencerGracePeriod"),
    "pause": ("paused",),
    "unpause": ("paused",),
    "transferOwnership": ("owner",),
}
FIXED_AFTER: dict[str, tuple[Any, ...]] = {"pause": (True,), "unpause": (False,)}


def _human(name: str, abi_type: str, value: Any) -> str:
    """A parameter's value as a person reads it: ratios and rates in %, durations in seconds, amounts in
    units of 1e18 (wad), addresses and flags as they are."""
    if abi_type == "bool":
        return "yes" if value else "no"
    if abi_type == "address":
        return str(Web3.to_checksum_address(value))
    if not abi_type.startswith(("uint", "int")):
        return str(value)
    lowered = name.lower()
    if lowered.endswith(("ratio", "rate")):
        return fmt_pct(int(value), 4)
    if any(word in lowered for word in ("period", "window", "staleness", "delay")):
        return f"{int(value):,} s"
    return fmt_wad(int(value), 4)


COMMANDS = ("status", "pending", "execute", "cancel", "pause", "unpause", "schedule", "top-up")
USAGE = ("usage: python -m perp_client.operator status | pending | execute OPERATION | cancel OPERATION | pause | "
         "unpause | schedule ROLE FUNCTION [ARG ...] | top-up AMOUNT")


def parse_arg(text: str) -> Any:
    """A command-line argument for a planned call: true/false, an integer (1e18 or 10**18 forms too), an
    address or bytes (0x...), else the text."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low.startswith("0x"):
        return text
    try:
        if "**" in low:
            base, exp = low.split("**")
            return int(base) ** int(exp)
        if "e" in low:
            mantissa, exp = low.split("e")
            return int(mantissa) * 10 ** int(exp)
        return int(low.replace("_", ""))
    except ValueError:
        return text


def main(argv: list[str] | None = None) -> int:
    """`python -m perp_client.operator COMMAND` (RPC_URL, PRIVATE_KEY, DEPLOYMENT from the environment). Prints
    one line on error; `status` exits 1 when something needs a person."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        rpc = os.environ.get("RPC_URL", "").strip()
        if not rpc:
            raise PerpError("RPC_URL is not set")
        record = os.environ.get("DEPLOYMENT")
        client = PerpClient.connect(rpc, Path(record) if record else None, os.environ.get("PRIVATE_KEY") or None)
        op = Operator.from_record(client, Path(record) if record else None)
        return run(op, argv[0], argv[1:])
    except PerpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def run(op: Operator, command: str, args: list[str]) -> int:
    """One operator command on `op`; what it prints is for a person. A PerpError for bad input."""
    if command == "status":
        status = op.status()
        print(status.table())
        return 1 if status.needs_person else 0
    if command == "pending":
        for p in op.pending():
            print(f"{p.operation_id}  {'READY' if p.ready else f'ready at {p.ready_at}'}  {p.description}")
        return 0
    if command in ("execute", "cancel"):
        if len(args) != 1:
            raise PerpError(f"{command} needs the operation id (see: pending)")
        getattr(op, command)(args[0])
        print(f"{command}d {args[0]}")
        return 0
    if command == "top-up":
        if len(args) != 1:
            raise PerpError("top-up needs the amount in quote tokens, e.g. top-up 1000")
        balance = op.top_up(args[0])
        print(f"InsuranceFund topped up by {args[0]}: it holds {fmt_wad(balance, 2)}")
        return 0
    if command in ("schedule", "unpause"):
        if command == "schedule" and len(args) < 2:
            raise PerpError("schedule needs a contract role and a function, e.g. schedule clearing_house unpause")
        call = op.plan_unpause() if command == "unpause" else op.plan(args[0], args[1], *map(parse_arg, args[2:]))
        print(call.describe())
        print(call.table())
        op.schedule(call)
        print(f"scheduled {call.operation_id}: execute it when due (pending, then execute)")
        return 0
    op.pause()
    print("paused: trading is stopped; unpausing is the owner's (the timelock's) call: unpause")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
