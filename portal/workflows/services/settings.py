"""Settings of workflow nodes: each organization's LLM endpoint (API key encrypted), and the platform's SSRF allowlist."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from sqlalchemy import select

from portal.errors import ValidationFailed
from portal.extensions import db
from portal.orgs.models import Organization
from portal.tenancy import scoped
from portal.workflows.models import AllowedHost, LLMSettings


def _fernet() -> Fernet:
    secret = current_app.config.get("WORKFLOW_SECRET_KEY") or current_app.config["SECRET_KEY"]
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def save_llm_settings(org: Organization, base_url: str, model: str, api_key: str | None) -> LLMSettings:
    """Set the org's OpenAI-compatible endpoint; an empty api_key keeps the stored one."""
    base_url, model = base_url.strip(), model.strip()
    problems = {}
    if not base_url.startswith(("http://", "https://")):
        problems["base_url"] = "Give an http:// or https:// URL."
    if not model:
        problems["model"] = "Name the model."
    if problems:
        raise ValidationFailed(problems)
    settings = llm_settings(org) or LLMSettings(org_id=org.id)
    settings.base_url, settings.model = base_url, model
    if api_key:
        settings.api_key_encrypted = _fernet().encrypt(api_key.encode()).decode()
    db.session.add(settings)
    db.session.flush()
    return settings


def llm_settings(org: Organization) -> LLMSettings | None:
    """The org's LLM endpoint, if it has one."""
    return db.session.scalar(scoped(LLMSettings, org))


def llm_api_key(settings: LLMSettings | None) -> str | None:
    """The decrypted API key of the settings (None without one, or when the secret key changed since)."""
    if settings is None or not settings.api_key_encrypted:
        return None
    try:
        return _fernet().decrypt(settings.api_key_encrypted.encode()).decode()
    except InvalidToken:
        return None


def allowed_hosts() -> set[str]:
    """The hosts (name or name:port) http and llm nodes may reach although they resolve to internal addresses."""
    return set(db.session.scalars(select(AllowedHost.host)))


def list_allowed_hosts() -> list[AllowedHost]:
    """The allowlist's rows, by host name (the platform console)."""
    return list(db.session.scalars(select(AllowedHost).order_by(AllowedHost.host)))


def allow_host(host: str, by=None) -> AllowedHost:
    """Let http and llm nodes reach host (name or name:port) although it is internal: super admins only."""
    host = host.strip().lower()
    if not host or "/" in host:
        raise ValidationFailed({"host": "Give a host name or host:port."})
    row = db.session.scalar(select(AllowedHost).filter_by(host=host)) or AllowedHost(host=host, added_by_id=getattr(by, "id", None))
    db.session.add(row)
    db.session.flush()
    return row


def disallow_host(host: str) -> None:
    """Take host off the allowlist (nothing happens when it is not on it)."""
    db.session.execute(AllowedHost.__table__.delete().where(AllowedHost.host == host.strip().lower()))
