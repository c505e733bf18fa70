"""Accounts: sign up, verify email, log in, reset and change password, profile."""

from __future__ import annotations

from zoneinfo import available_timezones

from sqlalchemy import bindparam, select

from portal.accounts.emails import send_account_email
from portal.accounts.models import User
from portal.accounts.passwords import hash_password, password_problem, verify_password
from portal.audit import service as audit
from portal.errors import Conflict, ServiceError, ValidationFailed
from portal.extensions import db
from portal.infra import jobs
from portal.models import utcnow
from portal.orgs import service as orgs
from portal.orgs.models import Membership
from portal.roles import PLATFORM_ROLES
from portal.text import normalize_email
from portal.tokens import read_token
from portal.uow import after_commit

TIMEZONES = frozenset(available_timezones())
# A member's colour scheme: "system" follows the device's prefers-color-scheme; the others pin one.
COLOR_SCHEMES = {"system": "System (follow this device)", "light": "Light", "dark": "Dark"}


def find_user(email: str) -> User | None:
    """The user with this email, or None."""
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


# Every request loads its user by public id: built once (see tenancy.scoped_by_org_id for why).
_USER_BY_PUBLIC_ID = select(User).where(User.public_id == bindparam("public_id"))


def get_user(public_id: str) -> User | None:
    """The user with this public id, or None."""
    return db.session.scalar(_USER_BY_PUBLIC_ID, {"public_id": public_id})


def new_user_problems(email: str, password: str, name: str = "", *, check_password: bool = True) -> dict[str, str]:
    """Why a new account with these details would be refused, by field (empty when it would not be)."""
    email = normalize_email(email)
    errors = {}
    if find_user(email) is not None:
        errors["email"] = "An account with this email already exists. Log in or reset your password."
    if check_password and (problem := password_problem(password, email=email, name=name)):
        errors["password"] = problem
    return errors


def new_user(email: str, password: str, name: str = "", *, verified: bool = False, check_password: bool = True) -> User:
    """Add a user (flushed, so it has an id) after checking email and password."""
    if errors := new_user_problems(email, password, name, check_password=check_password):
        raise ValidationFailed(errors)
    return _add_user(email, password, name, verified=verified)


def _add_user(email: str, password: str, name: str, *, verified: bool) -> User:
    user = User(email=normalize_email(email), name=name.strip(), password_hash=hash_password(password))
    if verified:
        user.email_verified_at = utcnow()
    db.session.add(user)
    db.session.flush()
    return user


def signup(email: str, password: str, name: str, org_name: str, org_slug: str) -> User:
    """Create a user and their organization (they become its org_admin), then send the verification email.

    Every field is checked before anything is written: a refused organization leaves no user behind.
    """
    errors = new_user_problems(email, password, name)
    errors.update({f"org_{field}": message for field, message in orgs.org_problems(org_name, org_slug).items()})
    if errors:
        raise ValidationFailed(errors)
    user = _add_user(email, password, name, verified=False)
    org = orgs.create_org(org_name, org_slug, owner=user)
    audit.record("signup", org=org, actor=user, target=user.email)
    send_verification(user)
    return user


def signup_from_invitation(token: str, name: str, password: str) -> Membership:
    """Create the invited person's account and join the inviting organization, as one change.

    The invitation and the account are both checked before anything is written: a withdrawn, expired or
    used invitation, an address that has an account already, or a weak password leaves no user behind.
    """
    invitation = orgs.invitation_from_token(token)
    errors = new_user_problems(invitation.email, password, name)
    if "email" in errors:
        raise Conflict(f"{invitation.email} has an account already. Log in to accept the invitation.", code="account_exists")
    if errors:
        raise ValidationFailed(errors)
    user = _add_user(invitation.email, password, name, verified=True)  # the emailed link proves the mailbox
    return orgs.join_by_invitation(invitation, user)


def _send_after_commit(kind: str, user: User) -> None:
    # The job reloads the user by id: it has to be committed first, and a refused change sends nothing.
    user_id = user.id
    after_commit(lambda: jobs.enqueue(send_account_email, kind, user_id))


