"""perp_client.operator on a timelocked deployment: status and what needs a person, a change scheduled,
listed pending, refused before its delay, executed after; a cancel; the guardian's pause; bad input sends nothing."""

from __future__ import annotations

import pytest
from brownie import accounts, chain

from perp_client import PerpError
from perp_client.operator import Operator
from scripts.deploy import DEFAULT_CONFIG, deploy_protocol
from tests.helpers import wad
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
