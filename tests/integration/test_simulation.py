"""The crash simulation (scripts/simulate.py), each scenario in a short version: the vault stays solvent at
every step, everyone leaves with exactly what the views said they were owed, the luna scenario drains the
InsuranceFund with funding and the receivers are then paid less, without a halt from funding, and the reports
are written."""

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


def test_luna_drains_the_fund_and_funding_never_halts_the_market(tmp_path):
    """The fund pays the pool's side of funding until its surplus is gone; then the receivers get what the payers
    pay (old main halted the market on the first payment the fund could not make). A halt, if any, is bad debt."""
    r = short_run("luna", tmp_path)
    last = r.records[-1]
    print(f"fund paid {-last.fund_funding / 1e18:,.0f}, receivers not paid {last.receivers_unpaid / 1e18:,.0f}, "
          f"fund {last.fund / 1e18:,.0f}, halted {r.halted_at}")
    assert last.fund_funding < 0 and last.receivers_unpaid > 0
    assert min(x.fund for x in r.records) < r.fund_start // 100
    halted = r.halted_at
    if halted is not None:
        assert r.shortfall > 0 and all(x.shutdown for x in r.records[halted.step :])
    assert_everyone_whole(r)
    assert "funding the fund could not pay" in (tmp_path / "sim-luna.md").read_text()
    if halted is not None:
        holders = [p for p in r.payouts if p.how == "settle"]
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

