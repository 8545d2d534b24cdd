"""`loyaltyrules inspect --store S`: what one store gets from the policy set."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from ..config import Config
from ..inspection import PolicyAtStore, inspect, unknown_override_targets
from ..nightly import load_source
from ..plan import Plan
from ..sources import UnusableInput
from ..validation.targets import KnownTargets, known_targets
from . import settings


@click.command("inspect")
@click.option("--store", required=True, metavar="STORE_ID", help="The store to inspect.")
@click.option("--region", metavar="REGION",
              help="The store's region (default: from the stores table of --data).")
@settings.policies_option
@settings.bundle_option
@click.option("--data", metavar="DIR|FILE|URL",
              help="A data source whose stores table gives the store's region and the "
                   "names overrides may use (unknown ones are reported).")
@settings.example_option
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]),
              help="The date for 'in force' (default: today).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@settings.config_option
def inspect_command(store: str, region: str | None, policies: tuple[Path, ...],
                    bundle: Path | None, data: str | None, example: bool,
                    as_of: dt.datetime | None, fmt: str, config_path: Path | None) -> None:
    """Show what one store gets from the policy set: each policy enabled or not, in
    its scope or not, in force or not, and every param's value with its source (HQ's
    policy file, the region's override file, the store's), as evaluation resolves them.

    \b
    Examples:
      loyaltyrules inspect --store S1 --region north
      loyaltyrules inspect --store S1 --example --format json
      loyaltyrules inspect --store S001 --bundle pack.bundle --data data/

    Exit status: 0 shown; 1 invalid policies or a refused bundle; 2 unusable data.
    With data, an override naming a store or region the data does not know is
    reported as a warning (it changes nothing).
    """
    config = settings.load(config_path)
    plan = settings.load_plan(config, policies, bundle)
    known, found_region = None, None
    if data is not None or example:
        known, found_region = _from_data(config, data, example, store)
    region = region or found_region
    day = as_of.date() if as_of else dt.date.today()
    results = inspect(plan, store, region, day)
    warnings = _warnings(plan, known, store, region)
    if fmt == "json":
        click.echo(json.dumps({"store": store, "region": region, "bundle": plan.bundle,
                               "as_of": day.isoformat(),
                               "policies": [r.to_json() for r in results],
                               "warnings": warnings}, indent=2))
        return
    _table(store, region, plan.bundle, results)
    for line in warnings:
        click.echo(f"warning: {line}", err=True)


def _from_data(config: Config, data: str | None, example: bool, store: str
               ) -> tuple[KnownTargets, str | None]:
    try:
        source = load_source(settings.data_source(config, data, example), dt.date.today(), None)
    except UnusableInput as err:
        settings.unusable(err)
    con = source.connection
    row = con.execute("SELECT region FROM stores WHERE store_id = ?", [store]).fetchone()
    return known_targets(con), (str(row[0]) if row and row[0] is not None else None)


def _warnings(plan: Plan, known: KnownTargets | None, store: str,
              region: str | None) -> list[str]:
    lines = []
    if region is None:
        lines.append("the store's region is not known (give --region, or --data with a "
                     "stores table): region overrides are not applied here")
    if known is not None:
        if store not in known.stores:
            lines.append(f"no store {store!r} in the data")
        lines += [f"override for {t}: no such name in the data, so it changes nothing"
                  for t in unknown_override_targets(plan, known)]
    return lines


def _table(store: str, region: str | None, bundle: str, results: list[PolicyAtStore]) -> None:
    click.echo(f"store {store}, region {region or '(unknown)'}, bundle {bundle}")
    for r in results:
        state = "enabled" if r.enabled else "disabled here"
        if not r.in_scope:
            state += ", out of scope"
        if not r.in_force:
            state += ", not in force"
        click.echo(f"  {r.policy} v{r.version}: {state}")
        for p in r.params:
            click.echo(f"    {p.name} = {p.value}    ({p.origin})")
