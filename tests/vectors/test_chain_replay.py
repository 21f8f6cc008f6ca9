"""Perp v1's scenarios (tests/vectors/v1_vectors.py) replayed on the deployed contracts, not only on the model
(issue 16, item 6).

Each vector is deployed at its T0 (every deployment block at T0, the market opened then), its deposits made,
and its steps sent at T0 + t (steps sharing a block in one block); the reference model runs beside it with the
chain's deliberate departures from v1 switched on (README "Deviations": the fund pays only a liquidation's
shortfall, a TWAP notional scales the spot notional, margin moves need a position). After every step each
number the vector names (`expect`: v1's own assertions; `model_expect`: the model's) is read from the chain:

- it must equal the model's, for every vector;
- it must equal the vector's number, except in the few vectors where a documented departure changes it
  (`DEPARTURES`, each with its reason; the model test checks those numbers against v1's rules).

A transaction the vector expects to fail must fail on the chain with the same custom error. Vectors that share
a configuration share one deployment (a chain snapshot at T0, reverted before each), which keeps the whole
replay to a few minutes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from brownie import accounts, chain, web3

from perp_ops.deploy import DEFAULT_CONFIG, deploy_protocol, to_aggregator_answer
from tests.model.protocol_model import Dir, ModelError, PnlCalcOption
from tests.model.test_model import MARKET, build_protocol, replay, run_action
from tests.model.test_model import view as model_view
from tests.property.driver import ERROR_ALIASES, Sent, send, send_block
from tests.trading import mul
from tests.vectors.v1_vectors import BASE_CONFIG, VECTORS

# the chain's deliberate departures from v1, as the model's switches (README "Deviations from v1")
CHAIN_OPTIONS = {"v1_liquidation_fee_quirk": False, "twap_notional_scales_spot": True, "margin_needs_position": True}

# vectors whose v1 numbers a documented departure changes (the chain still equals the model with CHAIN_OPTIONS)
_NEEDS_POSITION = "margin moves need an open position (NoPosition); v1 moved margin on a position of size 0"
_MORE_THAN_MARGIN = "removing more than the margin left after funding is BadDebt; v1 said NotEnoughFreeCollateral"
DEPARTURES = {
    "margin_add_without_position": _NEEDS_POSITION,
    "margin_remove_without_position": _NEEDS_POSITION,
    "margin_remove_nothing": _NEEDS_POSITION,
    "margin_remove_more_than_margin": _MORE_THAN_MARGIN,
    "funding_huge_loss_remove_margin_fails": _MORE_THAN_MARGIN,
    "margin_ratio_long": "a TWAP notional scales the spot notional (exit price), not size x TWAP",
    "margin_ratio_short": "a TWAP notional scales the spot notional (exit price), not size x TWAP",
    "margin_ratio_higher_twap": "a TWAP notional scales the spot notional (exit price), not size x TWAP",
    "margin_ratio_funding_positive": "a TWAP notional scales the spot notional (exit price), not size x TWAP",
    "margin_ratio_funding_negative": "a TWAP notional scales the spot notional (exit price), not size x TWAP",
    "margin_ratio_pnl_funding_positive": "a TWAP notional scales the spot notional (exit price), not size x TWAP",
    "margin_ratio_pnl_funding_negative": "a TWAP notional scales the spot notional (exit price), not size x TWAP",
    "liq_not_liquidatable_twap": "a TWAP notional scales the spot notional (exit price), not size x TWAP",
    "liq_not_liquidatable_spot": "a TWAP notional scales the spot notional (exit price), not size x TWAP",
}

# the chain's custom error where the model (after v1's revert string) names the same refusal differently
CHAIN_ERRORS = {**ERROR_ALIASES, "MarketNotShutdown": "MarketOpen"}

PROTOCOL_PARAMS = ("init_margin_ratio", "maintenance_margin_ratio", "liquidation_fee_ratio", "partial_liquidation_ratio")


def on_chain(vector: dict[str, Any]) -> dict[str, Any]:
    """The vector as the chain can deploy it: v1 accepted a maintenance ratio above the initial one (its liquidation
    tests use 10 % and 19.9 % against 5 %), which the ClearingHouse refuses (`MaintenanceAboveInitial`: a position
    could open already liquidatable). There the initial ratio is raised to the maintenance one; every opening in
    those vectors stays within it (10x at 10 %, 5x at 19.9 %) and none removes margin, so v1's numbers still hold."""
    config = {**BASE_CONFIG, **vector.get("config", {})}
    if config["maintenance_margin_ratio"] <= config["init_margin_ratio"]:
        return vector
    raised = {**vector.get("config", {}), "init_margin_ratio": config["maintenance_margin_ratio"]}
    return {**vector, "config": raised}


