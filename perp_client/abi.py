"""ABIs, and readable custom errors.

From `$PERP_BUILD_DIR/contracts/*.json` when set; else from the project's brownie build (`build/contracts/`, fresh
after `brownie compile`) when there is one; else from the ABIs shipped in the package (`perp_client/abis/`,
written by `make abis`), so that the client works installed anywhere.
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
from perp_client.paths import PACKAGED_ABIS, project_root

PANIC_REASONS = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division by zero",
    0x21: "invalid enum value",
    0x32: "array index out of bounds",
    0x41: "out of memory",
}


def abi_dir() -> Path:
    """The folder of `<Contract>.json` files the ABIs come from (see the module docstring)."""
    override = os.environ.get("PERP_BUILD_DIR", "").strip()
    if override:
        return Path(override) / "contracts"
    build = project_root() / "build" / "contracts"
    return build if build.is_dir() and any(build.glob("*.json")) else PACKAGED_ABIS


def _folder(folder: str | None) -> Path:
    return Path(folder) / "contracts" if folder else abi_dir()


@cache
def load_abi(contract: str, folder: str | None = None) -> list[dict[str, Any]]:
    """The ABI of `contract`: a brownie build artifact (`{"abi": [...], ...}`) or a packaged ABI (`[...]`)."""
    file = _folder(folder) / f"{contract}.json"
    if not file.is_file():
        raise PerpError(f"no ABI for {contract} at {file}: run `brownie compile` (or set PERP_BUILD_DIR)")
    with file.open() as fp:
        data = json.load(fp)
    abi: list[dict[str, Any]] = data["abi"] if isinstance(data, dict) else data
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
    return sorted(f.stem for f in _folder(folder).glob("*.json"))


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
