"""The record of a run: per-step CSV, the 5-panel plot and the summary table (markdown)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from decimal import Decimal
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
    receivers_unpaid: int  # cumulative: the pool's side of funding the fund could not pay (receivers paid less)
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


# the wad fields of a StepRecord and how a person reads them: decimals shown, and the scale (100: a ratio in percent)
PRICE_FIELDS = ("mark", "index")
BASE_FIELDS = ("oi_long", "oi_short", "arbitrageur_size")
RATIO_FIELDS = ("funding_rate",)
QUOTE_FIELDS = ("fund", "bad_debt", "fund_funding", "receivers_unpaid", "liquidated_notional", "solvency_gap", "collateral", "pending_bad_debt",
                "headroom")
WAD_FIELDS = (*PRICE_FIELDS, *BASE_FIELDS, *RATIO_FIELDS, *QUOTE_FIELDS)


def _human(name: str, wad: int) -> str:
    """A wad field in human units: prices (quote per base) to 4 decimals, sizes (base) to 6, money (quote) to 6,
    the funding rate in percent per period to 6; rounded half even for reading (the `_wad` column is exact)."""
    value = Decimal(wad) / WAD
    if name in RATIO_FIELDS:
        return f"{value * 100:.6f}"
    return f"{value:.4f}" if name in PRICE_FIELDS else f"{value:.6f}"


def csv_columns() -> list[str]:
    """Human columns first (funding_rate as funding_rate_pct), then the exact wad integers (`<name>_wad`)."""
    human = [f"{f.name}_pct" if f.name in RATIO_FIELDS else f.name for f in fields(StepRecord)]
    return [*human[:2], "hours", *human[2:], *(f"{n}_wad" for n in WAD_FIELDS)]


def write_csv(records: Sequence[StepRecord], path: Path) -> None:
    """One row per step: human units (prices in quote per base, sizes in base, money in quote, the funding rate in
    percent), then the same amounts as exact wad integers in the `*_wad` columns."""
    with path.open("w", newline="") as fp:
        writer = csv.DictWriter(fp, fieldnames=csv_columns())
        writer.writeheader()
        for r in records:
            raw = asdict(r)
            row: dict[str, object] = {"step": r.step, "seconds": r.seconds, "hours": f"{r.hours:.4f}"}
            for name, value in raw.items():
                if name in WAD_FIELDS:
                    row[f"{name}_pct" if name in RATIO_FIELDS else name] = _human(name, value)
                    row[f"{name}_wad"] = value
                elif name not in row:
                    row[name] = value
            writer.writerow(row)


def q(x: int) -> float:
    """Wad to quote units."""
    return x / WAD


def plot(records: Sequence[StepRecord], title: str, path: Path) -> None:
    """Five panels over the scenario's hours, every amount in quote units: mark and index; the mark - index gap;
    open interest (notional at the mark); the InsuranceFund, its funding payments and the bad debt; liquidations.
    Each legend sits outside its panel, so it hides no line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    hours = [r.hours for r in records]
    fig, axes = plt.subplots(5, 1, figsize=(13, 15), sharex=True)
    ax1, gap_ax, ax2, ax3, ax4 = axes
    ax1.plot(hours, [q(r.index) for r in records], color="black", lw=1.2, label="index (oracle)")
    ax1.plot(hours, [q(r.mark) for r in records], color="tab:blue", lw=1.2, label="mark (pool)")
    ax1.set(title=f"Mark vs index — {title}", ylabel="price (quote per ETH)")
    gap = [q(r.mark - r.index) for r in records]
    gap_ax.plot(hours, gap, color="tab:purple", lw=1.2, label="mark − index")
    gap_ax.fill_between(hours, gap, 0, color="tab:purple", alpha=0.15)
    gap_ax.axhline(0, color="black", lw=0.5)
    gap_ax.set(title="Mark − index gap (what funding pays for)", ylabel="quote per ETH")
    pct = gap_ax.twinx()
    pct.plot(hours, [100 * (r.mark - r.index) / r.index if r.index else 0.0 for r in records], color="tab:purple",
             ls="--", lw=1, label="mark − index, % of the index (right axis)")
    pct.set_ylabel("% of the index")
    ax2.plot(hours, [q(r.oi_long) * q(r.mark) for r in records], color="tab:green", label="long")
    ax2.plot(hours, [q(r.oi_short) * q(r.mark) for r in records], color="tab:red", label="short")
    ax2.plot(hours, [q(abs(r.arbitrageur_size)) * q(r.mark) for r in records], color="tab:gray", ls="--", lw=1,
             label="of which the arbitrageur")
    ax2.set(title="Open interest (notional at the mark)", ylabel="quote")
    ax3.plot(hours, [q(r.fund) for r in records], color="tab:blue", label="InsuranceFund balance")
    ax3.plot(hours, [q(r.fund_funding) for r in records], color="tab:olive", lw=1.2,
             label="fund's funding (cumulative: + received, − paid)")
    ax3.plot(hours, [q(r.bad_debt) for r in records], color="tab:red", label="cumulative bad debt")
    ax3.plot(hours, [q(r.headroom) for r in records], color="tab:gray", ls="--", lw=1,
             label="fund − pending bad debt of under-water positions")
    ax3.plot(hours, [q(-r.fund_funding) for r in records], color="tab:purple", lw=1,
             label="funding the fund paid (cumulative, net)")
    ax3.plot(hours, [q(r.receivers_unpaid) for r in records], color="tab:purple", ls=":", lw=1.2,
             label="funding the fund could not pay (receivers paid less)")
    ax3.axhline(0, color="black", lw=0.5)
    ax3.set(title="InsuranceFund: balance, funding payments, bad debt", ylabel="quote")
    width = (hours[1] - hours[0]) * 0.8 if len(hours) > 1 else 0.01
    ax4.bar(hours, [r.liquidations - r.partial_liquidations for r in records], width=width, color="tab:red", label="full")
    ax4.bar(hours, [r.partial_liquidations for r in records], width=width, color="tab:orange",
            bottom=[r.liquidations - r.partial_liquidations for r in records], label="partial")
    ax4.set(title="Liquidations per step", ylabel="count", xlabel="hours since the scenario started")
    ax4.yaxis.set_major_locator(MaxNLocator(integer=True))
    cumulative = ax4.twinx()
    total, running = 0.0, []
    for r in records:
        total += q(r.liquidated_notional)
        running.append(total)
    cumulative.plot(hours, running, color="black", lw=1, label="liquidated notional (cumulative, quote)")
    cumulative.set_ylabel("quote")
    amounts = FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}")
    for ax in (ax1, gap_ax, ax2, ax3, cumulative):
        ax.yaxis.set_major_formatter(amounts)
    pct.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2f} %"))
    halted = next((r.hours for r in records if r.shutdown), None)
    for ax in axes:
        if halted is not None:
            ax.axvline(halted, color="purple", ls=":", lw=1.5, label="market halted")
        handles, labels = ax.get_legend_handles_labels()
        twin = {ax4: cumulative, gap_ax: pct}.get(ax)
        if twin is not None:
            more = twin.get_legend_handles_labels()
            handles, labels = handles + more[0], labels + more[1]
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.1, 1.0), fontsize=8, borderaxespad=0)
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def markdown_table(rows: Sequence[tuple[str, str]]) -> str:
    lines = ["| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines) + "\n"


def text_table(rows: Sequence[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
