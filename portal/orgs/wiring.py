"""What the orgs domain adds to the app: its pages, and the seats it tells billing an org holds."""

from flask import Flask

from portal.billing import service as billing
from portal.orgs import bp, service, views  # noqa: F401  (views attach the routes to bp)


def init_app(app: Flask) -> None:
    """Register the orgs blueprint and the seats gauge (members and open invitations) on the billing page."""
    app.register_blueprint(bp)
    billing.measure("seats", service.seats_held)
