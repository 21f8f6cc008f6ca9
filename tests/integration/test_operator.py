"""perp_client.operator on a timelocked deployment: status and what needs a person (collateral against what the
positions are worth, bad debt), a change scheduled with its before / after table, listed pending, refused before
its delay, executed after; a cancel; the guardian's pause and the owner's unpause; the fund topped up; bad input
sends nothing."""

from __future__ import annotations

import json
import os

import pytest
from brownie import accounts, chain

from perp_client import PerpError
from perp_client.operator import Operator
from perp_dashboard import views
from perp_dashboard.events import EventLog
from perp_ops.deploy import DEFAULT_CONFIG, deploy_protocol
from tests.helpers import SELL, wad
from tests.integration.perp_clients import client_as

DELAY = 600


@pytest.fixture(scope="module")
def governed(owner):
    return deploy_protocol(
        {"timelock_delay": DELAY, "guardian": accounts[6].address, "timelock_proposers": [accounts[7].address],
         "insurance_fund_seed": wad(100), "max_oracle_staleness": 7_200},
        deployer=owner,
    )


def operator_as(d, account) -> Operator:
    contracts = {"clearing_house": d.clearing_house.address, "vault": d.vault.address,
                 "insurance_fund": d.insurance_fund.address, "price_feed": d.price_feed.address,
                 "timelock": d.timelock.address, **{f"amm_{s}": a.address for s, a in d.amms.items()}}
    return Operator(client_as(d, account), contracts)


def test_status_says_what_needs_a_person(governed):
    d = governed
    op = operator_as(d, accounts[6])
    status = op.status()
    assert not status.needs_person, status.problems
    (eth,) = status.markets
    assert (eth.state, eth.index_price, eth.mark_price, eth.collateral) == ("open", 10 * 10**18, 10 * 10**18, 0)
    assert status.fund_balance == wad(100) and "all fine" in status.table()

    chain.sleep(7_200 + 3_600)  # the feed is not updated, funding is not paid
    chain.mine()
    problems = op.status().problems
    assert any("ETH: the index is refused (StalePrice" in p for p in problems), problems
    assert any("ETH: funding is" in p and "overdue" in p for p in problems), problems

    d.aggregators["ETH"].updateAnswer(10 * 10**8, {"from": accounts[0]})
    op.pause()  # the guardian
    status = op.status()
    assert status.paused and any("trading is paused" in p for p in status.problems)
    assert "NEEDS A PERSON: trading is paused" in status.table()


def test_a_change_through_the_timelock(governed):
    d = governed
    proposer = operator_as(d, accounts[7])
    new = (wad("0.1"), wad("0.06"), wad("0.02"), wad("0.5"))
    call = proposer.plan("clearing_house", "setParams", *new)
    assert call.changes == (
        ("initMarginRatio", "5.0000 %", "10.0000 %"), ("maintenanceMarginRatio", "5.0000 %", "6.0000 %"),
        ("liquidationFeeRatio", "5.0000 %", "2.0000 %"), ("partialLiquidationRatio", "0.0000 %", "50.0000 %"),
    ), call.changes
    assert call.table().splitlines()[1].split() == ["initMarginRatio", "5.0000", "%", "10.0000", "%"]
    assert call.describe().startswith(f"clearing_house ({d.clearing_house.address}).setParams(") and call.data in call.describe()
    op_id = proposer.schedule(call)
    (pending,) = proposer.pending()
    assert pending.operation_id == op_id and not pending.ready
    assert pending.description.startswith("clearing_house.setParams(") and f"={new[1]}," in pending.description
    with pytest.raises(PerpError, match="is not ready"):
        proposer.execute(op_id)
    assert d.clearing_house.initMarginRatio() == DEFAULT_CONFIG["init_margin_ratio"]
    chain.sleep(DELAY)
    chain.mine()
    assert proposer.pending()[0].ready
    proposer.execute(op_id)
    assert d.clearing_house.initMarginRatio() == new[0] and proposer.pending() == []

    # a second change, cancelled: never executes
    other = proposer.plan("amm_ETH", "setOpen", False)
    proposer.schedule(other)
    proposer.cancel(other.operation_id)
    assert proposer.pending() == []
    with pytest.raises(PerpError, match="is not pending"):
        proposer.execute(other.operation_id)
    assert d.amm.open()


