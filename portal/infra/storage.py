"""File storage: S3 through boto3 (`S3_BUCKET`), or a folder on local disk by default.

Both adapters keep one contract: `put`, `get` (StorageError when missing), `delete` (a missing key is
not an error), `url` (a link that downloads the file as an attachment and expires) and `ping`.
"""

from __future__ import annotations

import os
import re
import secrets
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from flask import Flask, current_app
from itsdangerous import SignatureExpired, URLSafeSerializer

_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,500}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class StorageError(Exception):
    """A key that is malformed or missing."""


def check_key(key: str) -> str:
    """Refuse keys that could escape the storage root or that two adapters would read differently.

    A key is slash-separated segments of letters, digits, `.`, `_` and `-`; no segment is empty, `.`
    or `..` (S3 keeps `a//b` and `a/./b` apart from `a/b`, a disk folder does not).
    """
    if not isinstance(key, str) or not _SAFE_KEY.match(key):
        raise StorageError(f"bad storage key {key!r}")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise StorageError(f"bad storage key {key!r}")
    return key


def content_disposition(filename: str) -> str:
    """An `attachment` Content-Disposition naming `filename`, safe for any characters (RFC 6266).

    The plain `filename=` carries an ASCII fallback; `filename*=` carries the exact UTF-8 name when it
    differs, so quotes, newlines and non-Latin names can neither break the header nor inject another one.
    """
    name = _CONTROL.sub("", filename).strip() or "download"
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = fallback.replace("\\", "_").replace('"', "_").strip() or "download"
    if fallback == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


class Storage(Protocol):
    """What callers may ask of file storage, whichever adapter it is."""

    name: str

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def url(self, key: str, filename: str, expires: int = 300) -> str: ...
    def ping(self) -> bool: ...


class LocalStorage:
    """Files under a local folder; downloads go through a signed, expiring app URL.

    The app route that serves those links is handed in (`serve_downloads`), so storage names no route.
    """

    name = "local"

    def __init__(self, root: str):
        self.root = Path(root)
        self.link_for_token: Callable[[str], str] | None = None

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise StorageError(f"storage key {key!r} runs through an existing file") from exc
        # A temporary name of its own per write: concurrent writers of one key never share a file, and
        # a reader sees the old bytes or the new ones, never half a file.
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except IsADirectoryError as exc:
            raise StorageError(f"storage key {key!r} is a folder of other keys") from exc
        finally:
            tmp.unlink(missing_ok=True)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise StorageError(f"no such file {key!r}") from exc

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except (IsADirectoryError, NotADirectoryError):
            pass  # not a stored file: nothing to delete, as on S3

    def url(self, key: str, filename: str, expires: int = 300) -> str:
        """A link to /files/<token> that serves the file as `filename` for `expires` seconds."""
        if self.link_for_token is None:
            raise StorageError("no route serves local downloads (see storage.serve_downloads)")
        token = _signer().dumps({"k": check_key(key), "f": filename, "x": int(time.time()) + int(expires)})
        return self.link_for_token(token)

    def ping(self) -> bool:
        self.root.mkdir(parents=True, exist_ok=True)
        probe = self.root / ".ready"
        probe.write_text("ok")
        return probe.read_text() == "ok"


class S3Storage:
    """Objects in an S3 bucket (or any S3-compatible server via S3_ENDPOINT_URL)."""

    name = "s3"

    def __init__(self, bucket: str, endpoint_url: str | None = None):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        # Signature V4 everywhere, presigned links included: botocore may still presign with V2, which
        # regions opened since 2014 and most S3-compatible servers refuse.
        common = {"signature_version": "s3v4"}
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30, **common),
        )
        # Readiness must answer quickly: one attempt, short timeouts, no backoff between retries.
        self._probe = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=5, **common),
        )

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.client.put_object(Bucket=self.bucket, Key=check_key(key), Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=check_key(key))["Body"].read()
        except self.client.exceptions.NoSuchKey as exc:
            raise StorageError(f"no such file {key!r}") from exc

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=check_key(key))

    def url(self, key: str, filename: str, expires: int = 300) -> str:
        params = {
            "Bucket": self.bucket,
            "Key": check_key(key),
            "ResponseContentDisposition": content_disposition(filename),
        }
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)

    def ping(self) -> bool:
        self._probe.head_bucket(Bucket=self.bucket)
        return True


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="storage-download")


def read_download_token(token: str) -> tuple[str, str]:
    """The (key, filename) a local download link grants.

    Raises itsdangerous.BadSignature for a forged or mangled token, and its subclass SignatureExpired
    once the link's own expiry (set by `LocalStorage.url(..., expires=)`) has passed.
    """
    data = _signer().loads(token)
    if not isinstance(data, dict) or time.time() >= data.get("x", 0):
        raise SignatureExpired("download link expired")
    return data["k"], data["f"]


def init_app(app: Flask) -> None:
    """Pick the storage adapter from config."""
    bucket = app.config.get("S3_BUCKET")
    app.extensions["storage"] = (
        S3Storage(bucket, app.config.get("S3_ENDPOINT_URL")) if bucket else LocalStorage(app.config["STORAGE_DIR"])
    )


def serve_downloads(app: Flask, link_for_token: Callable[[str], str]) -> None:
    """Name the app URL local download links point at (S3 links go to S3 itself)."""
    adapter = app.extensions["storage"]
    if isinstance(adapter, LocalStorage):
        adapter.link_for_token = link_for_token


def storage() -> Storage:
    """The current app's storage adapter."""
    return current_app.extensions["storage"]
