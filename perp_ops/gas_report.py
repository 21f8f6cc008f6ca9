"""Gas benchmark: a fixed scenario on anvil, one operation per block, against the budgets of DEVELOPERS.md and Perp v1.

Writes `reports/gas.md` and `reports/gas.json` and exits non-zero when a figure is over its budget
(DEVELOPERS.md), when payFunding after 200 trades is more than 2 % from after 1 (O(1) in the trades), or when a
contract's runtime code is over 20 KB. Gas is deterministic for a given chain state (`make gas`).

Each operation is broken down from anvil's struct-log trace (the script restarts the development chain
with `--steps-tracing`): the intrinsic cost (21,000 + calldata), cold accounts (2,600 each), cold slot
reads (2,100 each), storage writes, logs, and the rest (computation, warm accesses, call and memory costs).
The first five are the floor: what EVM rules charge for the accounts, slots and events the design touches.

Scenario (each step its own transaction and block), on a market of 3,000,000 quote / 1,000 base (ETH at
3,000) with a 6-decimal quote token, a 0.1 % spread fee, a 1.2 % fluctuation limit, margins 10 % /
6.25 %, liquidation fee 1.25 %, partial liquidation ratio 25 %:
  the insurance fund seeded with 50,000 before trading; deposit (a trader's first: a new ledger slot; then
  a repeat), withdraw; first trade on the market (new long); a second trader's new short; increase;
  reduce; reverse; closePosition; addMargin; removeMargin; partial and full liquidation; payFunding after
  1 trade and after 200 trades in the funding window.
"""

from __future__ import annotations

import json
from typing import Any

from brownie import accounts, chain, network, project, web3
from brownie._config import CONFIG as BROWNIE_CONFIG
from tqdm import tqdm

from perp_client.paths import project_root
from perp_ops import anvil_race
from perp_ops.deploy import deploy_protocol, to_aggregator_answer

WAD = 10**18
BUY, SELL = 0, 1
REPORTS = project_root() / "reports"

CONFIG: dict[str, Any] = {
    "quote_decimals": 6,
    "init_margin_ratio": 10 * 10**16,
    "maintenance_margin_ratio": 625 * 10**14,
    "liquidation_fee_ratio": 125 * 10**14,
    "partial_liquidation_ratio": 25 * 10**16,
    "quote_asset_reserve": 3_000_000 * WAD,
    "base_asset_reserve": 1_000 * WAD,
    "index_price": 3_000 * WAD,
    "fluctuation_limit_ratio": 12 * 10**15,
    "spread_ratio": 10**15,
    # the live configurations' staleness limit (heartbeat plus a margin): opening reads the index's freshness
    "max_oracle_staleness": 90_000,
}

# operation: (the budget of DEVELOPERS.md, Perp v1's figure on the same anvil)
BUDGETS: dict[str, tuple[int, str]] = {
    "deposit (a trader's first)": (70_000, "-"),
    "deposit": (70_000, "-"),
    "withdraw": (70_000, "-"),
    "openPosition: first trade on the market (new long)": (140_000, "364k-457k"),
    "openPosition: second trader, new short": (130_000, "364k-457k"),
    "openPosition: increase": (110_000, "405k"),
    "openPosition: reduce": (110_000, "-"),
    "openPosition: reverse": (150_000, "-"),
    "closePosition": (95_000, "276k"),
    "addMargin": (55_000, "103k"),
    "removeMargin": (80_000, "149k-216k"),
    "liquidate (partial)": (150_000, "403k"),
    "liquidate (full)": (150_000, "399k"),
    "payFunding after 1 trade": (90_000, "186k-256k"),
    "payFunding after 200 trades": (90_000, "2.6M"),
}

CODE_SIZE_BUDGET = 20 * 1024


# the transaction of each measured operation, for `_breakdown`
TRANSACTIONS: dict[str, Any] = {}


