"""`brownie run` that works from any directory: the Makefile's entry to every script.

    python -m perp_ops.brownie_run scripts/alice_bob.py [FUNCTION [ARG ...]] [--network NAME]

Exactly brownie's own `run` command (same arguments and output), with three differences:
- brownie 1.22 imports the script under a module name made of its absolute path (`/home/jane.doe/perp/scripts/x.py`
  becomes `home.jane.doe.perp.scripts.x`), which fails with `ModuleNotFoundError: No module named 'home.jane'`
  wherever a directory name holds a dot, and otherwise imports the script a second time beside `scripts.x`. Here
  the script is imported by its name inside the project (`scripts.x`).
- The anvil race patch is installed before anything is sent (perp_ops.entry).
- A network that cannot be reached is one line and exit status 1, not a traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from perp_ops import anvil_race
from perp_ops.entry import CONNECTION_ERRORS, connection_reason


def module_name(script: Path, project: Path) -> str:
    """`<project>/scripts/x.py` → `scripts.x`."""
    relative = script.resolve().relative_to(project.resolve())
    return ".".join(relative.with_suffix("").parts)


def _import_script(path: Path) -> ModuleType:
    """brownie.project.scripts._import_from_path, by the script's name inside its project."""
    from brownie.project import get_loaded_projects

    for project in get_loaded_projects():
        try:
            name = module_name(path, project._path)
        except ValueError:
            continue
        root = str(project._path)
        if root not in sys.path:
            sys.path.insert(0, root)
        module = sys.modules.get(name)
        return importlib.reload(module) if module is not None else importlib.import_module(name)
    raise ValueError(f"{path} is not inside a loaded brownie project")


def _guarded_connect(connect: Any) -> Any:
    def connect_or_exit(network: str | None = None, *args: Any, **kwargs: Any) -> Any:
        try:
            return connect(network, *args, **kwargs)
        except CONNECTION_ERRORS as exc:
            raise SystemExit(f"error: cannot reach the node of network '{network}' ({connection_reason(exc)}): check its "
                             "RPC URL (`brownie networks list`; the *_RPC_URL variables in .env); nothing was sent") from None

    return connect_or_exit


def install() -> None:
    """Patch brownie for this process: script import by project name, guarded connect, anvil race."""
    import brownie.network
    import brownie.project.scripts

    brownie.project.scripts._import_from_path = _import_script  # type: ignore[attr-defined]
    if not getattr(brownie.network.connect, "_perp_guarded", False):
        guarded = _guarded_connect(brownie.network.connect)
        guarded._perp_guarded = True  # type: ignore[attr-defined]
        brownie.network.connect = guarded  # type: ignore[assignment]
    anvil_race.install()


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    install()
    from brownie._cli.__main__ import main as brownie_main

    sys.argv = ["brownie", "run", *args]
    brownie_main()


if __name__ == "__main__":
    main()
