"""The ABIs shipped inside perp_client (`perp_client/abis/<Contract>.json`), exported from the brownie build.

    make abis        # brownie compile, then: python -m perp_ops.abis

The client reads them when it runs outside a compiled project (installed anywhere); tests/unit/test_packaging.py
fails while they differ from the build, so a contract change that alters an ABI comes with its export.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from perp_client.paths import PACKAGED_ABIS, project_root


def _render(abi: list[dict[str, Any]]) -> str:
    return json.dumps(abi, indent=1, sort_keys=True) + "\n"


def build_abis(build: Path) -> dict[str, str]:
    """Contract name → its ABI as the package stores it, for every artifact in `build/contracts`."""
    out = {}
    for artifact in sorted((build / "contracts").glob("*.json")):
        out[artifact.stem] = _render(json.loads(artifact.read_text())["abi"])
    return out


def stale(build: Path, dest: Path = PACKAGED_ABIS) -> list[str]:
    """What differs between the build and the package: missing or changed ABIs (empty when in step). An ABI the
    package holds and this build lacks is not a difference: which of OpenZeppelin's helper libraries (Address,
    Errors, TransientSlot, ...) brownie writes depends on whether it compiled everything or only what changed."""
    want = build_abis(build)
    have = {f.stem: f.read_text() for f in dest.glob("*.json")}
    problems = [f"{name}: missing" for name in sorted(set(want) - set(have))]
    problems += [f"{name}: changed" for name in sorted(set(want) & set(have)) if want[name] != have[name]]
    return problems


def export(build: Path, dest: Path = PACKAGED_ABIS) -> list[str]:
    """Write the build's ABIs into `dest`, removing those no longer built; returns what changed."""
    changes = stale(build, dest)
    want = build_abis(build)
    if not want:
        raise SystemExit(f"error: no artifacts in {build / 'contracts'}: run `brownie compile` first")
    dest.mkdir(parents=True, exist_ok=True)
    for name, text in want.items():
        (dest / f"{name}.json").write_text(text)
    for f in dest.glob("*.json"):
        if f.stem not in want:
            f.unlink()
    return changes


def main() -> int:
    changes = export(project_root() / "build")
    for line in changes:
        print(f"abis: {line}")
    print(f"abis: {PACKAGED_ABIS} in step with the build ({len(changes)} change(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
