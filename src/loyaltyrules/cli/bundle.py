"""`loyaltyrules bundle`: build, sign and verify the policy bundle HQ ships to stores."""

from __future__ import annotations

from pathlib import Path

import click

from ..diagnostics import DiagnosticError
from ..release import signing
from ..release.bundle import BundleRefused, build, opened
from . import settings


@click.group("bundle")
def bundle_command() -> None:
    """Ship a policy set as one signed file.

    \b
    HQ, once:     loyaltyrules bundle keygen keys/hq          (keys/hq and keys/hq.pub)
    HQ, a release: loyaltyrules bundle build policies/ -o pack.bundle --sign keys/hq
    each store:   [bundle] public_key = "hq.pub" in loyaltyrules.toml, then
                  loyaltyrules bundle verify pack.bundle
                  loyaltyrules run --bundle pack.bundle

    A bundle carries the policies, overrides, templates and contact rules (never the
    test cases), a manifest with each file's SHA-256, the schema versions they were
    checked against, and the set's content hash: the id every action carries, which
    comments and tests do not change. With a public key configured, run, backtest and
    serve refuse a bundle that is unsigned, signed by another key, or changed by a
    single byte.
    """


@bundle_command.command("build")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="The bundle file to write.")
@click.option("--sign", "key", type=click.Path(path_type=Path, dir_okay=False),
              help="Sign with this Ed25519 private key (PEM; `bundle keygen` makes one).")
@settings.config_option
def build_command(paths: tuple[Path, ...], out: Path, key: Path | None,
                  config_path: Path | None) -> None:
    """Validate the policy set PATHS (default: as for `run`) and write it as one bundle.

    Exit status: 0 written; 1 the policies do not validate, or the key is unusable.
    """
    config = settings.load(config_path)
    try:
        manifest = build(settings.policy_paths(config, paths), out, key)
    except BundleRefused as err:
        settings.fail(str(err), settings.EXIT_INVALID)
    except DiagnosticError as err:
        for diagnostic in err.diagnostics[:50]:
            click.echo(diagnostic.render(), err=True)
        settings.fail(f"{len(err.diagnostics)} problems in the policies; nothing written",
                      settings.EXIT_INVALID)
    except signing.BadKey as err:
        settings.fail(f"cannot sign: {err}", settings.EXIT_INVALID)
    signed = f", signed with key {_key_id(key)}" if key else ", unsigned"
    click.echo(f"wrote {out}: bundle {manifest['bundle']}, {len(manifest['policies'])} "
               f"policies, {len(manifest['files'])} files{signed}")


def _key_id(key: Path) -> str:
    return signing.key_id(signing.load_private(key).public_key())


@bundle_command.command("verify")
@click.argument("bundle", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--public-key", type=click.Path(path_type=Path, dir_okay=False),
              help="Require a signature by this key (default: [bundle] public_key of "
                   "loyaltyrules.toml).")
@settings.config_option
def verify_command(bundle: Path, public_key: Path | None, config_path: Path | None) -> None:
    """Check a bundle as a store would before using it: its files against the
    manifest, its signature (with a public key), its policies, its content hash.

    Exit status: 0 the bundle can be used; 1 refused (the reason is printed).
    """
    config = settings.load(config_path)
    key = settings.public_key(config, public_key)
    try:
        with opened(bundle, key) as (plan, verified):
            click.echo(f"{bundle}: bundle {plan.bundle}, built with "
                       f"{verified.manifest.get('built_with', '?')}")
            for policy in plan.policies:
                click.echo(f"  {policy.id} v{policy.version}")
            if verified.signed_by:
                click.echo(f"  signature: good, key {verified.signed_by}")
            elif verified.signature_present:
                click.echo("  signature: present, not checked (no public key configured)")
            else:
                click.echo("  signature: none (no public key configured)")
    except BundleRefused as err:
        settings.fail(f"bundle refused: {err}", settings.EXIT_INVALID)


@bundle_command.command("keygen")
@click.argument("key", type=click.Path(path_type=Path, dir_okay=False))
def keygen_command(key: Path) -> None:
    """Make an Ed25519 key pair: KEY (private, mode 0600: keep it at HQ) and KEY.pub
    (give it to the stores). Never overwrites.

    Exit status: 0 written; 1 a file of that name exists.
    """
    try:
        public = signing.generate(key)
    except signing.BadKey as err:
        settings.fail(str(err), settings.EXIT_INVALID)
    except OSError as err:
        settings.fail(f"cannot write {key}: {err.strerror or err}", settings.EXIT_INVALID)
    click.echo(f"wrote {key} (private: keep it at HQ) and {public} (for the stores)")