def _config_key(vector: dict[str, Any]) -> str:
    return json.dumps([vector.get("config", {}), vector.get("t0_mod_3600", 0)], sort_keys=True)


GROUPS: dict[str, list[dict[str, Any]]] = {}
for _vector in map(on_chain, VECTORS):
    GROUPS.setdefault(_config_key(_vector), []).append(_vector)


def _rpc(method: str, params: list[Any]) -> Any:
    response = web3.provider.make_request(method, params)
    assert "error" not in response, f"{method}: {response['error']}"
    return response["result"]


class Chain:
    """One vector configuration deployed at T0 on the chain, with named accounts."""

    def __init__(self, vector: dict[str, Any], names: list[str]) -> None:
        config = {**BASE_CONFIG, **vector.get("config", {})}
        latest = web3.eth.get_block("latest")["timestamp"]
        phase = vector.get("t0_mod_3600", 0)
        self.t0 = (latest + 60 - phase + 3599) // 3600 * 3600 + phase
        self.scale = 10 ** (18 - config["quote_decimals"])
        deploy_keys = {k: v for k, v in config.items() if k in DEFAULT_CONFIG}
        assert config["index_decimals"] == 8, "the local aggregator has 8 decimals"
        owner = accounts[0]
        # every deployment block at T0 (the model deploys and opens the market at T0, block 0)
        _rpc("evm_setNextBlockTimestamp", [self.t0])
        _rpc("anvil_setBlockTimestampInterval", [0])
        try:
            self.d = deploy_protocol(deploy_keys, deployer=owner)
            self.fee_pool = accounts.add()
            self.d.clearing_house.setFeePool(self.fee_pool, {"from": owner})  # the model keeps the toll apart
            self.accounts: dict[str, Any] = {}
            for name in names:
                account = accounts.add()
                owner.transfer(account, 10**18)
                self.accounts[name] = account
        finally:
            _rpc("anvil_removeBlockTimestampInterval", [])
        self.owner = owner
        self.amm = self.d.amm
        self.ch = self.d.clearing_house
        self.last_time = self.t0

    # ---------------------------------------------------------------------------------------------- setup
    def fund(self, vector: dict[str, Any]) -> None:
        """The vector's deposits and the InsuranceFund's, at T0."""
        token, tx = self.d.quote_token, {"from": self.owner}
        _rpc("anvil_setBlockTimestampInterval", [0])
        try:
            for name, units in vector.get("deposits", {}).items():
                account = self.accounts[name]
                token.mint(account, units, {"from": account})
                token.approve(self.d.vault, units, {"from": account})
                self.d.vault.deposit(units, {"from": account})
            fund = vector.get("insurance_fund", 0)
            if fund:
                token.mint(self.owner, fund, tx)
                token.approve(self.d.insurance_fund, fund, tx)
                self.d.insurance_fund.deposit(fund, tx)
        finally:
            _rpc("anvil_removeBlockTimestampInterval", [])

    # ---------------------------------------------------------------------------------------------- actions
    def call_of(self, step: dict[str, Any]) -> tuple[Callable[..., Any], tuple[Any, ...], Any]:
        """(function, arguments, sender) of one step."""
        ch, amm, a = self.ch, self.amm, self.accounts
        action = step["action"]
        trader = a.get(step.get("trader", ""))
        if action == "open_position":
            return ch.openPosition, (amm, step["side"], step["quote_amount"], step["leverage"],
                                     step.get("base_limit", 0)), trader
        if action == "close_position":
            return ch.closePosition, (amm, step.get("quote_limit", 0)), trader
        if action == "add_margin":
            return ch.addMargin, (amm, step["amount"]), trader
        if action == "remove_margin":
            return ch.removeMargin, (amm, step["amount"]), trader
        if action == "liquidate":
            return ch.liquidate, (amm, trader), a[step["liquidator"]]
        if action == "pay_funding":
            return ch.payFunding, (amm,), self.owner
        if action == "set_index_price":
            return self.d.aggregators[MARKET].updateAnswer, (to_aggregator_answer(step["price"]),), self.owner
        if action == "shutdown":
            return amm.shutdown, (), self.owner
        if action == "settle_position":
            return ch.settlePosition, (amm,), trader
        if action == "claim_settlement":
            return ch.claimSettlement, (amm, trader), self.owner
        if action == "deposit":
            return self.d.vault.deposit, (step["amount"],), trader
        if action == "withdraw":
            return self.d.vault.withdraw, (step["amount"],), trader
        if action == "set_param":
            return self._set_param(step["key"], step["value"])
        raise AssertionError(f"unknown action {action}")

    def _set_param(self, key: str, value: int) -> tuple[Callable[..., Any], tuple[Any, ...], Any]:
        ch, amm = self.ch, self.amm
        if key in PROTOCOL_PARAMS:
            current = {name: getattr(ch, _camel(name))() for name in PROTOCOL_PARAMS}
            current[key] = value
            return ch.setParams, tuple(current[name] for name in PROTOCOL_PARAMS), self.owner
        if key in ("max_holding_base_asset", "open_interest_notional_cap"):
            caps = {"max_holding_base_asset": amm.maxHoldingBaseAsset(),
                    "open_interest_notional_cap": amm.openInterestNotionalCap()}
            caps[key] = value
            return amm.setCap, (caps["max_holding_base_asset"], caps["open_interest_notional_cap"]), self.owner
        ratios = {name: getattr(amm, _camel(name))() for name in
                  ("trade_limit_ratio", "fluctuation_limit_ratio", "toll_ratio", "spread_ratio")}
        assert key in ratios, key
        ratios[key] = value
        return amm.setRatios, tuple(ratios.values()), self.owner

    def result_of(self, step: dict[str, Any], sent: Sent, balance_before: int | None,
                  fund_before: int | None) -> dict[str, Any]:
        """The step's outcome as the model names it, from the events and, for a step alone in its block, the
        balances before it (`None` in a shared block: the numbers that need them are not read)."""
        action, e = step["action"], sent.events
        out: dict[str, Any] = {}
        if "PositionChanged" in e:
            pc = e["PositionChanged"][-1]
            out.update({
                "margin": pc["margin"], "exchanged_notional": pc["positionNotional"],
                "exchanged_size": pc["exchangedPositionSize"], "fee": pc["fee"], "size": pc["positionSizeAfter"],
                "realized_pnl": pc["realizedPnl"], "unrealized_pnl_after": pc["unrealizedPnlAfter"],
                "bad_debt": pc["badDebt"], "liquidation_penalty": pc["liquidationPenalty"],
                "funding_payment": pc["fundingPayment"], "is_partial": pc["positionSizeAfter"] != 0,
            })
            if action in ("open_position", "close_position") and balance_before is not None:
                after = self.d.vault.balanceOfWad(self.accounts[step["trader"]])
                out["margin_to_vault"] = balance_before - after - pc["fee"]
        if "PositionLiquidated" in e:
            pl = e["PositionLiquidated"][-1]
            out.update({"fee_to_liquidator": pl["liquidationFee"], "liquidation_bad_debt": pl["badDebt"]})
        if "MarginChanged" in e:
            mc = e["MarginChanged"][-1]
            out.update({"amount": mc["amount"], "funding_payment": mc["fundingPayment"],
                        "margin": self.ch.getPosition(self.amm, self.accounts[step["trader"]])[1]})
        if "FundingPaid" in e:
            fp = e["FundingPaid"][-1]
            out.update({"premium_fraction": fp["premiumFraction"],
                        "cumulative_premium_fraction": fp["cumulativePremiumFraction"]})
            if fund_before is not None:
                out["insurance_fund_delta"] = self.d.vault.balanceOfWad(self.d.insurance_fund) - fund_before
        if action == "shutdown":
            out["result"] = self.amm.getSettlementPrice()
        if action in ("settle_position", "claim_settlement"):
            if "SettlementClaimed" in e:
                out["result"] = e["SettlementClaimed"][-1]["value"]
            else:
                out["result"] = sum(ev["valueTransferred"] for ev in e.get("PositionSettled", []))
        return out

    # ---------------------------------------------------------------------------------------------- views
    def view(self, key: str, arg: Any) -> Any:
        """The chain's answer to one `check` key, at the latest block."""
        ch, amm, vault, a = self.ch, self.amm, self.d.vault, self.accounts
        simple: dict[str, Callable[[], Any]] = {
            "insurance_fund_wad": lambda: vault.balanceOfWad(self.d.insurance_fund),
            "insurance_fund_tokens": lambda: vault.balanceOfWad(self.d.insurance_fund) // self.scale,
            "toll_pool_wad": lambda: vault.balanceOfWad(self.fee_pool),
            "toll_pool_tokens": lambda: vault.balanceOfWad(self.fee_pool) // self.scale,
            "reserves": lambda: list(amm.getReserve()),
            "spot_price": amm.getSpotPrice,
            "cumulative_premium_fraction": lambda: ch.getLatestCumulativePremiumFraction(amm),
            "next_funding_time": lambda: amm.nextFundingTime() - self.t0,
            "open_interest_notional": lambda: ch.openInterestNotional(amm),
            "settlement_price": amm.getSettlementPrice,
            "total_position_size": amm.totalPositionSize,
            "is_over_spread_limit": amm.isOverSpreadLimit,
        }
        if key in simple:
            return simple[key]()
        options = {"spot": PnlCalcOption.SPOT_PRICE, "twap": PnlCalcOption.TWAP, "oracle": PnlCalcOption.ORACLE}
        per_trader: dict[str, Callable[[str], Any]] = {
            "position": lambda t: dict(zip(("size", "margin", "open_notional"),
                                           tuple(ch.getPosition(amm, a[t]))[:3], strict=True)),
            "margin_ratio": lambda t: ch.getMarginRatio(amm, a[t]),
            "free_collateral": lambda t: ch.getFreeCollateral(amm, a[t]),
            "margin_with_funding": lambda t: self._margin_with_funding(a[t]),
            "vault_wad": lambda t: vault.balanceOfWad(a[t]),
            "balance_of": lambda t: vault.balanceOf(a[t]),
            "unrealized_pnl": lambda t: {o: ch.getPositionNotionalAndUnrealizedPnl(amm, a[t], int(options[o]))[1]
                                         for o in arg[t]},
            "position_notional": lambda t: {o: ch.getPositionNotionalAndUnrealizedPnl(amm, a[t], int(options[o]))[0]
                                            for o in arg[t]},
        }
        if key in per_trader:
            answers = {t: per_trader[key](t) for t in arg}
            if key == "position":
                answers = {t: {f: answers[t][f] for f in arg[t]} for t in arg}
            return answers
        per_query: dict[str, Callable[[list[Any]], Any]] = {
            "twap_price": lambda q: amm.getTwapPrice(q[0]),
            "index_twap": lambda q: amm.getUnderlyingTwapPrice(q[0]),
            "input_price": lambda q: amm.getInputPrice(int(Dir(q[0])), q[1]),
            "output_price": lambda q: amm.getOutputPrice(int(Dir(q[0])), q[1]),
        }
        if key in per_query:
            return [[*query[:-1], per_query[key](query)] for query in arg]
        raise AssertionError(f"unknown check {key}")

    def _margin_with_funding(self, account: Any) -> int:
        """The position's margin after its pending funding, floored at 0 (v1's getPersonalPositionWithFundingPayment),
        from the stored position and its side's cumulative premium fraction."""
        size, margin, _, last = self.ch.getPosition(self.amm, account)
        if size == 0:
            return margin
        funding = self.ch.getFunding(self.amm)
        cumulative = funding["cumulativeLong"] if size > 0 else funding["cumulativeShort"]
        return max(margin - mul(cumulative - last, size), 0)

    def mine_at(self, timestamp: int) -> None:
        if timestamp > self.last_time:
            _rpc("evm_mine", [timestamp])
            self.last_time = timestamp


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def _names(vectors: list[dict[str, Any]]) -> list[str]:
    names: set[str] = set()
    for vector in vectors:
        names |= set(vector.get("deposits", {}))
        for step in vector["steps"]:
            names |= {step[k] for k in ("trader", "liquidator") if k in step}
    return sorted(names)


