"""Crash simulation: solvency under stress, on a real chain with the real keepers.

    make sim                    # the crash scenario (SCENARIO=squeeze|chop|luna for the others)
    brownie run scripts/simulate.py main luna

`run(scenario, traders=, steps=, seed=)` deploys a fresh protocol, funds `traders` traders (random sides,
sizes, leverage up to the 10x maximum) and steps through the scenario's index path (perp_ops/sim/scenarios.py):
every step the oracle moves, a few traders open or close, and the in-repo keepers make one pass each
(funding, arbitrageur, liquidator: their `run_once`, what `--once` runs). Each step records mark, index,
open interest, funding rate, the InsuranceFund, cumulative bad debt, liquidations and the solvency gap
(vault tokens − every free balance, the fund and the collateral booked to open positions; never
negative). At the end everyone closes (or settles, if the market halted) and withdraws, each checked
against what the views said they were owed (perp_ops/sim/closeout.py). Writes reports/sim-<scenario>.png,
.md and .csv.
"""

from __future__ import annotations

import contextlib
import io
import random
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from perp_ops import anvil_race
from perp_ops.sim import report
from perp_ops.sim.closeout import Payout, close_out
from perp_ops.sim.market import (
    START_PRICE,
    Books,
    Budget,
    Market,
    Tally,
    deploy_market,
    keeper_logs,
    latest_timestamp,
    link_libraries,
    mine_at,
    next_block_at,
    one_second_blocks,
)
from perp_ops.sim.report import StepRecord
from perp_ops.sim.scenarios import HOUR, SCENARIOS, Scenario, index_path

SEED = 7
TRADERS = 60
REPORTS = Path("reports")
SETUP_SECONDS = 900  # deploy, deposits and the opening trades happen before the scenario's clock starts
WAD = 10**18


@dataclass
class SimResult:
    scenario: Scenario
    seed: int
    traders: int
    records: list[StepRecord]
    payouts: list[Payout]
    final: Books
    deposited: int  # quote units, traders and the arbitrageur
    fund_seed: int  # quote units, the owner's top-up of the InsuranceFund
    actions: Counter[str] = field(default_factory=Counter)
    orders: Counter[str] = field(default_factory=Counter)
    liquidator_fees: int = 0
    fund_start: int = 0
    shortfall: int = 0  # what the fund could not pay when the market halted
    scale: int = 10**12  # wad per token unit
    keeper_log: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    files: list[Path] = field(default_factory=list)

    @property
    def halted_at(self) -> StepRecord | None:
        return next((r for r in self.records if r.shutdown), None)

    @property
    def final_gap(self) -> int:
        return solvency_gap(self.final, self.final.free, self.scale)

    @property
    def all_exact(self) -> bool:
        return all(p.exact for p in self.payouts)

    @property
    def tokens_in(self) -> int:
        """Token units that entered the vault: the deposits and the fund's seed."""
        return (self.deposited + self.fund_seed) * WAD // self.scale

    @property
    def tokens_out(self) -> int:
        """Token units withdrawn by everyone."""
        return sum(p.received for p in self.payouts)


def solvency_gap(b: Books, free: dict[str, int], scale: int) -> int:
    """Vault tokens (wad) − every free balance − the fund − the market's booked collateral."""
    return b.vault_tokens * scale - sum(free.values()) - b.fund - b.collateral


def record(m: Market, step: int, seconds: int, tally: Tally, totals: Tally) -> StepRecord:
    b = m.books()
    # after a shutdown nothing is pending: the claims share what the market (and the fund) holds
    pending = 0 if b.shutdown else sum(max(-b.value(h), 0) for h in b.holdings.values() if h.size)
    return StepRecord(
        step=step, seconds=seconds, mark=b.mark, index=b.index,
        oi_long=sum(h.size for h in b.holdings.values() if h.size > 0),
        oi_short=-sum(h.size for h in b.holdings.values() if h.size < 0),
        arbitrageur_size=b.holdings[m.arbitrageur.address].size,
        funding_rate=b.funding_rate, fund=b.fund, bad_debt=totals.bad_debt, fund_funding=totals.fund_funding,
        receivers_unpaid=totals.receivers_unpaid,
        liquidations=tally.liquidations, partial_liquidations=tally.partial,
        liquidated_notional=tally.liquidated_notional,
        solvency_gap=solvency_gap(b, b.free, m.scale),
        collateral=b.collateral, pending_bad_debt=pending, headroom=b.fund - pending, shutdown=b.shutdown,
    )


def open_positions(m: Market, rng: random.Random) -> None:
    for i, profile in enumerate(m.profiles):
        m.open(i, profile, rng)


