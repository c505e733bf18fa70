"""What billing adds to the app: the payments port, its pages and API, the webhook job and the reconciler,
and the banner's data for every page of an org."""

from flask import Flask, g
from werkzeug.local import LocalProxy

from portal.billing import api, bp, cli, service, tasks, views  # noqa: F401  (views and api attach their routes)
from portal.infra import jobs, payments, periodic

RECONCILE_SECONDS = 300


def _banner() -> dict | None:
    """What the billing banner says on the current org's pages: a failed payment and its grace period."""
    org = g.get("org")
    if org is None:
        return None
    acct = service.find_account(org)
    ends = service.grace_ends_at(acct)
    if ends is None:
        return None
    return {"org": org, "grace_ends": ends, "lapsed": service.effective_plan(acct).key == "free"}


def init_app(app: Flask) -> None:
    """Register the payments adapter, billing's blueprint, its jobs and the periodic reconciler."""
    payments.init_app(app)
    app.register_blueprint(bp)
    jobs.register(app, service.process, tasks.reconcile)
    periodic.every(app, RECONCILE_SECONDS, tasks.reconcile)
    app.cli.add_command(cli.group)

    @app.context_processor
    def billing_banner():
        # Lazy: only a page that includes templates/billing/_banner.html pays for the query.
        return {"billing_banner": LocalProxy(_banner)}
