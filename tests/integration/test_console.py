"""The console helper (scripts/perp.py): human units, tables, one-line errors that send nothing."""

from __future__ import annotations

import json

import pytest
from brownie import web3

from perp_client import PerpError
from perp_ops.console import Perp
from tests.helpers import wad


@pytest.fixture
def perp(protocol):
    return Perp(protocol)


def test_a_session(perp, protocol, alice, bob, capsys):
    perp.deposit(alice, 1000)
    perp.deposit(bob, 1000)
    perp.long("ETH", 10, 5, alice)
    perp.short("eth", 5, 2, bob)
    perp.add_margin("ETH", 10, alice)
    perp.remove_margin("ETH", 5, alice)
    out = capsys.readouterr().out
    assert "error" not in out, out
    assert "deposited 1000" in out and "long ETH: size" in out and "short ETH: size" in out
    assert protocol.clearing_house.getPosition(protocol.amm, alice)[1] == wad(15)
    perp.position("ETH", alice)
    table = capsys.readouterr().out
    for row in ("size", "margin", "open notional", "unrealized PnL", "margin ratio", "liquidation price", "vault balance"):
        assert row in table
    perp.market("ETH")
    table = capsys.readouterr().out
    for row in ("reserves", "mark price", "index price", "mark TWAP", "funding rate", "next funding", "open interest"):
        assert row in table
    perp.close("ETH", alice)
    perp.withdraw(alice, 100)
    assert protocol.clearing_house.getPosition(protocol.amm, alice)[0] == 0
    assert "withdrew 100" in capsys.readouterr().out


def test_errors_are_one_line_and_send_nothing(perp, alice, capsys):
    perp.deposit(alice, 10)
    capsys.readouterr()
    nonce = web3.eth.get_transaction_count(alice.address)
    perp.long("DOGE", 1, 1, alice)
    perp.long("ETH", 100, 2, alice)
    perp.long("ETH", 1, 50, alice)
    perp.close("ETH", alice)
    perp.withdraw(alice, 11)
    perp.add_margin("ETH", 1, alice)
    perp.long("ETH", "abc", 2, alice)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 7 and all(line.startswith("error: ") for line in lines)
    assert "unknown market 'DOGE' (markets: ETH)" in lines[0]
    assert "insufficient vault balance" in lines[1] and "leverage 50 is too high" in lines[2]
    assert "NoPosition" in lines[3] and "insufficient vault balance" in lines[4]
    assert web3.eth.get_transaction_count(alice.address) == nonce


def test_strict_mode_raises(protocol, alice):
    with pytest.raises(PerpError, match="unknown market"):
        Perp(protocol, strict=True).short("XYZ", 1, 1, alice)


def test_loads_a_fresh_demo_deployment_on_development(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DEPLOYMENTS_DIR", str(tmp_path))
    perp = Perp()
    perp.market("BTC")
    out = capsys.readouterr().out
    assert "deploying a fresh protocol (DEMO_CONFIG)" in out and "60,000.0000" in out
    record = json.loads((tmp_path / f"{web3.eth.chain_id}.json").read_text())
    assert {"vault", "clearing_house", "amm_ETH", "amm_BTC"} <= set(record["contracts"])
