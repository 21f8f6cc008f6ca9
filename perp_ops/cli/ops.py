"""The operator's commands: deploy, the keeper bots, the timelock and the guardian (perp_client.operator), the
dashboard (perp_dashboard)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from perp_client import PerpError
from perp_client.operator import Operator, PlannedCall, parse_arg
from perp_client.paths import is_project, project_root
from perp_ops.cli import output as out
from perp_ops.cli.session import Session, json_option, with_session

ANVIL_BIN = Path("node_modules") / "@foundry-rs" / "anvil-linux-amd64" / "bin"


# ------------------------------------------------------------------------------------------------ deploy


@click.command()
@click.option("--network", default="development", show_default=True,
              help="brownie network: `development` (anvil), `local-live`, `sepolia`, ... (docs/toolkit.md)")
@click.option("--project", type=click.Path(path_type=Path, file_okay=False), default=None, metavar="DIR",
              help="the project checkout to deploy from (default: this one)")
def deploy(network: str, project: Path | None) -> None:
    """Deploy the protocol (brownie, from a project checkout): make deploy, as a command.

    On `development` the markets of DEMO_CONFIG go on a local anvil and deployments/<chainId>.json is written;
    on a live network the deploy signs with PRIVATE_KEY, records every step and resumes (docs/toolkit.md §3).
    """
    root = (project or project_root()).resolve()
    if not is_project(root):
        raise PerpError(f"{root} is not a project checkout (no brownie-config.yaml): deploying needs the contracts; "
                        "run it from the repository or give --project DIR")
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(root / ANVIL_BIN), str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("SOLCX_BINARY_PATH", str(root / ".solcx"))
    # the project's brownie (tools/brownie.py, as tools/setup.sh installs it): a checkout under a dotted path works
    runner = f"import runpy; runpy.run_path({str(root / 'tools' / 'brownie.py')!r}, run_name='__main__')"
    command = [sys.executable, "-c", runner, "run", "scripts/deploy.py", "--network", network]
    status = subprocess.run(command, cwd=root, env=env, check=False).returncode
    if status:
        raise click.exceptions.Exit(status)


# ------------------------------------------------------------------------------------------------ keepers


def _keeper(name: str) -> click.Command:
    @click.command(name, context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
                   add_help_option=False)
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    @click.pass_context
    def run(ctx: click.Context, args: tuple[str, ...]) -> None:
        from importlib import import_module

        module = import_module(f"perp_ops.keepers.{name}")
        status = module.main(list(args))
        ctx.exit(status)

    run.help = (f"The {name} keeper (perp_ops/keepers/{name}.py): `perp keeper {name} --help` for its options "
                "(--rpc, --deployment, --keystore, --once, --interval, --markets, -v).")
    run.short_help = {"funding": "pay funding when it is due", "liquidator": "liquidate positions below maintenance",
                      "arbitrageur": "trade the mark toward the index when it pays"}[name]
    return run


@click.group()
def keeper() -> None:
    """Run a keeper bot: funding, liquidator or arbitrageur (key from PRIVATE_KEY or --keystore)."""


for _name in ("funding", "liquidator", "arbitrageur"):
    keeper.add_command(_keeper(_name))


# ---------------------------------------------------------------------------------------------- operator


def _operator(s: Session, sign: bool) -> Operator:
    client = s.client(sign=sign)
    return Operator.from_record(client, s.deployment)


def _when(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@click.group()
def operator() -> None:
    """The deployment's state and governance: status, timelocked changes, the guardian's pause."""


@operator.command()
@with_session
@json_option
def status(s: Session, as_json: bool) -> None:
    """Every market's state, prices, index age, funding and collateral; what needs a person (exit status 1)."""
    st = _operator(s, sign=False).status()
    if as_json:
        out.emit_json({
            "block": st.block, "timestamp": st.timestamp, "paused": st.paused, "sequencer": st.sequencer,
            "insurance_fund": out.exact(st.fund_balance), "insurance_fund_surplus": out.exact(st.fund_surplus),
            "bad_debt_owed": out.exact(st.bad_debt_owed), "problems": st.problems,
            "markets": [{
                "symbol": m.symbol, "address": m.address, "state": m.state, "mark": out.exact(m.mark_price),
                "index": out.exact(m.index_price), "index_age_seconds": m.index_age, "max_staleness_seconds": m.max_staleness,
                "funding_rate": out.exact(m.funding_rate), "next_funding_time": m.next_funding_time,
                "open_interest_notional": out.exact(m.open_interest_notional), "collateral": out.exact(m.collateral),
                "owed_to_positions": out.exact(m.owed), "open_positions": m.positions, "bad_debt": out.exact(m.bad_debt),
            } for m in st.markets],
        })
    else:
        con = out.console()
        con.print(f"block {st.block} ({_when(st.timestamp)}): trading {'PAUSED' if st.paused else 'on'}; insurance fund "
                  f"{out.money(st.fund_balance)} (surplus {out.money(st.fund_surplus)}, bad debt still to pay "
                  f"{out.money(st.bad_debt_owed)}); sequencer: {st.sequencer}")
        columns = ["market", "state", "mark", "index", "index age", "funding (last)", "next funding", "open interest",
                   "collateral booked", "owed to positions", "bad debt"]
        rows = [[m.symbol, m.state, out.price(m.mark_price), out.price(m.index_price) if m.index_price is not None else "refused",
                 f"{m.index_age} s" if m.index_age is not None else "?", out.pct(m.funding_rate, 4),
                 f"in {max(m.next_funding_time - st.timestamp, 0)} s", out.money(m.open_interest_notional),
                 out.money(m.collateral), out.money(m.owed) if m.owed is not None else "settling", out.money(m.bad_debt)]
                for m in st.markets]
        con.print(out.table(None, columns, rows, right=columns[2:]))
        for problem in st.problems:
            con.print(f"NEEDS A PERSON: {problem}")
        if not st.problems:
            con.print("all fine")
    if st.needs_person:
        raise click.exceptions.Exit(1)