def _measure() -> dict[str, int]:
    d = deploy_protocol(CONFIG)
    ch, amm, vault, token = d.clearing_house, d.amm, d.vault, d.quote_token
    alice, bob, carol, dave, keeper = accounts[1], accounts[2], accounts[3], accounts[4], accounts[5]
    gas: dict[str, int] = {}
    usd = 10**6

    def record(op: str, tx: Any) -> None:
        TRANSACTIONS[op] = tx
        gas[op] = tx.gas_used

    def fund(who: Any, amount: int) -> Any:
        token.mint(who, 2 * amount * usd, {"from": who})
        token.approve(vault, 2**256 - 1, {"from": who})
        return vault.deposit(amount * usd, {"from": who})

    def step() -> None:
        chain.sleep(15)

    # the insurance fund is seeded before the market opens (as any launch must)
    fund(d.owner, 100_000)
    token.approve(d.insurance_fund, 2**256 - 1, {"from": d.owner})
    d.insurance_fund.deposit(50_000 * usd, {"from": d.owner})
    record("deposit (a trader's first)", fund(alice, 10_000))
    record("deposit", vault.deposit(1_000 * usd, {"from": alice}))
    record("withdraw", vault.withdraw(1_000 * usd, {"from": alice}))
    for who in (bob, carol, dave):
        fund(who, 10_000)
    fund(keeper, 200_000)
    step()
    record("openPosition: first trade on the market (new long)",
           ch.openPosition(amm, BUY, 100 * WAD, 10 * WAD, 0, {"from": alice}))
    step()
    record("openPosition: second trader, new short", ch.openPosition(amm, SELL, 100 * WAD, 5 * WAD, 0, {"from": bob}))
    step()
    record("openPosition: increase", ch.openPosition(amm, BUY, 50 * WAD, 5 * WAD, 0, {"from": alice}))
    step()
    record("openPosition: reduce", ch.openPosition(amm, SELL, 20 * WAD, 5 * WAD, 0, {"from": alice}))
    step()
    record("addMargin", ch.addMargin(amm, 10 * WAD, {"from": bob}))
    step()
    record("removeMargin", ch.removeMargin(amm, 5 * WAD, {"from": bob}))
    step()
    record("openPosition: reverse", ch.openPosition(amm, BUY, 150 * WAD, 5 * WAD, 0, {"from": bob}))
    step()
    record("closePosition", ch.closePosition(amm, 0, {"from": bob}))

    # liquidations: carol and dave go long 10x, the index and the mark fall, 15 minutes pass
    step()
    ch.openPosition(amm, BUY, 200 * WAD, 10 * WAD, 0, {"from": carol})
    step()
    ch.openPosition(amm, BUY, 20 * WAD, 10 * WAD, 0, {"from": dave})
    d.aggregators["ETH"].updateAnswer(to_aggregator_answer(2_800 * WAD), {"from": d.owner})

    def push_down(trades: int) -> None:
        for _ in range(trades):
            step()
            ch.openPosition(amm, SELL, 2_000 * WAD, 5 * WAD, 0, {"from": keeper})
        chain.sleep(900)
        chain.mine()

    push_down(9)
    tx = ch.liquidate(amm, carol, {"from": keeper})
    print("partial liquidation:", dict(tx.events["PositionChanged"]))
    record("liquidate (partial)", tx)
    push_down(6)
    tx = ch.liquidate(amm, dave, {"from": keeper})
    print("full liquidation:", dict(tx.events["PositionChanged"]))
    record("liquidate (full)", tx)

    # funding after 1 trade, then after 200 trades in the window
    chain.sleep(3_600)
    ch.openPosition(amm, BUY, 1 * WAD, 1 * WAD, 0, {"from": keeper})
    step()
    record("payFunding after 1 trade", ch.payFunding(amm, {"from": keeper}))
    chain.sleep(600)
    for i in tqdm(range(200), desc="200 trades in the funding window", leave=False):
        ch.openPosition(amm, BUY if i % 2 else SELL, 1 * WAD, 1 * WAD, 0, {"from": keeper})
        chain.sleep(10)
    chain.sleep(max(0, amm.nextFundingTime() - chain.time()) + 1)
    record("payFunding after 200 trades", ch.payFunding(amm, {"from": keeper}))
    return gas


def _code_sizes() -> dict[str, int]:
    proj = project.get_loaded_projects()[0]
    sizes = {}
    for name in ("ClearingHouse", "ClearingHouseRiskModule", "Amm", "Vault", "InsuranceFund", "ChainlinkPriceFeed", "MarginMath"):
        sizes[name] = len(proj[name]._build["deployedBytecode"]) // 2
    return sizes


_CALLS = ("CALL", "STATICCALL", "DELEGATECALL", "CALLCODE")
_ACCOUNT_OPS = ("BALANCE", "EXTCODESIZE", "EXTCODEHASH", "EXTCODECOPY")
COLD_ACCOUNT, COLD_SLOT = 2_600, 2_100


