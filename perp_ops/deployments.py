"""The deployment record of one chain, `deployments/<chainId>.json`: load, save, record, verify.

The record is a journal: one step per contract deployed and per set-up transaction, appended and saved
(atomically) the moment it is mined. An interrupted deploy resumes by replaying the journal; a finished
one is verified and reused. When the deploy completes, `contracts` maps each role (vault, amm_ETH...) to
its contract. No brownie here: verification takes a `get_code` callable.

    {
      "chain_id": 11155111, "network": "sepolia", "deployer": "0x…", "complete": true,
      "config": {…the deploy_protocol config used, so that a resume deploys the same thing…},
      "steps": [
        {"kind": "deploy", "contract": "Vault", "address": "0x…", "args": ["0x…", "0x…"], "block": 123,
         "tx": "0x…", "git_commit": "abc…", "external": false},
        {"kind": "call", "contract": "Vault", "address": "0x…", "function": "initialize", "data": "0x…", …}
      ],
      "contracts": {"vault": {"contract": "Vault", "address": "0x…", "block": 123}, "amm_ETH": {…}, …}
    }
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from perp_client.deployment import deployments_dir
from perp_client.paths import project_root

PROJECT_ROOT = project_root()


def deployment_file(chain_id: int) -> Path:
    return deployments_dir() / f"{chain_id}.json"


def git_commit() -> str:
    """The project's HEAD commit, `-dirty` when tracked files changed; `unknown` outside git."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        head = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head


def jsonable(value: Any) -> Any:
    """Arguments as JSON: contracts and accounts → address, bytes → hex, tuples → lists."""
    if hasattr(value, "address"):
        return str(value.address)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, bool | int | str) or value is None:
        return value
    return str(value)


@dataclass
class Step:
    """A contract deployed (`deploy`: its address and constructor arguments; `external` when a configured
    contract stood in for it) or a transaction sent (`call`: its target and calldata)."""

    kind: str
    contract: str
    address: str
    args: list[Any] = field(default_factory=list)
    function: str | None = None
    data: str | None = None
    block: int | None = None
    tx: str | None = None
    git_commit: str | None = None
    external: bool = False

    def describe(self) -> str:
        return f"{self.kind} {self.contract}{'.' + self.function if self.function else ''} at {self.address}"


@dataclass
class ContractRecord:
    """A role's contract, for clients: `contracts["vault"]`."""

    contract: str
    address: str
    block: int | None = None
    tx: str | None = None
    external: bool = False


@dataclass
class DeploymentRecord:
    chain_id: int
    network: str
    deployer: str
    config: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    contracts: dict[str, ContractRecord] = field(default_factory=dict)
    complete: bool = False

    @property
    def path(self) -> Path:
        return deployment_file(self.chain_id)


class DeploymentFileError(Exception):
    """The record exists but cannot be used (unreadable, another chain)."""


def load(chain_id: int) -> DeploymentRecord | None:
    """The record of `chain_id`, or None when there is none yet."""
    path = deployment_file(chain_id)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        record = DeploymentRecord(
            chain_id=int(data["chain_id"]),
            network=str(data["network"]),
            deployer=str(data["deployer"]),
            config=dict(data.get("config", {})),
            steps=[Step(**s) for s in data.get("steps", [])],
            contracts={k: ContractRecord(**v) for k, v in data.get("contracts", {}).items()},
            complete=bool(data.get("complete", False)),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise DeploymentFileError(f"{path} is not a deployment record ({exc}); move it away to start over") from exc
    if record.chain_id != chain_id:
        raise DeploymentFileError(f"{path} records chain {record.chain_id}, not {chain_id}")
    return record


def save(record: DeploymentRecord) -> Path:
    """Write the record atomically (a crash leaves the previous version, never half a file)."""
    path = record.path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(record), indent=2) + "\n")
    os.replace(tmp, path)
    return path


def record_step(record: DeploymentRecord, step: Step) -> None:
    """Append a mined step and save at once."""
    record.steps.append(step)
    save(record)


def record_roles(record: DeploymentRecord, roles: dict[str, ContractRecord]) -> None:
    """The deploy finished: name each contract's role and save."""
    record.contracts = roles
    record.complete = True
    save(record)


def verify(record: DeploymentRecord, get_code: Callable[[str], bytes]) -> list[str]:
    """Recorded contracts without code at their address (a reset chain, a wrong file...): the journal's deploys, or
    the roles of a record without a journal (a development deployment's)."""
    if record.steps:
        return [f"{s.describe()}: no code" for s in record.steps if s.kind == "deploy" and not get_code(s.address)]
    return [f"{role} {c.contract} at {c.address}: no code" for role, c in record.contracts.items() if not get_code(c.address)]
