"""Where the client finds a project's files, inside the repository or installed anywhere.

The project is `$PERP_PROJECT` when set; else the checkout this package runs from (an editable install: a
brownie project next to the package); else the nearest brownie project at or above the current directory;
else the current directory. Its `build/` (fresh ABIs after `brownie compile`) and `deployments/` are used
when present; otherwise the copies shipped inside the package (`perp_client/abis/`, `perp_client/deployments/`).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGED_ABIS = PACKAGE_DIR / "abis"
PACKAGED_DEPLOYMENTS = PACKAGE_DIR / "deployments"
PROJECT_MARKER = "brownie-config.yaml"


def is_project(path: Path) -> bool:
    return (path / PROJECT_MARKER).is_file()


def project_root() -> Path:
    """The project directory (see the module docstring)."""
    override = os.environ.get("PERP_PROJECT", "").strip()
    if override:
        return Path(override).resolve()
    if is_project(PACKAGE_DIR.parent):
        return PACKAGE_DIR.parent
    cwd = Path.cwd()
    return next((p for p in (cwd, *cwd.parents) if is_project(p)), cwd)