@operator.command()
@with_session
@json_option
def pending(s: Session, as_json: bool) -> None:
    """Timelocked operations scheduled and not yet executed or cancelled."""
    ops = _operator(s, sign=False).pending()
    if as_json:
        out.emit_json([{"operation": p.operation_id, "ready": p.ready, "ready_at": p.ready_at, "target": p.target,
                        "call": p.description, "data": p.data} for p in ops])
        return
    if not ops:
        click.echo("no pending operation")
        return
    rows = [[p.operation_id, "READY" if p.ready else f"at {_when(p.ready_at)}", p.description] for p in ops]
    out.console().print(out.table(None, ["operation", "executable", "call"], rows))


@operator.command()
@click.argument("operation")
@with_session
def execute(s: Session, operation: str) -> None:
    """Execute a ready timelocked OPERATION (its id, from `perp operator pending`)."""
    _operator(s, sign=True).execute(operation)
    click.echo(f"executed {operation}")


@operator.command()
@click.argument("operation")
@with_session
def cancel(s: Session, operation: str) -> None:
    """Cancel a pending timelocked OPERATION (a proposer's key)."""
    _operator(s, sign=True).cancel(operation)
    click.echo(f"cancelled {operation}")


@operator.command()
@with_session
def pause(s: Session) -> None:
    """Pause trading (the guardian's or the owner's key): opening, closing and removing margin stop; money does not."""
    _operator(s, sign=True).pause()
    click.echo("paused: trading is stopped; unpausing is the owner's (the timelock's) call")


def _schedule(op: Operator, call: PlannedCall) -> None:
    con = out.console()
    con.print(call.describe())
    con.print(call.table())
    op.schedule(call)
    con.print(f"scheduled {call.operation_id}: `perp operator pending` shows when it is due, then "
              f"`perp operator execute {call.operation_id}`")


@operator.command()
@with_session
def unpause(s: Session) -> None:
    """Schedule unpause() through the timelock (a proposer's key): prints the call and its before / after."""
    op = _operator(s, sign=True)
    _schedule(op, op.plan_unpause())


@operator.command(context_settings={"ignore_unknown_options": True})
@click.argument("role")
@click.argument("function")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@with_session
def schedule(s: Session, role: str, function: str, args: tuple[str, ...]) -> None:
    """Schedule an owner call through the timelock: ROLE (clearing_house, insurance_fund, price_feed, amm_ETH, ...),
    FUNCTION and its ARGS (integers as 1e17 or 10**18, addresses 0x...). Prints the exact call and a before / after
    table, then schedules it (a proposer's key)."""
    op = _operator(s, sign=True)
    _schedule(op, op.plan(role, function, *map(parse_arg, args)))


@operator.command(name="top-up")
@click.argument("amount")
@with_session
def top_up(s: Session, amount: str) -> None:
    """Move AMOUNT quote tokens (human units, e.g. 10000) from the key's wallet into the InsuranceFund."""
    balance = _operator(s, sign=True).top_up(amount)
    click.echo(f"InsuranceFund topped up by {amount}: it holds {out.money(balance)}")


# --------------------------------------------------------------------------------------------- dashboard


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8670, show_default=True)
@click.option("--dev-wallet", is_flag=True, help="offer anvil's unlocked accounts as a wallet (refused on any other node)")
@with_session
def dashboard(s: Session, host: str, port: int, dev_wallet: bool) -> None:
    """Serve the trading and operations page for the chain (docs/dashboard.md) until Ctrl-C."""
    from perp_dashboard.server import serve

    s.client()  # one line now, not a page that says so later: the node answers and holds the deployment
    serve(s.rpc, host, port, s.deployment, dev_wallet)


COMMANDS: list[Any] = [deploy, keeper, operator, dashboard]
