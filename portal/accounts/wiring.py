"""What accounts add to the app: sign-up, login and profile pages, and the account-email job."""

from flask import Flask

from portal.accounts import bp, emails, views  # noqa: F401  (views attach the routes to bp)
from portal.infra import jobs


def init_app(app: Flask) -> None:
    """Register the accounts blueprint and its job."""
    app.register_blueprint(bp)
    jobs.register(app, emails.send_account_email)
