"""Register the project's live networks with brownie (`brownie networks add` / `modify` semantics).

    python -m perp_ops.networks            # or: brownie run scripts/networks.py

Idempotent: a network that exists is updated in place, a missing one is added. RPC URLs are read from the
environment (or `.env` at the project root): SEPOLIA_RPC_URL, ARBITRUM_SEPOLIA_RPC_URL,
OPTIMISM_SEPOLIA_RPC_URL, BASE_SEPOLIA_RPC_URL; a network whose variable is unset is skipped with a note.
`local-live` (an anvil started separately; its URL and chain id come from config/deploy/local-live.yaml, or
`$DEPLOY_CONFIG`) is always registered: it is a *live* network for brownie, so deploys on it take the real
path (key, record, resume).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from perp_client.paths import project_root

PROJECT_ROOT = project_root()
GROUP = "Perp"  # brownie's network-config groups live networks by name; ours go in this one


@dataclass(frozen=True)
class LiveNetwork:
    id: str
    name: str
    chainid: int
    host: str | None = None  # fixed host; else read from `env_var`
    env_var: str | None = None
    explorer: str | None = None


NETWORKS: tuple[LiveNetwork, ...] = (
    LiveNetwork("sepolia", "Sepolia", 11155111, env_var="SEPOLIA_RPC_URL", explorer="https://api-sepolia.etherscan.io/api"),
    LiveNetwork("arbitrum-sepolia", "Arbitrum Sepolia", 421614, env_var="ARBITRUM_SEPOLIA_RPC_URL",
                explorer="https://api-sepolia.arbiscan.io/api"),
    LiveNetwork("optimism-sepolia", "Optimism Sepolia", 11155420, env_var="OPTIMISM_SEPOLIA_RPC_URL",
                explorer="https://api-sepolia-optimistic.etherscan.io/api"),
    LiveNetwork("base-sepolia", "Base Sepolia", 84532, env_var="BASE_SEPOLIA_RPC_URL", explorer="https://api-sepolia.basescan.org/api"),
)


def local_live(config: Path | None = None) -> LiveNetwork:
    """`local-live` as its deploy configuration file says (network.rpc, network.chain_id)."""
    from perp_ops.deploy_config import DeployConfigError, config_path, load

    path = config or config_path("local-live")
    conf = load(path)
    if not conf.rpc:
        raise DeployConfigError(f"{path}: network.rpc is needed for local-live (e.g. http://127.0.0.1:8645)")
    return LiveNetwork("local-live", f"Local live (anvil {conf.rpc})", conf.chain_id, host=conf.rpc)


def network_config_path() -> Path:
    """brownie's `network-config.yaml` in its data folder (~/.brownie)."""
    from brownie._config import _get_data_folder

    return Path(_get_data_folder()) / "network-config.yaml"


def read_env() -> dict[str, str]:
    """The environment over `.env` at the project root."""
    values: dict[str, str] = {}
    env_file = PROJECT_ROOT / ".env"
    if env_file.is_file():
        from dotenv import dotenv_values

        values.update({k: v for k, v in dotenv_values(env_file).items() if v})
    values.update({k: v for k, v in os.environ.items() if v})
    return values


def _find(config: dict[str, Any], network_id: str) -> dict[str, Any] | None:
    for entry in config.get("development", []):
        if entry.get("id") == network_id:
            return entry  # type: ignore[no-any-return]
    for group in config.get("live", []):
        for entry in group.get("networks", []):
            if entry.get("id") == network_id:
                return entry  # type: ignore[no-any-return]
    return None


def _settings(net: LiveNetwork, host: str) -> dict[str, Any]:
    settings: dict[str, Any] = {"id": net.id, "name": net.name, "chainid": net.chainid, "host": host}
    if net.explorer:
        settings["explorer"] = net.explorer
    return settings


def upsert(config: dict[str, Any], net: LiveNetwork, host: str) -> str:
    """Add `net` to the config (in the `Perp` group) or update it where it is; returns 'added' or 'updated'."""
    existing = _find(config, net.id)
    if existing is not None:
        if "cmd" in existing:
            raise ValueError(f"'{net.id}' is a development network in brownie's config; delete it first")
        existing.update(_settings(net, host))
        existing.pop("provider", None)  # the host is ours now, not a provider template
        return "updated"
    groups = config.setdefault("live", [])
    group = next((g for g in groups if g.get("name") == GROUP), None)
    if group is None:
        group = {"name": GROUP, "networks": []}
        groups.append(group)
    group["networks"].append(_settings(net, host))
    return "added"


def register_networks(
    env: Mapping[str, str] | None = None,
    only: tuple[str, ...] | None = None,
    path: Path | None = None,
    local_config: Path | None = None,
) -> list[str]:
    """Add or update the networks (all, or those in `only`); returns one line per network. `local_config`: the
    deploy configuration giving local-live's URL and chain id (default: config/deploy/local-live.yaml)."""
    env = read_env() if env is None else env
    path = path or network_config_path()
    config: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    lines = []
    for net in (*NETWORKS, local_live(local_config)):
        if only is not None and net.id not in only:
            continue
        host = net.host or (env.get(net.env_var, "").strip() if net.env_var else "")
        if not host:
            lines.append(f"skip    {net.id:<18} ${net.env_var} is not set")
            continue
        action = upsert(config, net, host)
        lines.append(f"{action:<7} {net.id:<18} chain {net.chainid}")
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    os.replace(tmp, path)
    return lines


def main() -> None:
    from perp_ops.deploy_config import DeployConfigError

    try:
        lines = register_networks()
    except DeployConfigError as exc:
        raise SystemExit(f"error: {exc}") from None
    for line in lines:
        print(line)
    print(f"brownie networks: {network_config_path()}")


if __name__ == "__main__":
    main()
