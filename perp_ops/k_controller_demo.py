"""Two identical markets, the same seeded order flow, the liquidity controller on one of them.

Run with `brownie run scripts/k_controller_demo.py`. Deploys ETH and ETH2 (identical settings, one
InsuranceFund), enables the LiquidityController on ETH2 only, then for HOURS hours replays one pre-drawn
order flow against both: every 10 minutes one random trader opens (random side, size, leverage) or
closes, and the index takes a random-walk step; every hour funding is paid on both markets and a keeper
calls `controller.update(ETH2)`. Prints a table and writes reports/k-controller.png: slippage per trade
(execution price against the pre-trade spot) and the mark-to-index gap of both markets.
"""

from __future__ import annotations

import contextlib
import io
import math
import random
import statistics
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brownie import accounts, chain
from brownie.exceptions import VirtualMachineError

from perp_ops import anvil_race
from perp_ops.deploy import Deployment, deploy_protocol, to_aggregator_answer
from perp_ops.liquidity_controller import ControllerParams, deploy_controller

WAD = 10**18
BUY, SELL = 0, 1
SEED = 7
HOURS = 48
SLOTS_PER_HOUR = 6  # one trade and one index step every 10 minutes
TRADERS = 8
REPORT = Path("reports/k-controller.png")

DEMO_CONFIG: dict[str, Any] = {
    "quote_decimals": 6,  # USDC-like
    "init_margin_ratio": 10 * 10**16,  # 10x max
    "maintenance_margin_ratio": 625 * 10**14,
    "liquidation_fee_ratio": 125 * 10**14,
    "partial_liquidation_ratio": 0,
    "quote_asset_reserve": 3_000_000 * WAD,  # ETH at 3,000 with 1,000 ETH of virtual depth
    "base_asset_reserve": 1_000 * WAD,
    "index_price": 3_000 * WAD,
    "spread_ratio": 1 * 10**15,  # 0.1 % to the InsuranceFund
    "markets": {"ETH2": {}},  # an identical second market
}

CONTROLLER = ControllerParams(
    max_step=2 * 10**16,  # ±2 % of k per hour at most
    max_repeg_step=10**16,  # 1 % of the price per hour at most
    gap_band=5 * 10**15,  # deepen when the hourly TWAP gap exceeds 0.5 % ...
    repeg_band=10**16,  # ... repeg when it exceeds 1 %
    imbalance_band=2 * 10**17,  # ... and the net position is at most 20 % of the base reserve
    flow_target=10**16,  # full deepening step when the net position moved by 1 % of the base reserve
    funding_band=5 * 10**14,  # shrink when the fund pays more than 0.05 % of the index per hour
    budget_share_of_fees=5 * 10**17,  # half of the InsuranceFund's income
    min_base_reserve=500 * WAD,
    max_base_reserve=4_000 * WAD,
)


@dataclass(frozen=True)
class Order:
    trader: int
    close: bool
    side: int
    margin: int  # wad
    leverage: int  # wad


@dataclass
class MarketLog:
    symbol: str
    slippage: list[float] = field(default_factory=list)  # per trade, fraction
    gap: list[float] = field(default_factory=list)  # per slot, (spot − index) / index
    base_reserve: list[float] = field(default_factory=list)  # per hour
    failed: int = 0
    deepen: int = 0
    shrink: int = 0
    repeg: int = 0
    limited: int = 0
    spent: int = 0  # controller net cost (wad)


