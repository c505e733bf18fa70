"""`flask keys create|revoke|flush-usage`: key management from a shell (provisioning, break-glass).

Each command is one unit of work: what it changed is committed when it succeeds, nothing when it fails.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.errors import ServiceError
from portal.keys import service, tasks
from portal.orgs import members
from portal.orgs import service as orgs
from portal.orgs.models import Organization
from portal.uow import unit_of_work

group = AppGroup("keys", help="API key management from a shell (provisioning, break-glass).")


def _org(slug: str) -> Organization:
    org = orgs.org_by_slug(slug)
    if org is None:
        raise click.ClickException(f"No organization with the slug {slug!r}.")
    return org


@group.command("create")
@click.option("--org", "slug", required=True, help="The organization's slug")
@click.option("--email", required=True, help="The owner: a member of the organization")
@click.option("--scopes", default="read", show_default=True, help="Comma-separated: read,write,admin")
@click.option("--name", required=True, help="What the key is for")
@click.option("--expires", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), default=None, help="Expiry (UTC)")
@click.option("--rate-limit", type=int, default=None, help="Requests a minute")
def create_command(slug: str, email: str, scopes: str, name: str, expires, rate_limit: int | None):
    """Create a key; the full key is the last line of the output (it is never shown again)."""
    with unit_of_work():
        org = _org(slug)
        member = members.member_by(org, email)
        if member is None:
            raise click.ClickException(f"{email} is not a member of {slug}.")
        try:
            key, secret = service.create_key(org, member, name=name, scopes=scopes, expires_at=expires, rate_limit=rate_limit)
        except ServiceError as exc:
            raise click.ClickException("; ".join(f"{k}: {v}" for k, v in exc.fields.items()) or exc.message) from exc
    click.echo(f"Created {key.public_id} ({key.name}) for {member.user.email} in {org.slug}, scopes {','.join(key.scopes)}"
               + (f", expires {key.expires_at:%Y-%m-%d %H:%M} UTC" if key.expires_at else "") + ".")
    click.echo("Store this key now; it is not shown again:")
    click.echo(secret)


@group.command("revoke")
@click.option("--org", "slug", required=True)
@click.argument("key_id")
def revoke_command(slug: str, key_id: str):
    """Revoke a key by id (key_...); the audit log records it as done from the CLI."""
    with unit_of_work():
        key = service.revoke_key_as_operator(_org(slug), key_id)
        if key is None:
            raise click.ClickException(f"No key {key_id} in {slug}.")
    click.echo(f"Revoked {key_id}.")


@group.command("flush-usage")
def flush_usage_command():
    """Move buffered usage counts into the database now."""
    with unit_of_work():
        written = tasks.flush_usage()
    click.echo(f"Flushed {written} usage buckets.")
