"""`python -m perp_ops` is the `perp` command."""

import sys

from perp_ops.cli import main

sys.exit(main())