def step_through(m: Market, sc: Scenario, steps: int, rng: random.Random, t0: int, progress: bool) -> tuple[list[StepRecord], int]:
    """Steps 1..steps; returns the records (step 0 included) and the fund's shortfall at a halt."""
    from tqdm import tqdm

    path = index_path(sc, steps, rng, START_PRICE)
    dt = sc.duration // steps
    chance = min(1.0, sc.trades_per_hour * dt / HOUR)
    tally, totals = Tally(), Tally()
    m.run_keepers()
    m.scan(tally)
    totals.add(tally)
    records = [record(m, 0, 0, tally, totals)]
    for i in tqdm(range(1, steps + 1), desc=sc.name, unit="step", disable=not progress):
        tally = Tally()
        next_block_at(t0 + i * dt)
        m.set_index(path[i])
        if not m.amm.isShutdown():
            m.activity(rng, chance)
        m.run_keepers()
        m.scan(tally)
        totals.add(tally)
        records.append(record(m, i, i * dt, tally, totals))
    return records, totals.halted_shortfall or 0


def run(
    scenario: str = "crash",
    traders: int = TRADERS,
    steps: int | None = None,
    seed: int = SEED,
    report_dir: Path | None = REPORTS,
    budget: Budget | None = None,
    progress: bool = True,
) -> SimResult:
    """Run `scenario` on the connected development chain; write the reports into `report_dir` (None: none)."""
    anvil_race.install()
    started = time.monotonic()
    sc = SCENARIOS[scenario]
    steps = steps or sc.steps
    budget = budget or Budget()
    rng = random.Random(seed)
    with one_second_blocks():
        # the linked libraries first: the deployment then takes as many blocks on a fresh chain as on one that
        # has them, and the market opens, and its first funding window starts, at the same second on every run
        link_libraries()
        start = (latest_timestamp() // HOUR + 1) * HOUR  # an hour boundary: the funding clock lines up alike
        next_block_at(start)
        m = deploy_market(traders, rng, budget)
        deposited = budget.arbitrageur + sum(p.deposit for p in m.profiles)
        open_positions(m, rng)
        t0 = start + SETUP_SECONDS
        mine_at(t0)
        fund_start = m.d.insurance_fund.fundBalance()
        with keeper_logs(m.log):
            records, shortfall = step_through(m, sc, steps, rng, t0, progress)
            payouts = close_out(m, rng)
        final = m.books()
    result = SimResult(
        sc, seed, traders, records, payouts, final, deposited, budget.insurance_fund,
        actions=Counter(a.kind for a in m.actions), orders=m.orders, liquidator_fees=m.liquidator_state.profit,
        fund_start=fund_start, shortfall=shortfall, scale=m.scale, keeper_log=m.log,
    )
    result.wall_seconds = time.monotonic() - started
    if report_dir is not None:
        result.files = write_reports(result, report_dir)
    return result


# ------------------------------------------------------------------------------------------------ summary


def money(x: int) -> str:
    return f"{x / WAD:,.0f}"


def price(x: int) -> str:
    return f"{x / WAD:,.2f}"


def market_rows(r: SimResult) -> list[tuple[str, str]]:
    recs, sc = r.records, r.scenario
    first, last = recs[0], recs[-1]
    gaps = [abs(x.mark - x.index) * 100 / x.index for x in recs]
    lows, highs = min(x.index for x in recs), max(x.index for x in recs)
    return [
        ("scenario", f"`{sc.name}`: {sc.title}"),
        ("market", (f"{r.traders} traders + the arbitrageur, {len(recs) - 1} steps of "
                   f"{recs[1].seconds // 60} min ({sc.hours:g} h), seed {r.seed}")),
        ("index", f"{price(first.index)} → {price(last.index)} (min {price(lows)}, max {price(highs)})"),
        ("mark at the end", f"{price(last.mark)}; mark−index gap mean {sum(gaps) / len(gaps):.2f} %, max {max(gaps):.2f} %"),
        ("open interest, peak", (f"long {max(x.oi_long for x in recs) / WAD:,.1f} ETH, "
                                f"short {max(x.oi_short for x in recs) / WAD:,.1f} ETH")),
        ("trader orders", f"{r.orders['filled']} filled, {r.orders['refused']} refused by the protocol"),
        ("funding rate, largest", f"{max(abs(x.funding_rate) for x in recs) * 100 / WAD:.3f} % per hour"),
    ]


def risk_rows(r: SimResult) -> list[tuple[str, str]]:
    recs, halted = r.records, r.halted_at
    gap = min(x.solvency_gap for x in recs)
    halt = (f"at {halted.hours:.1f} h (step {halted.step}), the fund short by {money(r.shortfall)}; settled"
            if halted else "no")
    return [
        ("liquidations", (f"{sum(x.liquidations for x in recs)} ({sum(x.partial_liquidations for x in recs)} partial), "
                         f"{money(sum(x.liquidated_notional for x in recs))} of notional; "
                         f"liquidator fees {money(r.liquidator_fees)}")),
        ("bad debt", money(recs[-1].bad_debt)),
        ("funding, the fund's side", f"{money(recs[-1].fund_funding)} (+ earned, − paid to the traders' net position)"),
        ("funding the fund could not pay", (f"{money(recs[-1].receivers_unpaid)}, taken off the receiving side "
                                            "(the market stays open)")),
        ("InsuranceFund", f"{money(r.fund_start)} → {money(recs[-1].fund)} (min {money(min(x.fund for x in recs))})"),
        ("fund − pending bad debt, min", money(min(x.headroom for x in recs))),
        ("market halted", halt),
        ("solvency gap, min over steps", f"{gap / WAD:,.6f} ({'never negative' if gap >= 0 else 'NEGATIVE'})"),
    ]


def settlement_row(r: SimResult) -> list[tuple[str, str]]:
    """After a halt: every position registered its claim (funding included) in the claim window, then each was
    paid the same share of it, whatever the order."""
    settled = [p for p in r.payouts if p.how == "settle"]
    if not settled:
        return []
    claimed = [p for p in settled if p.claim]
    total = sum(p.claim for p in claimed)
    paid = total - sum(p.unpaid for p in claimed)
    last = claimed[-1] if claimed else None
    share = f"{paid / total:.4%}" if total else "-"
    last_share = f"{(last.claim - last.unpaid) / last.claim:.4%}" if last else "-"
    return [("settlement", (f"{len(settled)} positions at {price(r.final.settlement_price)}; {len(claimed)} claims of "
                            f"{money(total)} (funding included) shared {money(paid)}: {share} of each, whatever the "
                            f"order (the last paid, {last.role if last else '-'}, got {last_share} of its claim); "
                            f"{money(max(r.final.collateral, 0))} of collateral left to no one"))]


def exit_rows(r: SimResult) -> list[tuple[str, str]]:
    hows, acts = Counter(p.how for p in r.payouts), r.actions
    paid_out = sum(p.received for p in r.payouts if p.role != "liquidator") * r.scale // WAD
    dust = sum(r.final.free.values())
    return [
        ("everyone out", (f"{len(r.payouts)} accounts: {hows['close']} closed, {hows['settle']} settled, "
                         f"{hows['liquidated']} liquidated, {hows['balance']} had only a balance; paid exactly "
                         f"what the views said: {sum(p.exact for p in r.payouts)}/{len(r.payouts)}")),
        ("deposits → withdrawals", f"{r.deposited:,} → {paid_out:,} (traders and the arbitrageur)"),
        ("every token accounted for", (f"deposits + fund seed {r.tokens_in * r.scale / WAD:,.6f} = withdrawals "
                                       f"{r.tokens_out * r.scale / WAD:,.6f} + left in the vault "
                                       f"{r.final.vault_tokens * r.scale / WAD:,.6f}")),
        ("left in the vault", (f"fund {money(r.final.fund)}, market collateral {r.final.collateral / WAD:,.6f}, "
                              f"dust {dust / WAD:.6f}; final gap {r.final_gap // r.scale:,} token units")),
        ("keepers, one pass per step", (f"{acts['pay_funding']} funding payments, {acts['arbitrage']} arbitrage "
                                       f"trades, {acts['liquidate']} liquidations; {len(r.keeper_log)} refusals")),
        ("run time", f"{r.wall_seconds:.0f} s wall clock"),
    ]


def summary_rows(r: SimResult) -> list[tuple[str, str]]:
    return market_rows(r) + risk_rows(r) + settlement_row(r) + exit_rows(r)


def write_reports(r: SimResult, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    name = r.scenario.name
    png, md, csv_path = (directory / f"sim-{name}.{ext}" for ext in ("png", "md", "csv"))
    report.plot(r.records, r.scenario.title, png)
    report.write_csv(r.records, csv_path)
    md.write_text(f"# Simulation `{name}`: {r.scenario.title}\n\n![{name}](sim-{name}.png)\n\n"
                  + report.markdown_table(summary_rows(r)))
    return [png, md, csv_path]


def main(scenario: str = "crash") -> SimResult:
    warnings.filterwarnings("ignore", category=FutureWarning)  # brownie's own rpc.* deprecation notices
    if scenario not in SCENARIOS:
        raise SystemExit(f"unknown scenario {scenario!r}: one of {', '.join(SCENARIOS)}")
    with contextlib.redirect_stdout(io.StringIO()):  # brownie prints every transaction; tqdm uses stderr
        result = run(scenario)
    print(report.text_table(summary_rows(result)))
    print("written: " + ", ".join(str(p) for p in result.files))
    return result
