"""`brownie run` that works from any directory: the Makefile's (and `perp deploy`'s) way to run a script.

(`.venv/bin/brownie run ...` works from a path with a dot too: tools/setup.sh installs tools/brownie.py as brownie's
command line. This runner is for the entry points the toolkit owns, where it also keeps connection errors to one line.)

    python -m perp_ops.brownie_run scripts/alice_bob.py [FUNCTION [ARG ...]] [--network NAME]

It does what brownie's `run` command does (load and compile the project, connect to the network, call the
script's function, stop the local chain it started) with three differences:
- brownie 1.22 imports the script under a module name made of its absolute path (`/home/jane.doe/perp/scripts/x.py`
  becomes `home.jane.doe.perp.scripts.x`), which fails with `ModuleNotFoundError: No module named 'home.jane'`
  wherever a directory name holds a dot (and otherwise imports the script a second time beside `scripts.x`). Here
  the script is imported by its name inside the project, `scripts.x`. (brownie's own modules are compiled, so
  its importer cannot be patched: this runner replaces the command.)
- The anvil race patch is installed before anything is sent (perp_ops.entry).
- A network that cannot be reached is one line and exit status 1, not a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from perp_client.paths import PROJECT_MARKER
from perp_ops import anvil_race
from perp_ops.entry import CONNECTION_ERRORS, connection_reason


def module_name(script: Path, project: Path) -> str:
    """`<project>/scripts/x.py` → `scripts.x`."""
    relative = script.resolve().relative_to(project.resolve())
    return ".".join(relative.with_suffix("").parts)


def find_project(start: Path) -> Path:
    """The brownie project at or above `start` (brownie's own rule: the folder holding brownie-config.yaml)."""
    for folder in (start, *start.parents):
        if (folder / PROJECT_MARKER).is_file():
            return folder
    raise SystemExit(f"error: {start} is not inside a brownie project (no {PROJECT_MARKER} here or above)")


def import_script(script: Path, project: Path) -> ModuleType:
    """The script as the module `scripts.x` of its project (reloaded when it was imported before)."""
    name = module_name(script, project)
    root = str(project.resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    module = sys.modules.get(name)
    return importlib.reload(module) if module is not None else importlib.import_module(name)


def _script_path(project: Path, given: str) -> Path:
    path = Path(given).with_suffix(".py")
    for candidate in (path, project / path, project / "scripts" / path):
        if candidate.is_file():
            return candidate.resolve()
    raise SystemExit(f"error: no script {given} (looked in {project} and {project / 'scripts'})")


def connect(network: str | None) -> None:
    """brownie's network.connect; a network that is unknown, incomplete or unreachable is one line and exit 1."""
    from brownie import network as brownie_network
    from brownie.exceptions import MainnetUndefined, RPCConnectionError, RPCProcessError

    name = network or "development"
    hint = ("register it with `python -m perp_ops.networks` (its *_RPC_URL in the environment or .env; "
            "`brownie networks list` shows what is registered); nothing was sent")
    try:
        brownie_network.connect(network)
    except CONNECTION_ERRORS as exc:
        raise SystemExit(f"error: cannot reach the node of network '{name}' ({connection_reason(exc)}): check its RPC URL: {hint}") from None
    except KeyError:
        raise SystemExit(f"error: unknown network '{name}': {hint}") from None
    except (ValueError, ConnectionError, RPCConnectionError, RPCProcessError, MainnetUndefined) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SystemExit(f"error: cannot connect to network '{name}': {reason}: {hint}") from None


def run(script: str, function: str = "main", args: Sequence[str] = (), network: str | None = None,
        project_dir: Path | None = None) -> Any:
    """Load the project, connect to `network` (None: brownie's default, the development chain), call
    `function(*args)` of `script`; returns what it returns."""
    from brownie import project as brownie_project
    from brownie._config import CONFIG

    warnings.filterwarnings("ignore", message=r"rpc\.\w+ should not be called directly", category=FutureWarning)
    root = find_project((project_dir or Path.cwd()).resolve())
    path = _script_path(root, script)
    CONFIG.argv.update({"cli": "run", "network": network, "silent": False, "interactive": False, "raise": False,
                        "gas": False, "tb": False})
    active = brownie_project.load(root)
    active.load_config()
    print(f"{active._name} is the active project.")
    anvil_race.install()
    connect(network)
    active._add_to_main_namespace()
    module = import_script(path, root)
    fn = getattr(module, function, None)
    if not callable(fn):
        raise SystemExit(f"error: {module.__name__} has no function {function!r}")
    print(f"\nRunning '{path.relative_to(root)}::{function}'...")
    return fn(*args)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m perp_ops.brownie_run", description="`brownie run`, from any directory")
    p.add_argument("script", help="the script, e.g. scripts/deploy.py")
    p.add_argument("function", nargs="?", default="main", help="the function to call (default main)")
    p.add_argument("args", nargs="*", help="arguments for the function")
    p.add_argument("--network", default=None, help="brownie network (default: development)")
    a = p.parse_args(list(sys.argv[1:] if argv is None else argv))
    print("Brownie (perp_ops.brownie_run) - scripts imported by their name in the project")
    run(a.script, a.function, a.args, a.network)
    return 0


if __name__ == "__main__":
    sys.exit(main())
