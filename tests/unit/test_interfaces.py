"""Every external function of each protocol contract is declared (and documented) in its interface (issue 16,
item 5), so that an integrator compiles against the interface alone; only OpenZeppelin's `Ownable` functions,
documented there, are left out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BUILD = Path(__file__).resolve().parents[2] / "build"
OWNABLE = {"owner", "renounceOwnership", "transferOwnership"}
PAIRS = [
    ("Amm", "IAmm"),
    ("ClearingHouse", "IClearingHouse"),
    ("Vault", "IVault"),
    ("InsuranceFund", "IInsuranceFund"),
    ("ChainlinkPriceFeed", "IChainlinkPriceFeed"),
    ("LiquidityController", "ILiquidityController"),
]


def _functions(path: Path) -> dict[str, dict]:
    return {i["name"]: i for i in json.loads(path.read_text())["abi"] if i["type"] == "function"}


@pytest.mark.parametrize("contract, interface", PAIRS, ids=[c for c, _ in PAIRS])
def test_every_external_function_is_in_the_interface(contract: str, interface: str):
    implemented = _functions(BUILD / "contracts" / f"{contract}.json")
    declared = _functions(BUILD / "interfaces" / f"{interface}.json")
    assert sorted(set(implemented) - set(declared) - OWNABLE) == []
    for name, item in declared.items():
        def types(params: list[dict]) -> list[str]:
            return [p["type"] for p in params]

        assert types(implemented[name]["inputs"]) == types(item["inputs"]), name
        assert types(implemented[name]["outputs"]) == types(item["outputs"]), name


@pytest.mark.parametrize("contract, interface", PAIRS, ids=[c for c, _ in PAIRS])
def test_every_declared_function_is_documented(contract: str, interface: str):
    """Each interface function carries NatSpec: the line above its declaration is a `///` comment."""
    source = next((BUILD.parent / "interfaces").glob(f"{interface}.sol")).read_text()
    lines = source.splitlines()
    undocumented = []
    for n, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith("function "):
            continue
        above = lines[n - 1].strip() if n else ""
        if not above.startswith("///"):
            undocumented.append(stripped.split("(")[0].removeprefix("function "))
    assert undocumented == []
