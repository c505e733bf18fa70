"""Text rules shared by every domain (a leaf module: it imports nothing from the portal)."""

from __future__ import annotations


def sentence(text: str) -> str:
    """text ending in one full stop: "Welcome to Demo Inc." not "Welcome to Demo Inc.."."""
    return text if text.endswith((".", "!", "?")) else text + "."


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding spaces."""
    return (email or "").strip().lower()


def file_size(size: int | None) -> str:
    """A size in bytes as a person reads it: '1 byte', '16 bytes', '2.4 KB', '1.2 MB', '3 GB' (1 KB = 1024 bytes)."""
    if size is None:
        return ""
    if size < 1024:
        return f"{size} byte{'' if size == 1 else 's'}"
    value, unit = size / 1024, "KB"
    for bigger in ("MB", "GB", "TB"):
        if round(value, 1) < 1024:  # 1023.97 KB reads "1 MB", not "1024 KB"
            break
        value, unit = value / 1024, bigger
    shown = f"{value:.1f}".removesuffix(".0")  # "2 KB", not "2.0 KB"
    return f"{shown} {unit}"
