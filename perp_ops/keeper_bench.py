"""`make bench`: what a liquidator pass and a quote cost in round trips and wall time, before and after
batching, at N = 10, 100 and 1,000 traders with open positions, each round trip delayed by 50 ms (an L2
RPC endpoint seen from a keeper's server). Writes reports/keeper-bench.md and reports/keeper-bench.json.

before: the pass as it was: the traders from eth_getLogs, then getPosition and getMarginRatio per trader,
one eth_call each (and web3.py's eth_chainId before every eth_call, as an uncached provider does); a quote
read value by value. after: the liquidator's pass (perp_client.liquidations.scan: the event index synced,
margin ratios through Multicall3 in pages at one block) and PerpClient.quote_open (one aggregate3).

    make bench                       # BENCH_SIZES=10,100 BENCH_DELAY_MS=50 to change
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from brownie import accounts, chain, web3
from web3 import Web3

from perp_client import PerpClient
from perp_client.batch import BatchReader
from perp_client.index import EventIndex
from perp_client.liquidations import scan
from perp_client.paths import project_root
from perp_client.rpc_meter import RpcMeter
from perp_ops.console import addresses_of
from perp_ops.deploy import deploy_protocol

WAD = 10**18
TRADE_GAS = 400_000
REPORTS = project_root() / "reports"
BENCH_CONFIG: dict[str, Any] = {
    "init_margin_ratio": 10 * 10**16,
    "maintenance_margin_ratio": 625 * 10**14,
    "quote_asset_reserve": 10_000_000 * WAD,
    "base_asset_reserve": 1_000_000 * WAD,
}


# ----------------------------------------------------------------------------------------- many traders


def rpc(method: str, params: list[Any] | None = None) -> Any:
    answer = web3.provider.make_request(method, params or [])
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def _mine_all() -> None:
    while True:
        status = rpc("txpool_status")
        if int(status["pending"], 16) == 0 and int(status["queued"], 16) == 0:
            return
        rpc("evm_mine")


def open_positions(d: Any, funder: Any, count: int, first: int = 0, margin: int = WAD, leverage: int = 2 * WAD) -> list[str]:
    """`count` new traders (made-up addresses …beef<first + i>, impersonated by anvil), each with a position
    of `margin` at `leverage`, alternately long and short (the mark stays where it was). Deposits
    (depositFor, from `funder`) and then trades are sent with automine off and mined a block at a time."""
    traders = [Web3.to_checksum_address(f"0x{0xBEEF00000000 + first + i:040x}") for i in range(count)]
    each = 2 * margin * 10 ** d.quote_token.decimals() // WAD
    d.quote_token.mint(funder, each * count, {"from": funder})
    d.quote_token.approve(d.vault, each * count, {"from": funder})
    vault = web3.eth.contract(address=d.vault.address, abi=d.vault.abi)
    ch = web3.eth.contract(address=d.clearing_house.address, abi=d.clearing_house.abi)
    rpc("anvil_autoImpersonateAccount", [True])
    rpc("evm_setAutomine", [False])
    try:
        nonce = web3.eth.get_transaction_count(funder.address)
        for i, t in enumerate(traders):
            tx = {"from": funder.address, "to": d.vault.address, "data": vault.encode_abi("depositFor", [t, each]),
                  "gas": hex(TRADE_GAS), "gasPrice": "0x0", "nonce": hex(nonce + i)}
            rpc("eth_sendTransaction", [tx])
        _mine_all()
        for i, t in enumerate(traders):
            tx = {"from": t, "to": d.clearing_house.address, "gas": hex(TRADE_GAS), "gasPrice": "0x0",
                  "data": ch.encode_abi("openPosition", [d.amm.address, i % 2, margin, leverage, 0])}
            rpc("eth_sendTransaction", [tx])
        _mine_all()
    finally:
        rpc("evm_setAutomine", [True])
        rpc("anvil_autoImpersonateAccount", [False])
    return traders


# ----------------------------------------------------------------------------------------------- passes


def legacy_pass(w3: Web3, client: PerpClient) -> int:
    """The liquidator's pass before batching (its reads; nothing to liquidate): returns positions checked."""
    ch = w3.eth.contract(address=client.clearing_house.address, abi=client.clearing_house.abi)
    ch.functions.initMarginRatio().call()
    maintenance = ch.functions.maintenanceMarginRatio().call()
    latest = w3.eth.block_number
    holders: dict[str, set[str]] = {}
    for e in ch.events.PositionChanged.get_logs(from_block=client.addresses.start_block, to_block=latest):
        s = holders.setdefault(e["args"]["amm"], set())
        (s.add if e["args"]["positionSizeAfter"] else s.discard)(e["args"]["trader"])
    checked = 0
    for amm, traders in holders.items():
        for t in sorted(traders):
            if ch.functions.getPosition(amm, t).call()[0] == 0:
                continue
            checked += 1
            assert ch.functions.getMarginRatio(amm, t).call() >= maintenance
    return checked


