"""Deploy the protocol on a live network, resumably: `brownie run scripts/deploy.py --network NAME`.

It runs `deploy_protocol` itself (so a live deploy is exactly the local one) with a recording account
that signs with `$PRIVATE_KEY` (environment, or `.env` at the project root) and journals every contract and
every transaction in `deployments/<chainId>.json` as soon as it is mined (perp_ops/deployments.py). A re-run
replays the journal: each recorded step is checked (code at the address, same contract and arguments, same
calldata) and reused instead of sent, so an interrupted deploy resumes and a finished one sends nothing; the
wiring of the result is then checked with view calls (clearingHouse.vault() == vault, ...).

What to deploy comes from the network's deploy configuration file, config/deploy/<name>.yaml (or
`$DEPLOY_CONFIG`), checked by perp_ops/deploy_config.py before anything is sent: a configured `quote_token` (a
real USDC) and each market's Chainlink `feed` stand in for deploy_protocol's mock token and mock aggregators;
the pools start at the feeds' prices. The markets are listed closed; the deployer then seeds the InsuranceFund
(refused, markets still closed, while it holds less than `insurance_fund_seed`), the markets open, and every
contract is handed over to a TimelockController (`timelock.delay`, the guardian named): each of those is a
recorded step, so an interrupted deploy resumes across them, and a re-run checks who owns what.
`DEPLOY_STOP_AFTER=<contract or function name>` stops right after that step (tests).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NoReturn

from brownie import (
    Contract,
    MockAggregator,
    MockERC20,
    network,
    project,
    web3,
)
from brownie._config import CONFIG
from brownie.exceptions import VirtualMachineError
from brownie.network.account import LocalAccount

from perp_ops import anvil_race
from perp_ops import deploy_config as dc
from perp_ops import deployments as rec
from perp_ops.deploy import (
    DEFAULT_CONFIG,
    MARKET_KEYS,
    WAD,
    DeployConfigError,
    Deployment,
    deploy_protocol,
    feed_key,
    owned_contracts,
)

ZERO = "0x0000000000000000000000000000000000000000"


def fail(message: str) -> NoReturn:
    """Stop with one line on stderr and exit status 1 (no traceback)."""
    raise SystemExit(f"error: {message}")


def skip_brownie_deployment_db() -> None:
    """Stop brownie persisting live contracts in ~/.brownie/deployments.db.

    brownie 1.22's compiled `state._add_deployment` raises `TypeError: dict object expected; got Sources` for
    every project contract on a live network (a traceback per deploy, and `Container.at()` fails). The
    deployment record (deployments/<chainId>.json) is this project's source of truth, so skip it.
    """
    import brownie.network.contract as brownie_contract

    brownie_contract._add_deployment = lambda *args, **kwargs: None  # type: ignore[attr-defined]


def forget_loaded_contracts() -> None:
    """Empty the project's containers (brownie fills them from build/deployments/<chainId> on connect), so
    that deploy_protocol sees exactly the contracts this run deploys or reuses (e.g. its linked library)."""
    for p in project.get_loaded_projects():
        for container in p:
            for contract in list(container):
                container.remove(contract)


# ----------------------------------------------------------------------------------------------- settings


def load_deploy_config(name: str) -> dc.DeployConfig:
    """The network's checked deploy configuration; one line and exit 1 when it is missing or wrong."""
    try:
        return dc.load(dc.config_path(name))
    except dc.DeployConfigError as exc:
        fail(f"{exc}; nothing was sent")


def load_private_key() -> str:
    """`$PRIVATE_KEY`, after reading `.env` at the project root (the environment wins)."""
    env_file = rec.PROJECT_ROOT / ".env"
    if env_file.is_file():
        from dotenv import load_dotenv

        load_dotenv(env_file, override=False)
    key = os.environ.get("PRIVATE_KEY", "").strip()
    if not key:
        fail("PRIVATE_KEY is not set: export it (or put it in .env) to deploy on a live network; nothing was sent")
    return key


