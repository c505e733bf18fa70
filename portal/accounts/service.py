"""Accounts: sign up, verify email, log in, reset and change password, profile."""

from __future__ import annotations

from zoneinfo import available_timezones

from flask import session
from flask_login import login_user, logout_user
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.accounts.passwords import hash_password, password_problem, verify_password
from portal.audit import service as audit
from portal.errors import ServiceError, ValidationFailed
from portal.extensions import db
from portal.infra import jobs
from portal.models import utcnow
from portal.text import normalize_email
from portal.tokens import make_token, read_token

TIMEZONES = frozenset(available_timezones())


def find_user(email: str) -> User | None:
    """The user with this email, or None."""
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def get_user(public_id: str) -> User | None:
    """The user with this public id, or None."""
    return db.session.scalar(select(User).filter_by(public_id=public_id))


def new_user(email: str, password: str, name: str = "", *, verified: bool = False, check_password: bool = True) -> User:
    """Add a user to the session after checking email and password; the caller commits."""
    email = normalize_email(email)
    errors = {}
    if find_user(email) is not None:
        errors["email"] = "An account with this email already exists. Log in or reset your password."
    if check_password and (problem := password_problem(password, email=email, name=name)):
        errors["password"] = problem
    if errors:
        raise ValidationFailed(errors)
    user = User(email=email, name=name.strip(), password_hash=hash_password(password))
    if verified:
        user.email_verified_at = utcnow()
    db.session.add(user)
    return user


def signup(email: str, password: str, name: str, org_name: str, org_slug: str) -> User:
    """Create a user and their organization (they become its org_admin), then send the verification email."""
    from portal.orgs import service as orgs

    errors: dict[str, str] = {}
    try:
        user = new_user(email, password, name)
    except ValidationFailed as exc:
        errors.update(exc.fields)
        user = None
    if problem := orgs.slug_problem(org_slug):
        errors["org_slug"] = problem
    if not org_name.strip():
        errors["org_name"] = "Give your organization a name."
    if errors:
        db.session.rollback()
        raise ValidationFailed(errors)
    db.session.flush()
    org = orgs.create_org(org_name, org_slug, owner=user, commit=False)
    audit.record("signup", org=org, actor=user, target=user.email)
    db.session.commit()
    send_verification(user)
    return user


def send_verification(user: User) -> None:
    """Email a verification link to the user's address (in the background)."""
    jobs.enqueue("portal.accounts.tasks.send_account_email", "verify", user.id)


def verification_token(user: User) -> str:
    return make_token("verify", {"u": user.public_id, "e": user.email})


def verify_email(token: str) -> User:
    """Mark the address in token as verified; a second use says so plainly."""
    data = read_token("verify", token)
    user = get_user(data["u"])
    if user is None or user.email != data["e"]:
        raise ServiceError("This link is not valid any more.", code="token_invalid")
    if user.email_verified_at is not None:
        raise ServiceError("This email address is already verified. You can log in.", code="token_used")
    user.email_verified_at = utcnow()
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User:
    """The user for these credentials, or a ServiceError; every attempt lands in the audit log."""
    user = find_user(email)
    if not verify_password(user.password_hash if user else None, password):
        audit.record("login.failed", actor=user, target=normalize_email(email)[:200], commit=True)
        raise ServiceError("Email or password is wrong.", code="invalid_credentials", status=401)
    if user.is_suspended:
        audit.record("login.failed", actor=user, target=user.email, data={"reason": "suspended"}, commit=True)
        raise ServiceError("This account is suspended. Contact the platform's support.", code="suspended", status=403)
    return user


def start_session(user: User, remember: bool = False) -> None:
    """Log the user in with a fresh session, so a cookie planted before login is worth nothing."""
    session.clear()
    login_user(user, remember=remember)
    user.last_login_at = utcnow()
    audit.record("login", actor=user, target=user.email)
    db.session.commit()


def end_session(user: User) -> None:
    """Log out and forget the session."""
    audit.record("logout", actor=user, target=user.email, commit=True)
    logout_user()
    session.clear()


def request_password_reset(email: str) -> None:
    """Email a reset link if the account exists; the answer is the same either way."""
    user = find_user(email)
    if user is not None and not user.is_suspended:
        jobs.enqueue("portal.accounts.tasks.send_account_email", "reset", user.id)


def reset_token(user: User) -> str:
    # The tail of the current hash makes the link single-use: it dies when the password changes.
    return make_token("reset", {"u": user.public_id, "h": user.password_hash[-16:]})


def user_for_reset(token: str) -> User:
    """The user a reset link is for, or a ServiceError when it is used, expired or forged."""
    data = read_token("reset", token)
    user = get_user(data["u"])
    if user is None or user.password_hash[-16:] != data["h"]:
        raise ServiceError("This reset link was already used. Ask for a new one.", code="token_used")
    return user


def reset_password(token: str, new_password: str) -> User:
    """Set a new password from a reset link; ends every session of that user."""
    user = user_for_reset(token)
    _set_password(user, new_password)
    # Following the link proves the user reads this mailbox.
    user.email_verified_at = user.email_verified_at or utcnow()
    audit.record("password.reset", actor=user, target=user.email)
    db.session.commit()
    return user


def change_password(user: User, current: str, new_password: str) -> None:
    """Change the password after checking the current one; other sessions end, this one stays."""
    if not verify_password(user.password_hash, current):
        raise ValidationFailed({"current_password": "This is not your current password."})
    _set_password(user, new_password)
    audit.record("password.changed", actor=user, target=user.email)
    db.session.commit()
    login_user(user)  # re-issue this session's cookie with the new session token


def _set_password(user: User, new_password: str) -> None:
    if problem := password_problem(new_password, email=user.email, name=user.name):
        raise ValidationFailed({"password": problem})
    user.password_hash = hash_password(new_password)
    user.rotate_session_token()


def update_profile(user: User, name: str, timezone: str) -> User:
    """Change name and time zone."""
    errors = {}
    if timezone not in TIMEZONES:
        errors["timezone"] = "Pick a time zone from the list."
    if len(name.strip()) > 120:
        errors["name"] = "Use at most 120 characters."
    if errors:
        raise ValidationFailed(errors)
    user.name = name.strip()
    user.timezone = timezone
    db.session.commit()
    return user


def load_session_user(session_id: str) -> User | None:
    """Flask-Login's loader: the id carries the session token, so rotated tokens log out old sessions."""
    public_id, _, token = session_id.partition(":")
    user = get_user(public_id)
    if user is None or user.session_token != token or user.is_suspended:
        return None
    return user


def count_users() -> int:
    return db.session.scalar(select(func.count(User.id))) or 0


def support_agents() -> list[User]:
    """Every platform support agent whose account is not suspended, oldest first."""
    return list(db.session.scalars(support_agents_query()))


def support_agents_query():
    """The SELECT behind support_agents(), for callers that narrow it (e.g. to available agents)."""
    return select(User).where(User.platform_role == "support_agent", User.is_suspended.is_(False)).order_by(User.id)
