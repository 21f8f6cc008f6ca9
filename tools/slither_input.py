"""Write the solc standard-JSON input that slither compiles (through tools/solc.js, offline).

Every source of the protocol (contracts/ and interfaces/, contracts/test/ included so that nothing imported
is missing; its findings are filtered out by tools/lint.sh), with brownie's remappings for the npm packages.
Only the AST and the ABI are requested: slither needs no bytecode, so no code generation runs (fast).

Usage: python tools/slither_input.py OUT.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REMAPPINGS = [
    "@openzeppelin/contracts=node_modules/@openzeppelin/contracts",
    "@chainlink/contracts=node_modules/@chainlink/contracts",
]


def sources() -> list[str]:
    files = sorted([*ROOT.glob("contracts/**/*.sol"), *ROOT.glob("interfaces/**/*.sol")])
    return [str(f.relative_to(ROOT)) for f in files]


def standard_json() -> dict[str, object]:
    return {
        "language": "Solidity",
        "sources": {path: {"urls": [path]} for path in sources()},
        "settings": {
            "remappings": REMAPPINGS,
            "evmVersion": "cancun",
            "viaIR": True,  # as brownie-config.yaml: without it, code generation hits "stack too deep"
            "optimizer": {"enabled": True, "runs": 200},
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode", "evm.deployedBytecode"], "": ["ast"]}},
        },
    }


def main() -> None:
    out = Path(sys.argv[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(standard_json(), indent=1))


if __name__ == "__main__":
    main()
