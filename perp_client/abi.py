"""ABIs from the brownie build (`build/contracts/*.json`), and readable custom errors.

The build folder is `$PERP_BUILD_DIR`, else `build/` next to this package (the repository's). Run
`brownie compile` once to create it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak

from perp_client.errors import PerpError

REPO_ROOT = Path(__file__).resolve().parent.parent
PANIC_REASONS = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division by zero",
    0x21: "invalid enum value",
    0x32: "array index out of bounds",
    0x41: "out of memory",
}


def build_dir() -> Path:
    return Path(os.environ.get("PERP_BUILD_DIR", REPO_ROOT / "build"))


@cache
def load_abi(contract: str, folder: str | None = None) -> list[dict[str, Any]]:
    """The ABI of `contract` from `<build>/contracts/<contract>.json`."""
    path = Path(folder) if folder else build_dir()
    file = path / "contracts" / f"{contract}.json"
    if not file.is_file():
        raise PerpError(f"no ABI for {contract} at {file}: run `brownie compile` first (or set PERP_BUILD_DIR)")
    with file.open() as fp:
        abi: list[dict[str, Any]] = json.load(fp)["abi"]
    return abi


def _type_of(param: dict[str, Any]) -> str:
    """ABI type string, expanding tuples."""
    t: str = param["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(_type_of(c) for c in param["components"]) + ")" + t[len("tuple") :]
    return t


@dataclass(frozen=True)
class ErrorSpec:
    name: str
    arg_names: tuple[str, ...]
    arg_types: tuple[str, ...]


def _render(value: Any) -> str:
    """Ints that look like wads (|v| >= 1e15) as decimals, anything else as is."""
    if isinstance(value, bool) or not isinstance(value, int):
        return str(value)
    if abs(value) >= 10**15:
        from perp_client.units import from_wad

        return f"{from_wad(value).normalize():f}"
    return str(value)


def _all_contracts(folder: str | None) -> list[str]:
    path = (Path(folder) if folder else build_dir()) / "contracts"
    return sorted(f.stem for f in path.glob("*.json"))


class ErrorDecoder:
    """Turns revert data into `Name(arg=value, ...)`, from every custom error in the build's ABIs (or in
    the `contracts` given): errors raised by libraries or delegatecalled modules decode too."""

    def __init__(self, contracts: tuple[str, ...] | None = None, folder: str | None = None) -> None:
        self._specs: dict[bytes, ErrorSpec] = {}
        for contract in contracts if contracts is not None else _all_contracts(folder):
            for item in load_abi(contract, folder):
                if item.get("type") != "error":
                    continue
                types = tuple(_type_of(i) for i in item["inputs"])
                selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
                names = tuple(i["name"] or f"arg{n}" for n, i in enumerate(item["inputs"]))
                self._specs[selector] = ErrorSpec(item["name"], names, types)

    def decode(self, data: str | bytes | None) -> str:
        if data is None:
            return "reverted without a reason"
        raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else data
        if len(raw) < 4:
            return "reverted without a reason"
        selector, body = raw[:4], raw[4:]
        if selector == keccak(text="Error(string)")[:4]:
            return str(abi_decode(["string"], body)[0])
        if selector == keccak(text="Panic(uint256)")[:4]:
            code = abi_decode(["uint256"], body)[0]
            return f"panic: {PANIC_REASONS.get(code, hex(code))}"
        spec = self._specs.get(selector)
        if spec is None:
            return f"reverted with unknown error 0x{raw.hex()}"
        values = abi_decode(list(spec.arg_types), body) if spec.arg_types else ()
        args = ", ".join(f"{n}={_render(v)}" for n, v in zip(spec.arg_names, values, strict=True))
        return f"{spec.name}({args})"