def test_unpause_is_the_timelocks_and_shows_its_change(governed):
    d = governed
    guardian, proposer = operator_as(d, accounts[6]), operator_as(d, accounts[7])
    if not d.clearing_house.paused():
        guardian.pause()
    call = proposer.plan_unpause()
    assert call.changes == (("paused", "yes", "no"),) and "paused" in call.table()
    with pytest.raises(PerpError, match="OwnableUnauthorizedAccount"):  # the guardian cannot unpause
        guardian.client.send(d_clearing_house(guardian).functions.unpause(), "unpause")
    op_id = proposer.schedule(call)
    chain.sleep(DELAY)
    chain.mine()
    proposer.execute(op_id)
    assert not d.clearing_house.paused()


def d_clearing_house(op: Operator):
    return op.client.clearing_house


def test_status_weighs_the_collateral_against_what_positions_are_worth(owner, alice, bob, carol):
    """Alice and bob short with an empty fund (the solvency suite's case): the market holds 40, alice's
    position alone is worth 114.12; status sums what every position is worth, says the fund cannot cover the
    difference (closing would be refused), and stops saying so once the fund is topped up; a liquidation's bad
    debt is counted."""
    d = deploy_protocol(deployer=owner)
    for t in (alice, bob):
        d.quote_token.mint(t, wad(20), {"from": t})
        d.quote_token.approve(d.vault, wad(20), {"from": t})
        d.vault.deposit(wad(20), {"from": t})
        d.clearing_house.openPosition(d.amm, SELL, wad(20), wad(10), 0, {"from": t})
    op = Operator(client_as(d, carol), contracts_of(d))
    status = op.status()
    (eth,) = status.markets
    worth = 0
    for t in (alice, bob):
        p = op.client.position("ETH", t.address)
        worth += max(p.margin + p.unrealized_pnl - p.funding_payment, 0)
    assert (eth.owed, eth.positions, eth.collateral, eth.bad_debt) == (worth, 2, wad(40), 0)
    assert eth.shortfall == worth - wad(40) > wad(70)
    log = EventLog(op.client)  # the dashboard's operator view reads the same number
    dashboard = views.operator_view(op.client, log.refresh(), False)["markets"][0]
    assert (dashboard["owed_wad"], dashboard["covered"]) == (str(worth), False)
    assert any("ETH: its open positions are worth" in p and "closing them will be refused" in p for p in status.problems)
    assert "owed" in status.table()

    d.quote_token.mint(carol, wad(500), {"from": carol})
    nonce = carol.nonce
    with pytest.raises(PerpError, match="top-up amount must be positive"):
        op.top_up("0")
    with pytest.raises(PerpError, match="holds 500.* less than 501"):
        op.top_up("501")
    assert carol.nonce == nonce  # nothing sent
    assert op.top_up("500") == wad(500)
    status = op.status()
    assert status.fund_balance == wad(500) and not any("worth" in p for p in status.problems), status.problems

    d.clearing_house.closePosition(d.amm, 0, {"from": alice})  # the fund prepays alice's profit
    d.aggregators["ETH"].updateAnswer(40 * 10**8, {"from": owner})  # bob, short, is far under water
    tx = d.clearing_house.liquidate(d.amm, bob, {"from": carol})
    bad_debt = sum(e["badDebt"] for e in tx.events["PositionChanged"])
    (eth,) = op.status().markets
    assert eth.bad_debt == bad_debt > 0 and (eth.owed, eth.positions) == (0, 0)


def contracts_of(d) -> dict[str, str]:
    return {"clearing_house": d.clearing_house.address, "vault": d.vault.address,
            "insurance_fund": d.insurance_fund.address, "price_feed": d.price_feed.address,
            **{f"amm_{s}": a.address for s, a in d.amms.items()}}


def test_bad_input_sends_nothing(governed):
    d = governed
    proposer = operator_as(d, accounts[7])
    nonce = accounts[7].nonce
    with pytest.raises(PerpError, match="unknown contract role 'clearinghouse'"):
        proposer.plan("clearinghouse", "setParams", 1, 2, 3, 4)
    with pytest.raises(PerpError, match=r"clearing_house.setParams\(1,\)"):
        proposer.plan("clearing_house", "setParams", 1)
    with pytest.raises(PerpError, match="is not pending"):
        proposer.cancel("0x" + "ab" * 32)
    assert accounts[7].nonce == nonce


def test_status_reports_the_sequencer(owner):
    d = deploy_protocol({"sequencer_grace_period": 600}, deployer=owner)
    contracts = {"clearing_house": d.clearing_house.address, "vault": d.vault.address,
                 "insurance_fund": d.insurance_fund.address, "price_feed": d.price_feed.address,
                 **{f"amm_{s}": a.address for s, a in d.amms.items()}}
    op = Operator(client_as(d, accounts[6]), contracts)
    status = op.status()
    assert "sequencer: up for" in status.table() and "grace period 600 s over" in status.sequencer
    assert not any("sequencer" in p for p in status.problems)
    now = chain[-1].timestamp
    d.sequencer_feed.updateRoundData(2, 1, now, now - 30, {"from": owner})
    status = op.status()
    assert status.sequencer.startswith("DOWN for") and any("sequencer is down" in p for p in status.problems)
    d.sequencer_feed.updateRoundData(3, 0, now, now, {"from": owner})
    assert "opening and liquidation resume in" in op.status().sequencer


