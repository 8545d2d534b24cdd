"""`loyaltyrules explain`: why each policy fired for a customer on a date, or why not."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import click

from ..engine.actions import format_value
from ..engine.explain import PolicyTrace, explain
from ..engine.values import metric_values
from ..nightly import load_source
from ..sources import UnusableInput
from . import settings


def _render(trace: PolicyTrace) -> list[str]:
    verdict = "fired" if trace.fired else "not fired"
    lines = [f"{trace.policy} v{trace.version} ({trace.trigger}): {verdict}"]
    lines += [f"  not triggered: {reason}" for reason in trace.not_triggered]
    for cand in trace.candidates:
        lines.append(f"  {cand.event} {cand.subject}:")
        lines += [f"    policy not {name}" for name, ok in cand.gates if not ok]
        lines += [f"    {c.text}: {c.shown} -> {c.result}" for c in cand.conditions]
        if not cand.conditions:
            lines.append("    (no conditions)")
        lines += [f"    params.{p.name} = {p.value} ({p.origin})" for p in cand.params]
        for action in cand.actions:
            who = f"{action['assignee']['role']} {action['assignee']['id'] or ''}".strip()
            lines.append(
                f"    => {action['type']} for {action['customer_id']} by {who}, "
                f"due {action['due_by']} [{action['action_id']}]"
            )
            lines.append(f"       contact rules: {_contact(cand.contact[action['action_id']])}")
    return lines


def _contact(story: dict[str, object]) -> str:
    """`emitted`, `deferred to D (cap:sms)`, `merged into <id>`, `expired (stale)`, and
    whether the ledger recorded it or a run of that night would decide it now."""
    status = str(story["status"])
    if story["deferred_to"]:
        status += f" to {story['deferred_to']}"
    if story["merged_into"]:
        status += f" into task {story['merged_into']}"
    if story["reason"]:
        status += f" ({story['reason']})"
    when = (f"recorded on {story['day']}" if story["recorded"]
            else f"not recorded yet: what a run of {story['day']} would decide now")
    return f"{status}; {when}"


@click.command("explain")
@click.option("--customer", required=True, help="The customer id.")
@click.option(
    "--as-of", required=True, type=click.DateTime(["%Y-%m-%d"]), help="The business date."
)
@click.option("--policy", "policy_id", help="Only this policy.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@settings.data_option
@settings.example_option
@click.option("--state", metavar="FILE|URL",
              help=f"The ledger to read the contact decisions from: a SQLite file or a "
                   f"postgresql:// URL (default {settings.DEFAULT_STATE}); it is only read.")
@settings.policies_option
@settings.config_option
def explain_command(
    customer: str,
    as_of: dt.datetime,
    policy_id: str | None,
    fmt: str,
    data: str | None,
    example: bool,
    state: str | None,
    policies: tuple[Path, ...],
    config_path: Path | None,
) -> None:
    """Show, for every policy, whether it fired for CUSTOMER on the date and why, and
    what the contact rules did with each action.

    Each condition is shown with the values it was evaluated on, for example
    `purchase.amount >= params.threshold: 1850.00 >= 2000.00 -> false`; an absent
    value shows as `missing` (and a condition over it is false); a percentile or ABC
    class also with its cut-off. The customer's declared metrics at the end of the date
    come first. The values come from the same compiled queries the nightly run uses.
    Each param is shown with the file that set its value for that store: HQ's policy
    file, the region's or the store's override. Each action then shows what the contact
    rules did: emitted, deferred to a date, merged into a task, or expired (no-consent,
    cap, store-closed, stale), as the ledger recorded it, or as a run of that night would
    decide it now when the ledger has no decision yet. The ledger is only read.
    """
    config = settings.load(config_path)
    plan = settings.compile_plan(settings.policy_paths(config, policies))
    if policy_id and not plan.policy(policy_id):
        settings.fail(f"no policy named {policy_id!r}", settings.EXIT_INVALID)
    source_ref = settings.data_source(config, data, example)
    day = as_of.date()
    try:
        source = load_source(source_ref, day, None)
    except UnusableInput as err:
        settings.unusable(err)
    traces = explain(source.connection, plan, customer, day, policy_id,
                     settings.state_path(config, state))
    if fmt == "json":
        click.echo(
            json.dumps(
                [dataclasses.asdict(t) | {"fired": t.fired} for t in traces], indent=2, default=str
            )
        )
        return
    known = source.connection.execute(
        "SELECT count(*) FROM customers WHERE customer_id = ?", [customer]
    ).fetchone()
    if not known or not known[0]:
        click.echo(f"note: {customer!r} is not in the customers table", err=True)
    values = metric_values(source.connection, plan, [(customer, day)]).get((customer, day))
    if values:
        click.echo(f"metrics at the end of {day}:")
        click.echo("\n".join(f"  customer.{n} = {format_value(v)}" for n, v in values.items()))
    for trace in traces:
        click.echo("\n".join(_render(trace)))