def send_verification(user: User) -> None:
    """Email a verification link to the user's address (in the background, once the change is committed)."""
    _send_after_commit("verify", user)


def verify_email(token: str) -> User:
    """Mark the address in token as verified; a second use says so plainly."""
    data = read_token("verify", token)
    user = get_user(data["u"])
    if user is None or user.email != data["e"]:
        raise ServiceError("This link is not valid any more.", code="token_invalid")
    if user.email_verified_at is not None:
        raise ServiceError("This email address is already verified. You can log in.", code="token_used")
    user.email_verified_at = utcnow()
    return user


def authenticate(email: str, password: str) -> User:
    """The user for these credentials, or a ServiceError; every attempt lands in the audit log.

    The refusals keep their audit row (`persist=True`): a failed login is refused and still recorded.
    """
    user = find_user(email)
    if not verify_password(user.password_hash if user else None, password):
        audit.record("login.failed", actor=user, target=normalize_email(email)[:200])
        raise ServiceError("Email or password is wrong.", code="invalid_credentials", status=401, persist=True)
    if user.is_suspended:
        audit.record("login.failed", actor=user, target=user.email, data={"reason": "suspended"})
        raise ServiceError("This account is suspended. Contact the platform's support.", code="suspended", status=403, persist=True)
    return user


def record_login(user: User) -> None:
    """Note a login: the time on the account and an audit event (the web layer starts the session)."""
    user.last_login_at = utcnow()
    audit.record("login", actor=user, target=user.email)


def record_logout(user: User) -> None:
    """Note a logout in the audit log (the web layer ends the session)."""
    audit.record("logout", actor=user, target=user.email)


def request_password_reset(email: str) -> None:
    """Email a reset link if the account exists; the answer is the same either way."""
    user = find_user(email)
    if user is not None and not user.is_suspended:
        _send_after_commit("reset", user)


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
    return user


def change_password(user: User, current: str, new_password: str) -> None:
    """Change the password after checking the current one; every session ends (the web layer renews this one)."""
    if not verify_password(user.password_hash, current):
        raise ValidationFailed({"current_password": "This is not your current password."})
    _set_password(user, new_password)
    audit.record("password.changed", actor=user, target=user.email)


def _set_password(user: User, new_password: str) -> None:
    if problem := password_problem(new_password, email=user.email, name=user.name):
        raise ValidationFailed({"password": problem})
    user.password_hash = hash_password(new_password)
    user.rotate_session_token()


def update_profile(user: User, name: str, timezone: str, color_scheme: str | None = None) -> User:
    """Change name, time zone and colour scheme (None keeps the current scheme)."""
    errors = {}
    if timezone not in TIMEZONES:
        errors["timezone"] = "Pick a time zone from the list."
    if len(name.strip()) > 120:
        errors["name"] = "Use at most 120 characters."
    if color_scheme is not None and color_scheme not in COLOR_SCHEMES:
        errors["color_scheme"] = "Pick System, Light or Dark."
    if errors:
        raise ValidationFailed(errors)
    user.name = name.strip()
    user.timezone = timezone
    if color_scheme is not None:
        user.color_scheme = color_scheme
    return user


def grant_platform_role(user: User, role: str) -> User:
    """Make user platform staff with role (super_admin or support_agent)."""
    if role not in PLATFORM_ROLES:
        raise ValidationFailed({"platform_role": f"Choose one of: {', '.join(PLATFORM_ROLES)}."})
    user.platform_role = role
    return user


def load_session_user(session_id: str) -> User | None:
    """Flask-Login's loader: the id carries the session token, so rotated tokens log out old sessions."""
    public_id, _, token = session_id.partition(":")
    user = get_user(public_id)
    if user is None or user.session_token != token or user.is_suspended:
        return None
    return user


def support_agents() -> list[User]:
    """Every platform support agent whose account is not suspended, oldest first."""
    return list(db.session.scalars(support_agents_query()))


def support_agents_query():
    """The SELECT behind support_agents(), for callers that narrow it (e.g. to available agents)."""
    return select(User).where(User.platform_role == "support_agent", User.is_suspended.is_(False)).order_by(User.id)