# --------------------------------------------------------------------------------- the same through `perp operator`


def test_perp_operator_commands(owner, tmp_path, monkeypatch):
    """`perp operator` as an operator types it: status, top-up, pause (the guardian), unpause and a parameter change
    scheduled through the timelock (the exact call and a before / after table), pending, refused before its delay,
    executed after; bad input is one line and sends nothing."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from brownie import web3

    from perp_ops.cli import main as cli_main
    from perp_ops.console import record_dev_deployment
    from tests.integration.perp_clients import anvil_key

    d = deploy_protocol({"timelock_delay": DELAY, "guardian": accounts[6].address,
                         "timelock_proposers": [accounts[7].address], "insurance_fund_seed": wad(100)}, deployer=owner)
    monkeypatch.setenv("DEPLOYMENTS_DIR", str(tmp_path))
    record = record_dev_deployment(d)

    def perp(*args: str, key: int | None = None) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with monkeypatch.context() as m:
            for name in [n for n in os.environ if n.startswith(("PRIVATE_KEY", "PERP_"))]:
                m.delenv(name)
            m.setenv("RPC_URL", web3.provider.endpoint_uri)
            m.setenv("PERP_DEPLOYMENT", str(record))
            m.setenv("PERP_DATA_DIR", str(tmp_path / "data"))
            if key is not None:
                m.setenv("PRIVATE_KEY", anvil_key(key))
            with redirect_stdout(out), redirect_stderr(err):
                code = cli_main(list(args))
        return code, out.getvalue(), err.getvalue()

    code, out, _ = perp("operator", "status")
    assert code == 0 and "all fine" in out and "owed to positions" in out and "sequencer" in out, out

    # top-up: tokens from the key's wallet into the fund, in human units
    d.quote_token.mint(accounts[8], wad(50), {"from": accounts[8]})
    code, out, _ = perp("operator", "top-up", "25.5", key=8)
    assert code == 0 and d.insurance_fund.fundBalance() == wad("125.5") and "125.50" in out, out
    code, _, err = perp("operator", "top-up", "1000", key=8)
    assert code == 1 and err.strip().startswith("error: top-up: the wallet") and d.insurance_fund.fundBalance() == wad("125.5")

    # the guardian pauses; status then needs a person (exit 1)
    assert perp("operator", "pause", key=6)[0] == 0 and d.clearing_house.paused()
    code, out, _ = perp("operator", "status", "--json")
    assert code == 1 and json.loads(out)["paused"] is True

    # unpause is the timelock's: scheduled, shown, refused before its delay, executed after
    code, out, _ = perp("operator", "unpause", key=7)
    assert code == 0 and "paused" in out and "scheduled 0x" in out, out
    unpause_id = out.split("scheduled ")[1].split(":")[0]
    code, out, _ = perp("operator", "pending", "--json")
    (pending,) = json.loads(out)
    assert pending["operation"] == unpause_id and pending["ready"] is False
    code, _, err = perp("operator", "execute", unpause_id, key=7)
    assert code == 1 and "is not ready" in err and d.clearing_house.paused()

    # a parameter change: the exact call and its before / after
    code, out, _ = perp("operator", "schedule", "clearing_house", "setParams", "1e17", "6e16", "2e16", "5e17", key=7)
    assert code == 0 and "setParams(" in out and "maintenanceMarginRatio" in out and "6.0000 %" in out, out
    params_id = out.split("scheduled ")[1].split(":")[0]
    code, _, err = perp("operator", "schedule", "clearing_house", "noSuchFunction", key=7)
    assert code == 1 and err.count("\n") == 1 and err.startswith("error: ")
    assert len(json.loads(perp("operator", "pending", "--json")[1])) == 2

    chain.sleep(DELAY)
    chain.mine()
    assert perp("operator", "execute", unpause_id, key=7)[0] == 0 and not d.clearing_house.paused()
    assert perp("operator", "execute", params_id, key=7)[0] == 0
    assert d.clearing_house.maintenanceMarginRatio() == wad("0.06")
    assert json.loads(perp("operator", "pending", "--json")[1]) == []
    # the deployer's key has no power left
    code, _, err = perp("operator", "cancel", params_id, key=0)
    assert code == 1 and err.startswith("error: ")
