"""Every external function of each protocol contract is declared (and documented) in its interface (issue 16,
item 5), so that an integrator compiles against the interface alone; only OpenZeppelin's `Ownable` functions,
documented there, are left out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OWNABLE = {"owner()", "renounceOwnership()", "transferOwnership(address)"}
PAIRS = [
    ("Amm", "IAmm"),
    ("ClearingHouse", "IClearingHouse"),
    ("Vault", "IVault"),
    ("InsuranceFund", "IInsuranceFund"),
    ("ChainlinkPriceFeed", "IChainlinkPriceFeed"),
    ("LiquidityController", "ILiquidityController"),
]


def _signatures(artifact: Path) -> dict[str, list[str]]:
    """`name(input types)` -> output types, for every function of a compiled ABI (overloads kept apart)."""
    abi = json.loads(artifact.read_text())["abi"]
    return {
        f"{item['name']}({','.join(i['type'] for i in item['inputs'])})": [o["type"] for o in item["outputs"]]
        for item in abi
        if item["type"] == "function"
    }


@pytest.mark.parametrize("contract, interface", PAIRS, ids=[c for c, _ in PAIRS])
def test_every_external_function_is_in_the_interface(contract: str, interface: str):
    implemented = _signatures(ROOT / "build" / "contracts" / f"{contract}.json")
    declared = _signatures(ROOT / "build" / "interfaces" / f"{interface}.json")
    assert sorted(set(implemented) - set(declared) - OWNABLE) == []
    assert {sig: implemented[sig] for sig in declared} == declared


@pytest.mark.parametrize("interface", [i for _, i in PAIRS])
def test_every_declared_function_is_documented(interface: str):
    """The line above each function declaration of the interface's source is a `///` NatSpec comment."""
    lines = (ROOT / "interfaces" / f"{interface}.sol").read_text().splitlines()
    undocumented = [
        line.strip().split("(")[0].removeprefix("function ")
        for above, line in zip(["", *lines], lines, strict=False)
        if line.strip().startswith("function ") and not above.strip().startswith("///")
    ]
    assert undocumented == []