def legacy_quote(client: PerpClient) -> None:
    """A quote read value by value, each eth_call preceded by eth_chainId (web3.py's validation, uncached)."""
    client.w3.provider.cache_allowed_requests = False  # type: ignore[attr-defined]
    client._batch = BatchReader(client.w3, None)
    client.quote_open("ETH", "long", 100, 5, trader=accounts[1].address)


def measure(meter: RpcMeter, run: Callable[[], Any]) -> dict[str, Any]:
    """Round trips and wall time of `run()` alone (what was set up before is not counted)."""
    meter.reset()
    started = time.perf_counter()
    result = run()
    return {"round_trips": meter.round_trips, "seconds": round(time.perf_counter() - started, 2),
            "result": result if isinstance(result, int) else None, "methods": dict(meter.methods)}


def metered_client(d: Any, delay: float) -> tuple[RpcMeter, PerpClient]:
    """A read-only client whose round trips are counted and delayed (connecting is not measured)."""
    meter = RpcMeter(delay)
    return meter, PerpClient(meter.web3(web3.provider.endpoint_uri), addresses_of(d))


def bench_pass(d: Any, n: int, delay: float, index_path: Path) -> dict[str, Any]:
    """A liquidator pass over the `n` open positions: before (legacy reads), the first pass of an empty index,
    and a steady pass (the index at the previous head, one new block)."""
    chain.mine()
    meter, client = metered_client(d, delay)
    legacy_w3 = meter.web3(web3.provider.endpoint_uri)  # no eth_chainId cache, as before
    before = measure(meter, lambda: legacy_pass(legacy_w3, client))
    index = EventIndex.open(client, index_path)
    first = measure(meter, lambda: scan(client, index).checked)
    chain.mine()
    after = measure(meter, lambda: scan(client, index).checked)
    assert before["result"] == first["result"] == after["result"] == n, (before["result"], after["result"], n)
    return {"n": n, "before": before, "after": after, "first": first}


# ----------------------------------------------------------------------------------------------- report


def write(rows: list[dict[str, Any]], quote: dict[str, Any], delay: float) -> Path:
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "keeper-bench.json").write_text(json.dumps({"delay_s": delay, "passes": rows, "quote": quote}, indent=2) + "\n")
    ms = int(delay * 1000)
    lines = [
        "# Keeper and quote reads: round trips and wall time",
        "",
        f"Generated by `make bench` (scripts/keeper_bench.py) on a local anvil, every HTTP round trip delayed by {ms} ms.",
        "A liquidator pass reads every open position's margin ratio (nobody is liquidatable here, so no transaction is",
        "sent). *before*: traders from eth_getLogs, then getPosition and getMarginRatio per trader, one eth_call each,",
        "each preceded by eth_chainId (web3.py's validation with an uncaching provider). *after*: the liquidator's pass",
        "today: the SQLite event index synced (three round trips when the head moved), then the margin ratios through",
        "Multicall3 in pages of 400 calls, all at one block. Round trips are HTTP requests, counted on the wire.",
        "",
        "| traders N | before: round trips | before: wall time | after: round trips | after: wall time | after: first pass (index empty) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        b, a, f = r["before"], r["after"], r["first"]
        lines.append(f"| {r['n']:,} | {b['round_trips']:,} | {b['seconds']:.1f} s | {a['round_trips']} | {a['seconds']:.2f} s | "
                     f"{f['round_trips']} ({f['seconds']:.2f} s) |")
    lines += [
        "",
        "| quote (`quote_open`) | round trips | wall time |",
        "| --- | ---: | ---: |",
        f"| before: value by value | {quote['before']['round_trips']} | {quote['before']['seconds']:.2f} s |",
        f"| after: one aggregate3 | {quote['after']['round_trips']} | {quote['after']['seconds']:.2f} s |",
        "",
    ]
    path = REPORTS / "keeper-bench.md"
    path.write_text("\n".join(lines))
    return path


def main() -> None:
    sizes = [int(s) for s in os.environ.get("BENCH_SIZES", "10,100,1000").split(",")]
    delay = int(os.environ.get("BENCH_DELAY_MS", "50")) / 1000
    funder = accounts[0]
    d = deploy_protocol(BENCH_CONFIG, funder)
    data = Path(tempfile.mkdtemp(prefix="keeper-bench-"))
    rows: list[dict[str, Any]] = []
    opened = 0
    for n in sizes:
        open_positions(d, funder, n - opened, first=opened)
        opened = n
        row = bench_pass(d, n, delay, data / f"index-{n}.sqlite")
        rows.append(row)
        print(f"N={n:>5}: before {row['before']['round_trips']:>5} round trips {row['before']['seconds']:>7.1f} s;"
              f" after {row['after']['round_trips']} round trips {row['after']['seconds']:.2f} s", flush=True)
    meter, client = metered_client(d, delay)
    after_quote = measure(meter, lambda: client.quote_open("ETH", "long", 100, 5, trader=accounts[1].address))
    meter, client = metered_client(d, delay)
    quote = {"before": measure(meter, lambda: legacy_quote(client)), "after": after_quote}
    print(f"quote: before {quote['before']['round_trips']} round trips, after {quote['after']['round_trips']}", flush=True)
    print(f"bench: wrote {write(rows, quote, delay)}")