def local_signer(key: str) -> LocalAccount:
    """What `accounts.add(key)` gives on a real network: a key signing locally. (`accounts.add` would hand
    back the node's unlocked account instead when the node has one with that address, as anvil does.)"""
    from eth_account import Account
    from eth_utils.exceptions import ValidationError

    try:
        acct = Account.from_key(key)
    except (ValueError, TypeError, ValidationError):
        fail("PRIVATE_KEY is not a valid private key (32 bytes as hex); nothing was sent")
    return LocalAccount(acct.address, acct, acct.key)


def symbols_of(cfg: dict[str, Any]) -> list[str]:
    """deploy_protocol's market order."""
    return ["ETH", *[s for s in cfg.get("markets", {}) if s != "ETH"]]


def _feed(address: str) -> Any:
    return Contract.from_abi("ChainlinkFeed", address, MockAggregator.abi, persist=False)


def _check_feed(address: str, symbol: str) -> None:
    if not web3.eth.get_code(address):
        fail(f"the {symbol} feed {address} has no code on {network.show_active()}")
    description = str(_feed(address).description())
    if not description.upper().startswith(f"{symbol} /"):
        fail(f"the {symbol} feed {address} is '{description}', not '{symbol} / USD'")


def _check_uptime_feed(address: str) -> None:
    """The configured sequencer uptime feed answers like one: 0 (up) or 1 (down), with a `startedAt`."""
    if not web3.eth.get_code(address):
        fail(f"the sequencer uptime feed {address} has no code on {network.show_active()}")
    _, answer, started_at, _, _ = _feed(address).latestRoundData()
    if answer not in (0, 1) or not started_at:
        fail(f"{address} answers {answer} (startedAt {started_at}): not a sequencer uptime feed (0 up, 1 down)")


def live_config(conf: dc.DeployConfig) -> dict[str, Any]:
    """deploy_protocol's config for this network: the token's decimals, each pool at its feed's price."""
    cfg: dict[str, Any] = dict(conf.protocol)
    cfg["quote_decimals"] = 6  # the mock token's, when no token is configured
    if conf.quote_token:
        if not web3.eth.get_code(conf.quote_token):
            fail(f"the quote token {conf.quote_token} has no code on {network.show_active()}")
        cfg["quote_decimals"] = int(Contract.from_abi("QuoteToken", conf.quote_token, MockERC20.abi, persist=False).decimals())
    if conf.sequencer_feed:
        _check_uptime_feed(conf.sequencer_feed)
    cfg["sequencer_grace_period"] = conf.sequencer_grace_period
    markets: dict[str, dict[str, int]] = {}
    for symbol, m in conf.markets.items():
        unsupported = sorted(set(m.overrides) - set(MARKET_KEYS))
        if unsupported:
            fail(f"{conf.path}: markets.{symbol}: this build's deploy_protocol has no {', '.join(unsupported)}; nothing was sent")
        market = dict(m.overrides)
        if m.feed:
            _check_feed(m.feed, symbol)
            feed = _feed(m.feed)
            market["index_price"] = int(feed.latestRoundData()[1]) * WAD // 10 ** int(feed.decimals())
        market["quote_asset_reserve"] = market["base_asset_reserve"] * market["index_price"] // WAD
        markets[symbol] = market
    cfg["markets"] = markets
    return cfg


# ------------------------------------------------------------------------------------------------ journal