def _compare(where: str, key: str, chain_value: Any, model_value: Any, expected: Any, departs: bool) -> None:
    assert chain_value == model_value, f"{where}: {key}: chain {chain_value} != model {model_value}"
    if not departs:
        assert chain_value == expected, f"{where}: {key}: chain {chain_value} != vector {expected}"


def replay_on_chain(chain: Chain, vector: dict[str, Any]) -> None:
    model, t0 = build_protocol(vector, t0=chain.t0, **CHAIN_OPTIONS)
    departs = vector["name"] in DEPARTURES
    chain.fund(vector)
    steps = vector["steps"]
    number = 0
    while number < len(steps):
        step = steps[number]
        now = t0 + step["t"]
        where = f"{vector['name']} step {number} ({step['action']})"
        if step["action"] == "check":
            chain.mine_at(now)
            for part in ("expect", "model_expect"):
                for key, expected in step.get(part, {}).items():
                    _compare(where, key, chain.view(key, expected), model_view(model, key, expected, now, t0),
                             expected, departs)
            number += 1
            continue
        group = [step]
        while (number + len(group) < len(steps) and steps[number + len(group)]["action"] != "check"
               and steps[number + len(group)].get("block") == step.get("block")):
            group.append(steps[number + len(group)])
        # balances before the step, for the numbers read as differences: only for a step alone in its block
        alone = len(group) == 1
        balances = [chain.d.vault.balanceOfWad(chain.accounts[s["trader"]]) if alone and s.get("trader") else None
                    for s in group]
        fund_before = chain.d.vault.balanceOfWad(chain.d.insurance_fund) if alone else None
        calls = [chain.call_of(s) for s in group]
        if len(group) == 1:
            sent = [send(*calls[0], timestamp=now)]
        else:
            sent = send_block(calls, now)
        chain.last_time = now
        for offset, (s, outcome, before) in enumerate(zip(group, sent, balances, strict=True)):
            here = f"{vector['name']} step {number + offset} ({s['action']})"
            try:
                result = run_action(model, s, now)
                model_error = None
            except ModelError as exc:
                result, model_error = None, exc.name
            chain_error = CHAIN_ERRORS.get(outcome.error or "", outcome.error)
            assert chain_error == model_error, f"{here}: chain error {chain_error} != model error {model_error}"
            if "error" in s or model_error is not None:
                assert departs or chain_error == s.get("error"), f"{here}: {chain_error} != vector {s.get('error')}"
                continue
            got = chain.result_of(s, outcome, before, fund_before)
            for part in ("expect", "model_expect"):
                for key, expected in s.get(part, {}).items():
                    model_value = result if key == "result" else result[key]
                    assert key in got, f"{here}: {key} not read from the chain"
                    _compare(here, key, got[key], model_value, expected, departs)
        number += len(group)