def breakdown(tx: Any) -> dict[str, int] | None:
    """Where `tx`'s gas went, from anvil's struct-log trace; None when the node returns no steps."""
    result = web3.provider.make_request(
        "debug_traceTransaction", [tx.txid, {"disableStorage": True, "disableMemory": True}]
    ).get("result") or {}
    steps = result.get("structLogs") or []
    if not steps:
        return None
    data = bytes.fromhex(tx.input[2:])
    out = {"intrinsic": 21_000 + sum(16 if byte else 4 for byte in data), "cold accounts": 0,
           "cold slot reads": 0, "storage writes": 0, "logs": 0}
    for i, step in enumerate(steps):
        op, cost = step["op"], step["gasCost"]
        if op in _CALLS:
            nxt = steps[i + 1] if i + 1 < len(steps) else None
            # a call's gasCost includes the gas handed to the callee (its first step's gas)
            overhead = cost - nxt["gas"] if nxt is not None and nxt["depth"] == step["depth"] + 1 else cost
            if overhead >= COLD_ACCOUNT:
                out["cold accounts"] += 1
        elif op in _ACCOUNT_OPS and cost >= COLD_ACCOUNT:
            out["cold accounts"] += 1
        elif op == "SLOAD" and cost >= COLD_SLOT:
            out["cold slot reads"] += 1
        elif op == "SSTORE":
            out["storage writes"] += cost
        elif op.startswith("LOG"):
            out["logs"] += cost
    out["floor"] = (out["intrinsic"] + out["cold accounts"] * COLD_ACCOUNT + out["cold slot reads"] * COLD_SLOT
                    + out["storage writes"] + out["logs"])
    out["computation"] = tx.gas_used - out["floor"]  # warm accesses, calls, memory, arithmetic; net of refunds
    return out


def _v1_ratio(v1: str, used: int) -> str:
    if v1 == "-":
        return ""
    low = v1.split("-")[0]
    v1_gas = float(low.rstrip("kM")) * (1_000_000 if low.endswith("M") else 1_000)
    return f"{v1_gas / used:.1f}x"


def write_report(gas: dict[str, int], sizes: dict[str, int], parts: dict[str, dict[str, int] | None]) -> list[str]:
    """Write reports/gas.md and gas.json; return what fails the gate (empty: all within budget)."""
    failures: list[str] = []
    lines = [
        "# Gas report",
        "",
        "Generated by `make gas` (`scripts/gas_report.py`); the scenario is in the script's docstring.",
        "Perp v1's figures were measured on the same anvil with its production contracts. The gate: every",
        "figure within its budget (DEVELOPERS.md).",
        "",
        "| operation | gas | budget | Perp v1 | v1 / ours |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for op, (budget, v1) in BUDGETS.items():
        used = gas[op]
        mark = ""
        if used > budget:
            failures.append(op)
            mark = " **OVER**"
        lines.append(f"| {op} | {used:,}{mark} | {budget:,} | {v1} | {_v1_ratio(v1, used)} |")
    before, after = gas["payFunding after 1 trade"], gas["payFunding after 200 trades"]
    spread = abs(after - before) / before
    lines += ["", f"payFunding after 200 trades vs after 1: {spread:.2%} apart (budget 2 %).", ""]
    if spread > 0.02:
        failures.append("payFunding spread")
    if any(parts.values()):
        lines += [
            "Where the gas goes (struct-log trace of each transaction; floor = intrinsic + cold accounts x 2,600 +",
            "cold slot reads x 2,100 + storage writes + logs):",
            "",
            "| operation | intrinsic | cold accounts | cold slot reads | storage writes | logs | floor | rest |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for op in BUDGETS:
            part = parts.get(op)
            if part:
                lines.append(
                    f"| {op} | {part['intrinsic']:,} | {part['cold accounts']} | {part['cold slot reads']} | "
                    f"{part['storage writes']:,} | {part['logs']:,} | {part['floor']:,} | {part['computation']:,} |"
                )
        lines.append("")
    lines += ["| contract | runtime code (bytes) | budget |", "| --- | ---: | ---: |"]
    for name, size in sizes.items():
        flag = "" if size <= CODE_SIZE_BUDGET else " **over**"
        if size > CODE_SIZE_BUDGET:
            failures.append(f"{name} size")
        lines.append(f"| {name} | {size:,}{flag} | {CODE_SIZE_BUDGET:,} |")
    lines += ["", "Perp v1's ClearingHouse: 23.9 KB (97 % of the 24 KB limit)."]
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "gas.md").write_text("\n".join(lines) + "\n")
    payload = {
        "gas": gas,
        "budgets": {k: v[0] for k, v in BUDGETS.items()},
        "breakdown": {k: v for k, v in parts.items() if v},
        "code_size": sizes,
        "failures": failures,
    }
    (REPORTS / "gas.json").write_text(json.dumps(payload, indent=2) + "\n")
    print("\n".join(lines))
    return failures


def _restart_with_tracing() -> None:
    """Restart the local chain with struct-log tracing (gas is unchanged; only the node records steps)."""
    if network.show_active() != "development":
        return
    network.disconnect()
    BROWNIE_CONFIG.networks["development"]["cmd_settings"]["steps_tracing"] = True
    network.connect("development")


def main() -> None:
    _restart_with_tracing()
    anvil_race.install()
    gas = _measure()
    parts = {op: breakdown(tx) for op, tx in TRANSACTIONS.items()}
    failures = write_report(gas, _code_sizes(), parts)
    if failures:
        raise SystemExit(f"over budget: {', '.join(failures)}")