class Journal:
    """Replays recorded steps, records new ones; stands configured contracts in for mocks."""

    def __init__(self, record: rec.DeploymentRecord, substitutes: dict[str, list[str | None]], stop_after: str | None):
        self.record = record
        self.substitutes = substitutes
        self.stop_after = stop_after.lower() if stop_after else None
        self.position = 0

    def _recorded(self) -> rec.Step | None:
        i = self.position
        self.position += 1
        return self.record.steps[i] if i < len(self.record.steps) else None

    def _diverged(self, recorded: rec.Step, now: str) -> NoReturn:
        fail(
            f"step {self.position} of {self.record.path} is '{recorded.describe()}' but the deploy now does '{now}' "
            "(the deploy code or the config changed): move the record away to deploy afresh"
        )

    def _stop(self, name: str | None) -> None:
        if name and self.stop_after == name.lower():
            print(f"stopping after {name} (DEPLOY_STOP_AFTER); run again to resume")
            raise SystemExit(3)

    def deploy(self, container: Any, args: tuple[Any, ...], send: Callable[[], Any]) -> Any:
        name, args_json = container._name, rec.jsonable(list(args))
        queue = self.substitutes.get(name)
        external = queue.pop(0) if queue else None  # consumed in order, replayed or not
        recorded = self._recorded()
        if recorded is not None:
            if recorded.kind != "deploy" or recorded.contract != name or recorded.args != args_json:
                self._diverged(recorded, f"deploy {name}{tuple(args_json)}")
            print(f"reuse   {name:<26} {recorded.address}")
            return container.at(recorded.address)
        if external:
            rec.record_step(self.record, rec.Step("deploy", name, external, args_json, external=True))
            print(f"use     {name:<26} {external} (configured in brownie-config.yaml)")
            return container.at(external)
        deployed = _sent(send, f"deploying {name}")
        step = rec.Step("deploy", name, deployed.address, args_json, block=deployed.tx.block_number,
                        tx=deployed.tx.txid, git_commit=rec.git_commit())
        rec.record_step(self.record, step)
        print(f"deploy  {name:<26} {deployed.address}")
        self._stop(name)
        return deployed

    def call(self, to: str, data: str, send: Callable[[], Any]) -> Any:
        target = _contract_at(to)
        name = target._name if target is not None else "?"
        function = _function_name(target, data)
        recorded = self._recorded()
        if recorded is not None:
            if recorded.kind != "call" or recorded.address.lower() != str(to).lower() or recorded.data != data:
                self._diverged(recorded, f"call {name}.{function} at {to}")
            print(f"done    {name}.{function}")
            return None
        tx = _sent(send, f"{name}.{function}")
        step = rec.Step("call", name, str(to), function=function, data=data, block=tx.block_number, tx=tx.txid,
                        git_commit=rec.git_commit())
        rec.record_step(self.record, step)
        print(f"send    {name}.{function}")
        self._stop(function)
        return tx


def _sent(send: Callable[[], Any], what: str) -> Any:
    """Send; a revert (or a refused estimate) stops with one line."""
    try:
        return send()
    except VirtualMachineError as exc:
        fail(
            f"{what} reverted ({exc.revert_msg or exc}); if the last run died right after sending it, it may "
            "have been mined without being recorded: check the deployer's last transactions"
        )


def _contract_at(address: str) -> Any:
    from brownie.network.state import _find_contract

    return _find_contract(address)


def _function_name(contract: Any, data: str) -> str:
    try:
        return str(contract.get_method(data)) if contract is not None else data[:10]
    except (ValueError, KeyError, AttributeError):
        return data[:10]


class RecordingAccount(LocalAccount):
    """The deployer as deploy_protocol sees it: every deploy and transaction goes through the journal."""

    def __init__(self, account: LocalAccount, journal: Journal) -> None:
        super().__init__(account.address, account._acct, account.private_key)
        self.journal = journal

    @property
    def replaying(self) -> bool:
        """Whether the next step is a recorded one (replayed, not sent): deploy_protocol skips its balance checks."""
        return self.journal.position < len(self.journal.record.steps)

    def deploy(self, contract: Any, *args: Any, **kwargs: Any) -> Any:
        return self.journal.deploy(contract, args, lambda: super(RecordingAccount, self).deploy(contract, *args, **kwargs))

    def transfer(self, to: Any = None, amount: int = 0, **kwargs: Any) -> Any:
        data = kwargs.get("data")
        if not data:
            return super().transfer(to, amount, **kwargs)
        return self.journal.call(str(to), str(data), lambda: super(RecordingAccount, self).transfer(to, amount, **kwargs))


