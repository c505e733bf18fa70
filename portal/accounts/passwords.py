"""Password rules and hashing (scrypt, through Werkzeug)."""

from __future__ import annotations

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

# A fixed hash to compare against when the email is unknown, so timing does not reveal accounts.
_DUMMY_HASH = generate_password_hash("not-a-real-password-0")


def password_problem(password: str, *, email: str = "", name: str = "") -> str | None:
    """Why this password is refused, or None when it is acceptable."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        return f"Use at least {minimum} characters."
    if len(password) > 256:
        return "Use at most 256 characters."
    from zxcvbn import zxcvbn

    # zxcvbn knows the common-password lists and keyboard patterns; score 2+ resists online guessing.
    result = zxcvbn(password, user_inputs=[email, email.split("@")[0], name, "vetrai", "portal"])
    if result["score"] < 2:
        hint = result["feedback"].get("warning") or "It is too easy to guess."
        return f"This password is too common or too easy to guess. {hint}".strip()
    return None


def hash_password(password: str) -> str:
    """A salted scrypt hash."""
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-time check; also burns the same time when there is no account."""
    return check_password_hash(password_hash or _DUMMY_HASH, password) and password_hash is not None
