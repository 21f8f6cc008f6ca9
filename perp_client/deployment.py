"""Where the protocol lives on a chain: read from `deployments/<chainId>.json` (written by the deploy).

The file is looked up in `$DEPLOYMENTS_DIR`, else the project's `deployments/` (perp_client.paths), else among
the known deployments shipped in the package (`perp_client/deployments/`).

File format (see docs/toolkit.md): `{"chain_id", "network", "deployer", "contracts": {role: {"contract",
"address", "block", ...}}, "actions": {...}}`; markets are the roles `amm_<SYMBOL>`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from perp_client.errors import PerpError
from perp_client.paths import PACKAGED_DEPLOYMENTS, project_root

AMM_PREFIX = "amm_"


def deployments_dir() -> Path:
    """`$DEPLOYMENTS_DIR`, else the project's `deployments/`: where deployments are written and looked up first."""
    override = os.environ.get("DEPLOYMENTS_DIR", "").strip()
    return Path(override) if override else project_root() / "deployments"


def deployment_path(chain_id: int) -> Path:
    """The deployment file of `chain_id`: the project's, else a known deployment shipped in the package; when
    there is neither, the project's path (whose absence load_addresses reports)."""
    local = deployments_dir() / f"{chain_id}.json"
    if local.is_file():
        return local
    packaged = PACKAGED_DEPLOYMENTS / f"{chain_id}.json"
    return packaged if packaged.is_file() else local


@dataclass(frozen=True)
class Addresses:
    """The protocol's contracts on one chain (checksummed addresses)."""

    chain_id: int
    clearing_house: str
    vault: str
    insurance_fund: str
    quote_token: str
    price_feed: str
    amms: dict[str, str] = field(default_factory=dict)
    start_block: int = 0
    multicall: str | None = None  # a Multicall3 for batched reads (None: the canonical one, if the chain has it)


def addresses_from_json(data: dict[str, object], source: str = "deployment") -> Addresses:
    """Parse a deployment file's content."""
    if data.get("complete") is False:
        raise PerpError(f"{source} is an unfinished deployment: run the deploy again to finish it")
    try:
        contracts = data["contracts"]
        if not isinstance(contracts, dict):
            raise TypeError("contracts")

        def addr(role: str) -> str:
            return str(contracts[role]["address"])

        blocks = [int(c["block"]) for c in contracts.values() if c.get("block") is not None]
        amms = {role[len(AMM_PREFIX) :]: str(c["address"]) for role, c in contracts.items() if role.startswith(AMM_PREFIX)}
        multicall = contracts.get("multicall") or contracts.get("Multicall3")  # a live deploy names it by contract
        return Addresses(
            chain_id=int(str(data["chain_id"])),
            clearing_house=addr("clearing_house"),
            vault=addr("vault"),
            insurance_fund=addr("insurance_fund"),
            quote_token=addr("quote_token"),
            price_feed=addr("price_feed"),
            amms=amms,
            start_block=min(blocks) if blocks else 0,
            multicall=str(multicall["address"]) if multicall else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PerpError(f"{source} is incomplete (missing {exc}): finish the deployment first") from exc


def load_addresses(path: Path) -> Addresses:
    """Read a deployment file; a clear error when it is missing or unfinished."""
    if not path.is_file():
        raise PerpError(f"no deployment file at {path}: deploy first (perp deploy, or make deploy) or pass --deployment")
    try:
        with path.open() as fp:
            data = json.load(fp)
    except json.JSONDecodeError as exc:
        raise PerpError(f"{path} is not valid JSON: {exc}") from exc
    addresses = addresses_from_json(data, str(path))
    if not addresses.amms:
        raise PerpError(f"{path} lists no market: finish the deployment first")
    return addresses
