"""The login session (Flask-Login's cookie): the web layer's part of accounts, called by views only.

Services record logins and logouts; starting, renewing and ending the browser session happens here.
"""

from __future__ import annotations

from flask import session
from flask_login import login_user, logout_user

from portal.accounts import service
from portal.accounts.models import User


def start_session(user: User, remember: bool = False) -> None:
    """Log the user in with a fresh session, so a cookie planted before login is worth nothing."""
    session.clear()
    login_user(user, remember=remember)
    service.record_login(user)


def renew_session(user: User) -> None:
    """Re-issue this session's cookie after the user's session token rotated (a password change)."""
    login_user(user)


def end_session(user: User) -> None:
    """Log out and forget the session."""
    service.record_logout(user)
    logout_user()
    session.clear()
