"""`flask workflows allow-host HOST` / `disallow-host HOST`: the platform's SSRF allowlist for http and llm nodes."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.uow import unit_of_work
from portal.workflows import service

group = AppGroup("workflows", help="Workflow administration.")


@group.command("allow-host")
@click.argument("host")
def allow_host(host: str):
    """Let http and llm nodes reach HOST (name or name:port) although it resolves to an internal address."""
    with unit_of_work():
        service.allow_host(host)
    click.echo(f"http and llm nodes may now reach {host}.")


@group.command("disallow-host")
@click.argument("host")
def disallow_host(host: str):
    """Take HOST off the allowlist."""
    with unit_of_work():
        service.disallow_host(host)
    click.echo(f"{host} is no longer allowlisted.")
