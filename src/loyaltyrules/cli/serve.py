"""`loyaltyrules serve`: the local HTTP/JSON service for a point of sale."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from ..config import Config
from ..configkeys import boolean
from ..diagnostics import DiagnosticError, did_you_mean
from ..event.backends import BACKENDS
from ..event.durable.compiler import CODE as REFUSED
from ..event.durable.session import DurableUnavailable
from ..ledger import SYNC_MODES
from ..service.settings import DEFAULT_SYNC  # plain data: importable without the extra
from . import settings

HINT = "loyaltyrules serve needs the service extra: pip install 'loyaltyrules[serve]'"
SERVE_KEYS = ("sync", "backend")  # the keys of [serve] in loyaltyrules.toml


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything but loopback requires a token.")
@click.option("--port", default=8787, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port (0: any free port).")
@click.option("--token", envvar="LOYALTYRULES_TOKEN", show_envvar=True,
              help="Bearer token every endpoint but /v1/health requires (prefer the "
                   "environment variable: a flag shows in the process list).")
@settings.policies_option
@settings.bundle_option
@settings.state_option
@click.option("--max-body", default=64 * 1024, show_default=True, type=click.IntRange(1),
              help="Largest request body accepted, in bytes.")
@click.option("--reload-interval", default=2.0, show_default=True, type=click.FloatRange(0),
              help="Seconds between checks of the policy files for changes (0: never).")
@click.option("--sync", type=click.Choice(SYNC_MODES, case_sensitive=False),
              help="How each receipt's commit reaches the disk: 'normal' (default, also "
                   "[serve] sync of loyaltyrules.toml) keeps every answered receipt through "
                   "a crash of the service, an OS crash or power loss may drop the last "
                   "ones; 'full' waits for an fsync on every receipt.")
@click.option("--backend", type=click.Choice(BACKENDS),
              help="Which per-event engine decides: 'native' (default, also [serve] backend "
                   "of loyaltyrules.toml) or 'durable_rules' (the durable extra, for "
                   "receipt-triggered policies only; docs/durable-rules.md).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--data", type=click.Path(path_type=Path),
              help="Where the work page finds names and languages (and, with [sheets] "
                   "enrich, contact details): default [source] of loyaltyrules.toml, else "
                   "./data; none: customers by id.")
@settings.example_option
@settings.config_option
def serve_command(host: str, port: int, token: str | None, policies: tuple[Path, ...],
                  bundle: Path | None, state: str | None, max_body: int,
                  reload_interval: float, sync: str | None, backend: str | None,
                  log_level: str, data: Path | None, example: bool,
                  config_path: Path | None) -> None:
    """Serve the engine over HTTP/JSON: actions for a receipt at checkout, a customer's
    open actions, outcomes, health and the active policy bundle (docs/service.md);
    and the store work page, /stores/STORE/today, where associates mark their tasks
    done, unreachable or declined from a phone.

    Binds to 127.0.0.1 unless told otherwise; any other address requires a token
    (browsers sign in with it at /login). Policy files (or the --bundle file) are
    re-read when they change; a set that fails validation, or a bundle refused (unsigned
    or tampered while [bundle] public_key is configured), is reported and the last good
    one stays active.

    \b
    Examples:
      loyaltyrules serve
      LOYALTYRULES_TOKEN=... loyaltyrules serve --host 0.0.0.0 --port 8787
      loyaltyrules serve --backend durable_rules --policies receipt-policies/

    \b
    Exit status: 1 invalid policies or configuration (also: a policy set the chosen
    backend cannot run, or the durable_rules backend not installed).
    """
    from ..service.auth import needs_token

    if token is not None and not token.strip():
        settings.fail("the token is empty", settings.EXIT_INVALID)
    if needs_token(host) and not token:
        settings.fail(f"--host {host} is not a loopback address: set LOYALTYRULES_TOKEN "
                      "(or --token) so clients must authenticate", settings.EXIT_INVALID)
    try:
        import uvicorn

        from ..service.app import create_app, load_engine
        from ..service.protocol import problem_protocol
        from ..service.settings import ServiceSettings
    except ImportError:
        settings.fail(HINT, settings.EXIT_INVALID)
    config = settings.load(config_path)
    options = ServiceSettings(
        policies=tuple(settings.policy_paths(config, policies)),
        state=settings.state_path(config, state), token=token or None, max_body=max_body,
        reload_interval=reload_interval, sync=sync_mode(config, sync),
        data=settings.named_data_source(config, data, example),
        enrich=boolean(config.sections, "sheets", "enrich"), bundle=bundle,
        public_key=settings.public_key(config) if bundle else None,
        backend=backend_choice(config, backend))
    if bundle is not None and policies:
        settings.fail("give either --bundle or --policies, not both", settings.EXIT_INVALID)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    try:
        engines = load_engine(options)
    except DurableUnavailable as err:
        settings.fail(str(err), settings.EXIT_INVALID)
    except DiagnosticError as err:
        for diagnostic in err.diagnostics[:50]:
            click.echo(diagnostic.render(), err=True)
        if bundle is not None:
            settings.fail(f"the bundle {bundle} is refused; nothing is served",
                          settings.EXIT_INVALID)
        if all(d.code == REFUSED for d in err.diagnostics):
            settings.fail(f"the {options.backend} backend cannot run {len(err.diagnostics)} "
                          "of these policies (docs/durable-rules.md)", settings.EXIT_INVALID)
        settings.fail(f"{len(err.diagnostics)} problems in the policies; run "
                      "`loyaltyrules validate`", settings.EXIT_INVALID)
    app = create_app(options, engines)
    click.echo(f"loyaltyrules: serving bundle {engines.current.engine.bundle} on "
               f"http://{host}:{port} (token {'required' if token else 'off'})", err=True)
    try:
        # No proxy-header rewriting: nothing here reads the client's address, and it
        # would cost a middleware pass per request.
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False,
                    server_header=False, proxy_headers=False, http=problem_protocol())
    finally:
        engines.close()


def sync_mode(config: Config, given: str | None) -> str:
    """--sync, else `[serve] sync` of the configuration file, else "normal".

    Unknown keys in [serve] are refused: a misspelt `sync` would silently fall back
    to the default, which is the less durable of the two."""
    section = config.sections.get("serve") or {}
    where = f"{config.path.name if config.path else 'the configuration'}: [serve]"
    for key in section:
        if key not in SERVE_KEYS:
            hint = did_you_mean(key, SERVE_KEYS)
            settings.fail(f"{where} has an unknown key {key!r}" + (f"; {hint}" if hint else ""),
                          settings.EXIT_INVALID)
    if given is not None:
        return given.lower()
    value = section.get("sync", DEFAULT_SYNC)
    if not isinstance(value, str) or value.lower() not in SYNC_MODES:
        settings.fail(f"{where} sync must be one of {', '.join(map(repr, SYNC_MODES))}",
                      settings.EXIT_INVALID)
    return value.lower()


def backend_choice(config: Config, given: str | None) -> str:
    """--backend, else `[serve] backend` of the configuration file, else "native"."""
    if given is not None:
        return given
    value = (config.sections.get("serve") or {}).get("backend", "native")
    if value not in BACKENDS:
        where = f"{config.path.name if config.path else 'the configuration'}: [serve]"
        settings.fail(f"{where} backend must be one of {', '.join(map(repr, BACKENDS))}",
                      settings.EXIT_INVALID)
    return str(value)
