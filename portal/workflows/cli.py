"""`flask workflows allow-host HOST` / `disallow-host HOST`: the platform's SSRF allowlist for http and llm nodes."""

from __future__ import annotations

import click
from flask.cli import AppGroup

group = AppGroup("workflows", help="Workflow administration.")


@group.command("allow-host")
@click.argument("host")
def allow_host(host: str):
    """Let http and llm nodes reach HOST (name or name:port) although it resolves to an internal address."""
    from portal.workflows.service import allow_host as allow

    allow(host)
    click.echo(f"http and llm nodes may now reach {host}.")


@group.command("disallow-host")
@click.argument("host")
def disallow_host(host: str):
    """Take HOST off the allowlist."""
    from portal.workflows.service import disallow_host as disallow

    disallow(host)
    click.echo(f"{host} is no longer allowlisted.")