@pytest.mark.parametrize("key", list(GROUPS), ids=[GROUPS[k][0]["name"] for k in GROUPS])
def test_v1_vectors_on_chain(key: str) -> None:
    vectors = GROUPS[key]
    deployed = Chain(vectors[0], _names(vectors))
    # brownie's own snapshot calls (not raw RPC): its transaction history, and with it every account's nonce,
    # follows the revert
    snapshot = chain._take_snapshot()
    for vector in vectors:
        replay_on_chain(deployed, vector)
        snapshot = chain._revert(snapshot)
        deployed.last_time = deployed.t0


def test_every_vector_is_replayed_and_the_departures_are_exactly_where_the_model_departs() -> None:
    """Every vector is in one group; DEPARTURES lists exactly the vectors whose v1 numbers the model with the chain's
    departures does not reproduce (a stale or missing entry fails here), and raising the initial ratio changes no
    v1 number (the model with v1's rules replays every adjusted vector)."""
    assert sorted(v["name"] for group in GROUPS.values() for v in group) == sorted(v["name"] for v in VECTORS)
    departing = set()
    for vector in map(on_chain, VECTORS):
        replay(vector)  # v1's rules: every number holds
        try:
            replay(vector, **CHAIN_OPTIONS)
        except (AssertionError, ModelError):
            departing.add(vector["name"])
    assert departing == set(DEPARTURES)

