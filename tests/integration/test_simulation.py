"""The crash simulation (scripts/simulate.py), each scenario in a short version: the vault stays solvent at
every step, everyone leaves with exactly what the views said they were owed, the luna scenario drains the
InsuranceFund and ends in a halted, settled market, and the reports are written."""

from __future__ import annotations

from pathlib import Path

import pytest

from perp_ops.sim.scenarios import SCENARIOS
from perp_ops.simulate import SimResult, run

TRADERS = 12
STEPS = {"crash": 15, "squeeze": 15, "chop": 12, "luna": 15}


def short_run(scenario: str, out: Path, traders: int = TRADERS, steps: int | None = None) -> SimResult:
    return run(scenario, traders=traders, steps=steps or STEPS[scenario], report_dir=out, progress=False)


def assert_everyone_whole(r: SimResult) -> None:
    assert all(x.solvency_gap >= 0 for x in r.records)
    assert len(r.payouts) == r.traders + 2  # the traders, the arbitrageur, the liquidator
    for p in r.payouts:
        assert p.credited == p.owed, p
        assert p.received == p.owed // p.scale, p
    assert all(v < r.scale for v in r.final.free.values())  # only dust below one token unit stays
    assert not any(h.size for h in r.final.holdings.values())
    assert r.final_gap >= 0
    assert r.tokens_in == r.tokens_out + r.final.vault_tokens  # every token unit accounted for
    assert r.final.vault_tokens * r.scale >= r.final.fund + max(r.final.collateral, 0)


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s != "luna"])
def test_scenario_keeps_everyone_whole(scenario, tmp_path):
    r = short_run(scenario, tmp_path)
    assert len(r.records) == STEPS[scenario] + 1
    assert r.actions["arbitrage"] > 0 and r.actions["pay_funding"] > 0
    assert_everyone_whole(r)
    for name in (f"sim-{scenario}.png", f"sim-{scenario}.md", f"sim-{scenario}.csv"):
        assert (tmp_path / name).stat().st_size > 0
    assert "paid exactly what the views said" in (tmp_path / f"sim-{scenario}.md").read_text()
    assert r.halted_at is None and r.final.fund > 0
    if scenario in ("crash", "squeeze"):
        assert r.actions["liquidate"] > 0  # the over-levered side is liquidated as the index runs away


def test_luna_drains_the_fund_then_halts_and_settles(tmp_path):
    r = short_run("luna", tmp_path)
    halted = r.halted_at
    assert halted is not None and r.shortfall > 0
    assert all(x.shutdown for x in r.records[halted.step :])
    assert r.final.shutdown
    holders = [p for p in r.payouts if p.how == "settle"]
    assert holders and all(p.how in ("settle", "balance") for p in r.payouts)
    assert_everyone_whole(r)
    # fair settlement: every claim (funding included) paid the same share of its value, whatever the order.
    # Each payout is its share of the pool rounded down and the dust (under a wei per claim) went to the fund,
    # so a payout is within one wei per claim of its share of what was paid out in all.
    claims = [p for p in holders if p.claim]
    total, paid = sum(p.claim for p in claims), sum(p.claim - p.unpaid for p in claims)
    assert claims and paid <= total
    for p in claims:
        assert abs((p.claim - p.unpaid) * total - p.claim * paid) < len(claims) * total, p
    assert r.final.fund < len(claims) and max(r.final.collateral, 0) == 0  # the dust went to the fund
    assert (tmp_path / "sim-luna.png").stat().st_size > 0


def test_a_seed_gives_the_same_run(tmp_path):
    a = short_run("crash", tmp_path / "a", traders=4, steps=3)
    b = short_run("crash", tmp_path / "b", traders=4, steps=3)
    assert a.records == b.records
    assert [(p.who, p.owed, p.received) for p in a.payouts] == [(p.who, p.owed, p.received) for p in b.payouts]

