"""Attachment checks: size limits, type sniffed from the bytes (not the name), sanitized names."""

from __future__ import annotations

import re
import unicodedata

import filetype

from portal.errors import ServiceError

# Sniffed MIME type -> the extensions a name may carry for it. SVG and HTML are refused on purpose:
# both run script when opened.
ALLOWED: dict[str, tuple[str, ...]] = {
    "image/png": ("png",),
    "image/jpeg": ("jpg", "jpeg"),
    "image/gif": ("gif",),
    "image/webp": ("webp",),
    "application/pdf": ("pdf",),
    "application/zip": ("zip",),
    "application/gzip": ("gz", "tgz"),
    "text/plain": ("txt", "log", "csv", "json", "md", "yaml", "yml"),
}
PREVIEWABLE = {"image/png", "image/jpeg", "image/gif", "image/webp"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


class UploadRefused(ServiceError):
    """A refused upload: 422 for bad content, 413 for too large."""

    def __init__(self, message: str, *, code: str = "bad_upload", status: int = 422):
        super().__init__(message, code=code, fields={"file": message}, status=status)


def sanitize_filename(name: str) -> str:
    """A plain, safe base name: no folders, no control or shell characters, no leading dots."""
    name = unicodedata.normalize("NFKC", name or "").replace("\\", "/").split("/")[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    name = re.sub(r"_+", "_", name).strip(" ._")
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 110] + dot + ext[:9]) if dot else name[:120]
    return name or "file"


def sniff(data: bytes) -> str | None:
    """The MIME type the bytes say they are, or None. Text is UTF-8 without NUL bytes."""
    kind = filetype.guess(data)
    if kind is not None:
        return kind.mime
    if b"\x00" in data[:8192]:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<svg", b"<?xml", b"<script")):
        return None  # markup is refused even when it is plain text
    return "text/plain"


def check_upload(filename: str, data: bytes, *, max_file: int, max_ticket: int, ticket_total: int) -> tuple[str, str]:
    """Refuse a bad upload with a sentence saying why; else (safe name, sniffed type)."""
    raw = filename or ""
    if not raw.strip():
        raise UploadRefused("Choose a file to upload.", code="file_missing")
    if "/" in raw or "\\" in raw or raw.startswith(".") or "\x00" in raw:
        raise UploadRefused("The file name must be a plain name, without folders.", code="bad_filename")
    if not data:
        raise UploadRefused("The file is empty.", code="empty_file")
    if len(data) > max_file:
        raise UploadRefused(f"The file is larger than {max_file // (1024 * 1024)} MB.", code="file_too_large", status=413)
    if ticket_total + len(data) > max_ticket:
        raise UploadRefused(f"A ticket's attachments may add up to {max_ticket // (1024 * 1024)} MB.", code="ticket_too_large", status=413)
    name = sanitize_filename(raw)
    mime = sniff(data)
    if mime not in ALLOWED:
        raise UploadRefused("This kind of file is not accepted: send images, PDF, text, ZIP or gzip files.", code="type_not_allowed")
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    if ext not in ALLOWED[mime]:
        raise UploadRefused(f"The file's contents ({mime}) do not match its name; name it .{ALLOWED[mime][0]}.", code="type_mismatch")
    return name, mime
