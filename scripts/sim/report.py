"""The record of a run: per-step CSV, the 4-panel plot and the summary table (markdown)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

WAD = 10**18


@dataclass(frozen=True)
class StepRecord:
    """One step, after the keepers' pass (amounts wad, sizes wad of base)."""

    step: int
    seconds: int  # since the start of the scenario
    mark: int
    index: int
    oi_long: int
    oi_short: int
    arbitrageur_size: int  # its share of the open interest (signed)
    funding_rate: int  # last settled, per funding period
    fund: int
    bad_debt: int  # cumulative
    fund_funding: int  # cumulative: the pool's side of funding, + earned by the fund, − paid by it
    liquidations: int  # this step
    partial_liquidations: int
    liquidated_notional: int
    solvency_gap: int  # vault tokens − every free balance − the fund − the markets' collateral
    collateral: int  # what the market holds for the open positions
    pending_bad_debt: int  # Σ of the under-water positions' deficits (each closed alone at the pool now)
    headroom: int  # fund − pending bad debt: what the fund would keep if they were all liquidated now
    shutdown: bool

    @property
    def hours(self) -> float:
        return self.seconds / 3600


def write_csv(records: Sequence[StepRecord], path: Path) -> None:
    with path.open("w", newline="") as fp:
        writer = csv.DictWriter(fp, fieldnames=[f.name for f in fields(StepRecord)])
        writer.writeheader()
        for r in records:
            writer.writerow(asdict(r))


def q(x: int) -> float:
    """Wad to quote units."""
    return x / WAD


def plot(records: Sequence[StepRecord], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = [r.hours for r in records]
    fig, (ax1, ax2, ax3, ax4) = plt.subplots(4, 1, figsize=(11, 12), sharex=True)
    ax1.plot(hours, [q(r.index) for r in records], color="black", lw=1.2, label="index (oracle)")
    ax1.plot(hours, [q(r.mark) for r in records], color="tab:blue", lw=1.2, label="mark (pool)")
    ax1.set(title=f"Mark vs index — {title}", ylabel="price")
    ax2.plot(hours, [q(r.oi_long) for r in records], color="tab:green", label="long")
    ax2.plot(hours, [q(r.oi_short) for r in records], color="tab:red", label="short")
    ax2.plot(hours, [q(abs(r.arbitrageur_size)) for r in records], color="tab:gray", ls="--", lw=1,
             label="of which the arbitrageur")
    ax2.set(title="Open interest", ylabel="ETH")
    ax3.plot(hours, [q(r.fund) for r in records], color="tab:blue", label="InsuranceFund balance")
    ax3.plot(hours, [q(r.bad_debt) for r in records], color="tab:red", label="cumulative bad debt")
    ax3.plot(hours, [q(r.headroom) for r in records], color="tab:gray", ls="--", lw=1,
             label="fund − pending bad debt of under-water positions")
    ax3.axhline(0, color="black", lw=0.5)
    ax3.set(title="InsuranceFund and bad debt", ylabel="quote")
    width = (hours[1] - hours[0]) * 0.8 if len(hours) > 1 else 0.01
    ax4.bar(hours, [r.liquidations - r.partial_liquidations for r in records], width=width, color="tab:red", label="full")
    ax4.bar(hours, [r.partial_liquidations for r in records], width=width, color="tab:orange",
            bottom=[r.liquidations - r.partial_liquidations for r in records], label="partial")
    ax4.set(title="Liquidations per step", ylabel="count", xlabel="hour")
    ax4.yaxis.get_major_locator().set_params(integer=True)
    cumulative = ax4.twinx()
    total, running = 0.0, []
    for r in records:
        total += q(r.liquidated_notional)
        running.append(total)
    cumulative.plot(hours, running, color="black", lw=1, label="liquidated notional (cumulative)")
    cumulative.set_ylabel("quote")
    halted = next((r.hours for r in records if r.shutdown), None)
    for ax in (ax1, ax2, ax3, ax4):
        if halted is not None:
            ax.axvline(halted, color="purple", ls=":", lw=1.5, label="market halted" if ax is ax1 else None)
        ax.legend(loc="upper left", fontsize=8)
    cumulative.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def markdown_table(rows: Sequence[tuple[str, str]]) -> str:
    lines = ["| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines) + "\n"


def text_table(rows: Sequence[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