# ------------------------------------------------------------------------------------------- verification


def _same(a: Any, b: Any) -> bool:
    return str(a).lower() == str(getattr(b, "address", b)).lower()


def wiring_problems(d: Deployment) -> list[str]:
    """View-call checks that the contracts are wired to each other."""
    ch, vault = d.clearing_house, d.vault
    checks = [
        ("vault.token()", vault.token(), d.quote_token),
        ("vault.clearingHouse()", vault.clearingHouse(), ch),
        ("clearingHouse.vault()", ch.vault(), vault),
        ("clearingHouse.insuranceFund()", ch.insuranceFund(), d.insurance_fund),
        ("insuranceFund.vault()", d.insurance_fund.vault(), vault),
    ]
    for symbol, amm in d.amms.items():
        checks += [
            (f"amm_{symbol}.clearingHouse()", amm.clearingHouse(), ch),
            (f"amm_{symbol}.priceFeed()", amm.priceFeed(), d.price_feed),
            (f"priceFeed.getAggregator({symbol})", d.price_feed.getAggregator(feed_key(symbol))[0], d.aggregators[symbol]),
        ]
    checks.append(("priceFeed.sequencerUptimeFeed()", d.price_feed.sequencerUptimeFeed(), d.sequencer_feed or ZERO))
    problems = [f"{what} is {got}, expected {getattr(want, 'address', want)}" for what, got, want in checks if not _same(got, want)]
    problems += [f"amm_{s} is not listed or not open" for s, a in d.amms.items() if not (ch.getMarket(a)[0] and a.open())]
    return problems


def ownership_problems(d: Deployment, cfg: dict[str, Any]) -> list[str]:
    """Who owns what: the timelock every contract, with the configured delay and guardian; the deployer no role."""
    tl = d.timelock
    if tl is None:
        return ["no TimelockController was deployed"]
    problems = [
        f"{c._name} {c.address} is owned by {c.owner()}, not the timelock {tl.address}"
        for c in owned_contracts(d)
        if not _same(c.owner(), tl)
    ]
    if tl.getMinDelay() != int(cfg["timelock_delay"]):
        problems.append(f"the timelock's delay is {tl.getMinDelay()} s, the configuration says {cfg['timelock_delay']} s")
    guardian = cfg.get("guardian") or ZERO
    if not _same(d.clearing_house.guardian(), guardian):
        problems.append(f"the guardian is {d.clearing_house.guardian()}, the configuration says {guardian}")
    if tl.hasRole(tl.DEFAULT_ADMIN_ROLE(), d.owner.address):
        problems.append(f"the deployer {d.owner.address} is the timelock's admin")
    return problems


def roles_of(d: Deployment, record: rec.DeploymentRecord) -> dict[str, rec.ContractRecord]:
    """Role → contract for clients; contracts without a role in Deployment go by their contract name."""
    by_address = {s.address.lower(): s for s in record.steps if s.kind == "deploy"}
    named = {
        "quote_token": d.quote_token, "vault": d.vault, "insurance_fund": d.insurance_fund,
        "clearing_house": d.clearing_house, "price_feed": d.price_feed,
        **{f"amm_{s}": a for s, a in d.amms.items()},
        **({"timelock": d.timelock} if d.timelock is not None else {}),
        **({"sequencer_feed": d.sequencer_feed} if d.sequencer_feed is not None else {}),
    }
    for symbol, aggregator in d.aggregators.items():
        step = by_address.get(aggregator.address.lower())
        named[f"feed_{symbol}" if step is not None and step.external else f"aggregator_{symbol}"] = aggregator
    roles = {}
    for role, contract in named.items():
        step = by_address.get(contract.address.lower())
        roles[role] = rec.ContractRecord(step.contract if step else contract._name, contract.address,
                                         step.block if step else None, step.tx if step else None,
                                         step.external if step else False)
    taken = {r.address.lower() for r in roles.values()}
    for step in record.steps:
        if step.kind == "deploy" and step.address.lower() not in taken:
            roles[step.contract] = rec.ContractRecord(step.contract, step.address, step.block, step.tx, step.external)
    return roles


