"""brownie's command line for this project; tools/setup.sh installs it as `.venv/bin/brownie`.

brownie 1.22 imports a script by a module name built from its absolute path (`/home/jane.doe/perp/scripts/deploy.py`
becomes `home.jane.doe.perp.scripts.deploy`), which fails with `ModuleNotFoundError: No module named 'home.jane'`
wherever a directory on the way has a dot in its name (brownie is compiled with mypyc, so its function cannot be
replaced). Here an import finder answers the names brownie builds for the project's own folder: each dotted prefix
of the project's path is an empty package and the whole of it is the project's root, so `scripts/...` below it
imports as it does from any other folder. Everything else is brownie's own command line, unchanged.
"""

from __future__ import annotations

import importlib.machinery
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from brownie._cli.__main__ import main
from brownie.project.main import check_for_project


class ProjectPathFinder:
    """Resolves `a.b.c` for the project at /a/b.c (and its prefixes `a`, `a.b`) as packages."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = ".".join(root.parts[1:])

    def find_spec(self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname == self.name:
            spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
            spec.submodule_search_locations = [str(self.root)]
            return spec
        if self.name.startswith(fullname + "."):
            spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
            spec.submodule_search_locations = []
            return spec
        return None


if __name__ == "__main__":
    root = check_for_project(".")
    if root is not None and "." in "".join(root.parts[1:]):
        sys.meta_path.insert(0, ProjectPathFinder(root))  # type: ignore[arg-type]
    sys.argv[0] = "brownie"
    sys.exit(main())
