"""`flask billing assign-plan`: a super admin puts an org on a plan from a shell (provisioning, comps).

One unit of work: the plan changes and lands in the account, or nothing changes.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.accounts import service as accounts
from portal.billing import service
from portal.errors import ServiceError
from portal.orgs import service as orgs
from portal.uow import unit_of_work

group = AppGroup("billing", help="Billing from a shell: plan assignment by a super admin.")


@group.command("assign-plan")
@click.option("--org", "slug", required=True, help="The organization's slug")
@click.option("--plan", "plan_key", required=True, help="free, pro or enterprise")
@click.option("--by", "email", required=True, help="The super admin who assigns it (recorded on the account)")
def assign_plan_command(slug: str, plan_key: str, email: str) -> None:
    """Put the org on a plan, as the console's 'Assign plan' does."""
    with unit_of_work():
        org = orgs.org_by_slug(slug)
        if org is None:
            raise click.ClickException(f"No organization with the slug {slug!r}.")
        by = accounts.find_user(email)
        if by is None or by.platform_role != "super_admin":
            raise click.ClickException(f"{email} is not a super admin.")
        try:
            service.assign_plan(org, plan_key, by)
        except ServiceError as exc:
            raise click.ClickException(exc.message) from exc
    click.echo(f"{org.name} is now on the {plan_key} plan.")