# ----------------------------------------------------------------------------------------------------- main


def _check_chain(name: str) -> None:
    expected = str(CONFIG.active_network.get("chainid", ""))
    actual = web3.eth.chain_id
    if expected and expected != str(actual):
        fail(f"wrong chain: network '{name}' is chain {expected} but its RPC serves chain {actual}; nothing was sent")


def _open_record(chain_id: int, name: str, deployer: str) -> rec.DeploymentRecord:
    try:
        record = rec.load(chain_id)
    except rec.DeploymentFileError as exc:
        fail(str(exc))
    if record is None:
        return rec.DeploymentRecord(chain_id, name, deployer)
    if record.deployer.lower() != deployer.lower():
        fail(f"{record.path} was deployed by {record.deployer}, PRIVATE_KEY is {deployer}")
    problems = rec.verify(record, web3.eth.get_code)
    if problems:
        fail(f"{record.path} does not match chain {chain_id}: {'; '.join(problems)}. Move it away to redeploy")
    return record


def deploy_live() -> Deployment:
    """Deploy (or resume, or verify) the protocol on the active live network."""
    skip_brownie_deployment_db()
    forget_loaded_contracts()
    name = network.show_active()
    _check_chain(name)
    conf = load_deploy_config(name)
    if conf.local:
        anvil_race.install()  # anvil may count a mined transaction before it serves its receipt
    chain_id = web3.eth.chain_id
    if conf.chain_id != chain_id:
        fail(f"wrong chain: {conf.path} is for chain {conf.chain_id} but the RPC serves chain {chain_id}; nothing was sent")
    signer = local_signer(load_private_key())
    record = _open_record(chain_id, name, signer.address)
    if not record.config:
        record.config = rec.jsonable(live_config(conf))
    if signer.balance() == 0 and not record.complete:
        fail(f"the deployer {signer.address} has no ETH on {name}")
    print(f"network {name} (chain {chain_id}), deployer {signer.address}, record {record.path}")

    cfg: dict[str, Any] = {**DEFAULT_CONFIG, **record.config}
    substitutes: dict[str, list[str | None]] = {
        "MockERC20": [conf.quote_token],
        "MockAggregator": [conf.markets[s].feed if s in conf.markets else None for s in symbols_of(cfg)],
        "MockSequencerUptimeFeed": [conf.sequencer_feed],
    }
    journal = Journal(record, substitutes, os.environ.get("DEPLOY_STOP_AFTER") or None)
    try:
        d = deploy_protocol(record.config, deployer=RecordingAccount(signer, journal), timelock=True)
    except DeployConfigError as exc:
        fail(f"{exc} (the steps so far are recorded in {record.path}: run again to resume)")
    problems = wiring_problems(d) + ownership_problems(d, cfg)
    if problems:
        fail(f"the deployment on chain {chain_id} is miswired: {'; '.join(problems)}")
    rec.record_roles(record, roles_of(d, record))
    print(f"deployment complete and verified: {record.path}")
    guardian = d.clearing_house.guardian()
    print(f"  owner of every contract: timelock {d.timelock.address} (delay {d.timelock.getMinDelay()} s); "
          f"guardian {guardian if not _same(guardian, ZERO) else 'none'}; insurance fund {d.insurance_fund.fundBalance() / WAD:,.2f}")
    for role, entry in record.contracts.items():
        print(f"  {role:<24} {entry.contract:<24} {entry.address}{'  (external)' if entry.external else ''}")
    return d
