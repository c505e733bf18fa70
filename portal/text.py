"""Text rules shared by every domain (a leaf module: it imports nothing from the portal)."""

from __future__ import annotations


def sentence(text: str) -> str:
    """text ending in one full stop: "Welcome to Demo Inc." not "Welcome to Demo Inc.."."""
    return text if text.endswith((".", "!", "?")) else text + "."


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding spaces."""
    return (email or "").strip().lower()