def draw_flow(rng: random.Random) -> tuple[list[Order], list[int]]:
    """The whole order flow and index path, drawn before anything runs, so both markets see the same."""
    orders, index, price = [], [], 3_000.0
    for _ in range(HOURS * SLOTS_PER_HOUR):
        notional = min(60_000.0, rng.lognormvariate(math.log(8_000), 0.8))
        leverage = rng.choice([2, 3, 4, 5])
        orders.append(
            Order(
                trader=rng.randrange(TRADERS),
                close=rng.random() < 0.2,
                side=rng.choice([BUY, SELL]),
                margin=int(notional / leverage) * WAD,
                leverage=leverage * WAD,
            )
        )
        price *= math.exp(rng.gauss(0, 0.002))
        index.append(int(price * 100) * WAD // 100)
    return orders, index


def events(tx: Any, name: str) -> list[Any]:
    """The decoded `name` events of `tx` (brownie's EventDict has no `get`)."""
    return list(tx.events[name]) if name in tx.events else []


def trade(d: Deployment, amm: Any, trader: Any, order: Order, log: MarketLog) -> None:
    ch = d.clearing_house
    has_position = ch.getPosition(amm, trader)[0] != 0
    if order.close and not has_position:
        return
    spot = amm.getSpotPrice()
    try:
        if order.close:
            tx = ch.closePosition(amm, 0, {"from": trader})
        else:
            tx = ch.openPosition(amm, order.side, order.margin, order.leverage, 0, {"from": trader})
    except VirtualMachineError:
        log.failed += 1  # e.g. a trader whose position is under water cannot add to it
        return
    event = tx.events["PositionChanged"][-1]
    executed = event["positionNotional"] * WAD // abs(event["exchangedPositionSize"])
    log.slippage.append(abs(executed - spot) / spot)


def run() -> tuple[list[MarketLog], dict[str, float]]:
    anvil_race.install()
    from tqdm import tqdm

    owner, keeper = accounts[0], accounts[9]
    traders = [accounts[1 + i] for i in range(TRADERS)]
    d = deploy_protocol(DEMO_CONFIG, deployer=owner)
    scale = d.vault.scale()
    for who in traders:
        raw = 1_000_000 * WAD // scale
        d.quote_token.mint(who, raw, {"from": who})
        d.quote_token.approve(d.vault, raw, {"from": who})
        d.vault.deposit(raw, {"from": who})
    seed_fund = 200_000 * WAD // scale  # the fund must be able to pay funding on both markets
    d.quote_token.mint(owner, seed_fund, {"from": owner})
    d.quote_token.approve(d.insurance_fund, seed_fund, {"from": owner})
    d.insurance_fund.deposit(seed_fund, {"from": owner})
    controller = deploy_controller(d, {"ETH2": CONTROLLER}, owner, keeper=keeper)
    fund_start = d.insurance_fund.fundBalance()

    orders, index_path = draw_flow(random.Random(SEED))
    logs = {s: MarketLog(s) for s in d.amms}
    for hour in tqdm(range(HOURS), desc="hours", unit="h"):
        for slot in range(SLOTS_PER_HOUR):
            i = hour * SLOTS_PER_HOUR + slot
            for symbol, amm in d.amms.items():
                d.aggregators[symbol].updateAnswer(to_aggregator_answer(index_path[i]), {"from": owner})
                trade(d, amm, traders[orders[i].trader], orders[i], logs[symbol])
                logs[symbol].gap.append((amm.getSpotPrice() - index_path[i]) / index_path[i])
            chain.sleep(600)
        wait = d.amm.nextFundingTime() - chain.time()
        if wait > 0:
            chain.sleep(wait)
        chain.mine()
        for symbol, amm in d.amms.items():
            d.clearing_house.payFunding(amm, {"from": keeper})
        tx = controller.update(d.amms["ETH2"], {"from": keeper})
        log = logs["ETH2"]
        for step in events(tx, "KStep"):
            log.deepen += step["action"] == 0
            log.shrink += step["action"] == 1
        log.repeg += len(events(tx, "RepegStep"))
        log.limited += len(events(tx, "StepLimited"))
        log.spent += sum(e["cost"] for e in events(tx, "KStep") + events(tx, "RepegStep"))
        for symbol, amm in d.amms.items():
            logs[symbol].base_reserve.append(amm.getReserve()[1] / WAD)

    summary = {
        "fund_start": fund_start / WAD,
        "fund_end": d.insurance_fund.fundBalance() / WAD,
        "budget_left": controller.budgetOf(d.amms["ETH2"]) / WAD,
    }
    return list(logs.values()), summary


def percentile(xs: list[float], q: float) -> float:
    if not xs:
        return 0.0
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def print_table(logs: list[MarketLog], summary: dict[str, float]) -> None:
    header = (
        f"{'market':<16}{'trades':>7}{'failed':>7}{'slip mean':>11}{'slip p95':>10}"
        f"{'|gap| mean':>12}{'|gap| max':>11}{'base end':>10}{'deepen':>8}{'shrink':>8}{'repeg':>7}"
        f"{'cut':>5}{'spent':>11}"
    )
    print(header)
    print("-" * len(header))
    for log in logs:
        name = log.symbol + (" (controller)" if log.symbol == "ETH2" else "")
        gaps = [abs(g) for g in log.gap]
        print(
            f"{name:<16}{len(log.slippage):>7}{log.failed:>7}"
            f"{statistics.fmean(log.slippage) * 1e4:>8.2f} bp{percentile(log.slippage, 0.95) * 1e4:>7.2f} bp"
            f"{statistics.fmean(gaps) * 100:>10.2f} %{max(gaps) * 100:>9.2f} %{log.base_reserve[-1]:>10.1f}"
            f"{log.deepen:>8}{log.shrink:>8}{log.repeg:>7}{log.limited:>5}{log.spent / WAD:>11.2f}"
        )
    print(
        f"InsuranceFund {summary['fund_start']:,.2f} -> {summary['fund_end']:,.2f}; "
        f"controller budget left {summary['budget_left']:,.2f} (quote units)"
    )


def plot(logs: list[MarketLog]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(11, 10))
    colors = {"ETH": "tab:gray", "ETH2": "tab:blue"}
    labels = {"ETH": "ETH (no controller)", "ETH2": "ETH2 (controller)"}
    for log in logs:
        bp = [s * 1e4 for s in log.slippage]
        ax1.plot(bp, ".", ms=3, color=colors[log.symbol], alpha=0.6)
        window = 20
        rolling = [statistics.fmean(bp[max(0, i - window + 1) : i + 1]) for i in range(len(bp))]
        ax1.plot(rolling, color=colors[log.symbol], label=f"{labels[log.symbol]}, {window}-trade mean")
        hours = [i / SLOTS_PER_HOUR for i in range(len(log.gap))]
        ax2.plot(hours, [g * 100 for g in log.gap], color=colors[log.symbol], label=labels[log.symbol])
        ax3.plot(range(1, len(log.base_reserve) + 1), log.base_reserve, color=colors[log.symbol])
    ax1.set(title="Slippage per trade (execution vs pre-trade spot)", xlabel="trade", ylabel="bp")
    ax2.set(title="Mark-to-index gap", xlabel="hour", ylabel="(spot − index) / index, %")
    ax2.axhline(0, color="black", lw=0.5)
    ax3.set(title="Base reserve (depth; it also moves with the traders' net position)", xlabel="hour", ylabel="base")
    ax1.legend()
    ax2.legend()
    fig.tight_layout()
    REPORT.parent.mkdir(exist_ok=True)
    fig.savefig(REPORT, dpi=110)
    print(f"plot written to {REPORT}")


def main() -> None:
    warnings.filterwarnings("ignore", category=FutureWarning)  # brownie's own rpc.* deprecation notices
    with contextlib.redirect_stdout(io.StringIO()):  # brownie prints every transaction; tqdm uses stderr
        logs, summary = run()
    print_table(logs, summary)
    plot(logs)
