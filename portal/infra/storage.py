"""File storage: S3 through boto3 (`S3_BUCKET`), or a folder on local disk by default."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask, current_app, url_for
from itsdangerous import URLSafeTimedSerializer

_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,500}$")


class StorageError(Exception):
    """A key that is malformed or missing."""


def check_key(key: str) -> str:
    """Refuse keys that could escape the storage root."""
    if not _SAFE_KEY.match(key) or ".." in key.split("/"):
        raise StorageError(f"bad storage key {key!r}")
    return key


class LocalStorage:
    """Files under a local folder; downloads go through a signed, expiring app URL."""

    name = "local"

    def __init__(self, root: str):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)  # a reader never sees half a file

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise StorageError(f"no such file {key!r}") from exc

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def url(self, key: str, filename: str, expires: int = 300) -> str:
        token = _signer().dumps({"k": check_key(key), "f": filename})
        return url_for("core.download", token=token, _external=False)

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

        self.bucket = bucket
        self.client = boto3.client("s3", endpoint_url=endpoint_url)

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
            "ResponseContentDisposition": f'attachment; filename="{filename}"',
        }
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)

    def ping(self) -> bool:
        self.client.head_bucket(Bucket=self.bucket)
        return True


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="storage-download")


def read_download_token(token: str, max_age: int = 300) -> tuple[str, str]:
    """The (key, filename) a local download link grants; raises itsdangerous errors when bad or old."""
    data = _signer().loads(token, max_age=max_age)
    return data["k"], data["f"]


def init_app(app: Flask) -> None:
    """Pick the storage adapter from config."""
    bucket = app.config.get("S3_BUCKET")
    app.extensions["storage"] = (
        S3Storage(bucket, app.config.get("S3_ENDPOINT_URL")) if bucket else LocalStorage(app.config["STORAGE_DIR"])
    )


def storage() -> LocalStorage | S3Storage:
    """The current app's storage adapter."""
    return current_app.extensions["storage"]
