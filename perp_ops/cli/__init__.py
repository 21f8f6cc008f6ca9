"""`perp`: the protocol from a terminal, for traders and operators (docs/toolkit.md §1).

    perp markets                       perp open ETH long 100 5          perp operator status
    perp account [ADDRESS]             perp close ETH [SIZE]             perp operator pending|execute|cancel|pause
    perp quote ETH long 100 5          perp margin add|remove ETH ...    perp keeper funding|liquidator|arbitrageur
    perp history [ADDRESS]             perp settle ETH                   perp deploy [--network NAME]
    perp deposit 1000                  perp withdraw 500                 perp dashboard
    perp mint 5000 (local chains)

Every read command has --json. Keys come from PRIVATE_KEY (environment or .env) or --keystore, never from the
command line. Every error is one line on stderr with a non-zero exit status, and nothing is sent.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click
import requests
from web3.exceptions import ContractLogicError, Web3Exception

from perp_client import PerpError
from perp_client.units import UnitError
from perp_ops.cli import ops, trader


class InOrder(click.Group):
    """Commands listed in the order they were added (the trader's first), not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(cls=InOrder, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
def cli() -> None:
    """perp: trade and operate the vAMM perpetual protocol (docs/toolkit.md)."""


for _command in (*trader.COMMANDS, *ops.COMMANDS):
    cli.add_command(_command)


def _fail(message: str, status: int = 1) -> int:
    click.echo(f"error: {message}", err=True)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """The `perp` console script: click without its multi-line error screens (one `error:` line each)."""
    try:
        result = cli.main(args=list(argv) if argv is not None else None, prog_name="perp", standalone_mode=False)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "perp"
        return _fail(f"{exc.format_message()} (see `{where} --help`)", 2)
    except click.Abort:
        return _fail("aborted")
    except click.ClickException as exc:
        return _fail(exc.format_message(), exc.exit_code)
    except (PerpError, UnitError) as exc:
        return _fail(str(exc))
    except requests.exceptions.RequestException as exc:
        return _fail(f"the node stopped answering: {str(exc).splitlines()[0][:200]}")
    except ContractLogicError as exc:
        return _fail(f"the protocol refused: {exc.message or exc}")
    except Web3Exception as exc:
        return _fail(str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
