"""The storage port, one contract for both adapters: S3 (against moto's S3 server on loopback) and local
disk (with its signed /files/<token> download route, through the Flask test client)."""

from __future__ import annotations

import re
import threading
import urllib.error
import urllib.request
from urllib.parse import unquote

import boto3
import pytest

from portal.infra.storage import LocalStorage, S3Storage, StorageError, storage

BAD_KEYS = [
    "../escape.txt",
    "reports/../../escape.txt",
    "/etc/passwd",
    "",
    ".hidden",
    "a//b.txt",
    "a/./b.txt",
    "a/b/",
    "a\\b.txt",
    "space in name.txt",
    "x" * 600,
]


def disposition(header: str) -> tuple[str, str | None]:
    """(type, filename) of a Content-Disposition header, read the way browsers do (RFC 6266): the
    UTF-8 `filename*` when present, else the plain `filename`."""
    kind = header.split(";", 1)[0].strip().lower()
    extended = re.search(r"filename\*=UTF-8''([^;\s]+)", header, re.IGNORECASE)
    if extended:
        return kind, unquote(extended.group(1))
    plain = re.search(r'filename="((?:[^"\\]|\\.)*)"', header) or re.search(r"filename=([^;\s]+)", header)
    return kind, plain.group(1) if plain else None


class Adapter:
    """One storage adapter in an app, with a way to fetch its download links like a browser would."""

    def __init__(self, kind: str, app, tmp_path):
        self.kind = kind
        self.app = app
        self.tmp_path = tmp_path

    @property
    def store(self) -> LocalStorage | S3Storage:
        return self.app.extensions["storage"]

    def download(self, url: str) -> tuple[int, dict[str, str], bytes]:
        if self.kind == "local":
            response = self.app.test_client().get(url)
            return response.status_code, dict(response.headers), response.data
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()


@pytest.fixture(params=["local", "s3"])
def adapter(request, make_app, tmp_path):
    if request.param == "local":
        app = make_app(STORAGE_DIR=str(tmp_path / "files"))
    else:
        endpoint = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_bucket")
        app = make_app(S3_BUCKET=bucket, S3_ENDPOINT_URL=endpoint)
    with app.test_request_context():
        yield Adapter(request.param, app, tmp_path)


# ---------------------------------------------------------------- the contract, on both adapters


def test_app_picks_the_adapter_from_config(adapter):
    assert storage().name == adapter.kind


def test_put_then_get_returns_the_same_bytes(adapter):
    data = bytes(range(256)) * 10
    adapter.store.put("org_1/invoices/2024-01.pdf", data, "application/pdf")
    assert adapter.store.get("org_1/invoices/2024-01.pdf") == data


def test_put_again_replaces_the_content(adapter):
    adapter.store.put("notes.txt", b"first")
    adapter.store.put("notes.txt", b"second")
    assert adapter.store.get("notes.txt") == b"second"


def test_missing_key_is_a_storage_error(adapter):
    with pytest.raises(StorageError):
        adapter.store.get("never/written.txt")


def test_deleted_file_is_gone_and_deleting_twice_is_fine(adapter):
    adapter.store.put("tmp/export.csv", b"a,b\n1,2\n")
    adapter.store.delete("tmp/export.csv")
    with pytest.raises(StorageError):
        adapter.store.get("tmp/export.csv")
    adapter.store.delete("tmp/export.csv")  # nothing there: no error, as on S3


def test_keys_are_separate(adapter):
    adapter.store.put("org_1/logo.png", b"one")
    adapter.store.put("org_2/logo.png", b"two")
    assert adapter.store.get("org_1/logo.png") == b"one"
    assert adapter.store.get("org_2/logo.png") == b"two"


def test_bad_keys_are_refused_by_every_operation(adapter):
    operations = {
        "put": lambda key: adapter.store.put(key, b"x"),
        "get": lambda key: adapter.store.get(key),
        "delete": lambda key: adapter.store.delete(key),
        "url": lambda key: adapter.store.url(key, "x.txt"),
    }
    for key in BAD_KEYS:
        for name, operation in operations.items():
            with pytest.raises(StorageError):
                operation(key)
                pytest.fail(f"{name}({key!r}) was not refused")
    if adapter.kind == "local":  # nothing escaped the storage folder
        assert not (adapter.tmp_path / "escape.txt").exists()
        assert not any(adapter.tmp_path.parent.glob("escape.txt"))


def test_download_link_serves_the_bytes_as_an_attachment(adapter):
    adapter.store.put("org_1/reports/q1.csv", b"month,total\njan,10\n", "text/csv")
    status, headers, body = adapter.download(adapter.store.url("org_1/reports/q1.csv", "Q1 report.csv"))
    assert status == 200
    assert body == b"month,total\njan,10\n"
    assert disposition(headers["Content-Disposition"]) == ("attachment", "Q1 report.csv")


def test_download_link_for_a_deleted_file_does_not_serve_it(adapter):
    adapter.store.put("gone.txt", b"secret")
    url = adapter.store.url("gone.txt", "gone.txt")
    adapter.store.delete("gone.txt")
    status, _headers, body = adapter.download(url)
    assert status in (403, 404)  # S3 answers 403 to a signer without ListBucket rights
    assert b"secret" not in body


def test_ping_answers_when_storage_is_reachable(adapter):
    assert adapter.store.ping() is True


# ---------------------------------------------------------------- S3 only


def test_s3_download_link_keeps_an_awkward_filename_intact(s3_server, s3_bucket):
    store = S3Storage(s3_bucket, s3_server)
    store.put("f.pdf", b"%PDF-1.7")
    name = 'Résumé "final" 报告.pdf'
    with urllib.request.urlopen(store.url("f.pdf", name), timeout=10) as response:
        assert response.read() == b"%PDF-1.7"
        assert disposition(response.headers["Content-Disposition"]) == ("attachment", name)


def test_s3_download_link_uses_signature_v4_and_the_asked_expiry(s3_server, s3_bucket):
    """Regions opened since 2014 (and most S3-compatible servers) refuse Signature V2 links."""
    store = S3Storage(s3_bucket, s3_server)
    store.put("private.txt", b"secret")
    url = store.url("private.txt", "private.txt", expires=120)
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url
    assert "X-Amz-Expires=120" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"secret"


def test_s3_objects_land_in_the_bucket_with_their_content_type(s3_server, s3_bucket):
    S3Storage(s3_bucket, s3_server).put("org_1/logo.png", b"\x89PNG", "image/png")
    head = boto3.client("s3", endpoint_url=s3_server).head_object(Bucket=s3_bucket, Key="org_1/logo.png")
    assert head["ContentType"] == "image/png"
    assert head["ContentLength"] == 4


def test_s3_ping_fails_for_a_bucket_that_does_not_exist(s3_server):
    with pytest.raises(Exception) as failed:
        S3Storage("no-such-bucket-here", s3_server).ping()
    assert "404" in str(failed.value) or "NoSuchBucket" in str(failed.value) or "Not Found" in str(failed.value)


# ---------------------------------------------------------------- local disk only


@pytest.fixture
def local(make_app, tmp_path):
    app = make_app(STORAGE_DIR=str(tmp_path / "files"))
    with app.test_request_context():
        yield app, app.extensions["storage"], app.test_client()


def test_local_files_live_under_the_storage_folder(local, tmp_path):
    _app, store, _client = local
    store.put("org_1/a.txt", b"hello")
    assert (tmp_path / "files" / "org_1" / "a.txt").read_bytes() == b"hello"


def test_local_write_leaves_no_temporary_files(local, tmp_path):
    _app, store, _client = local
    for i in range(5):
        store.put("org_1/a.txt", b"v%d" % i)
    assert sorted(p.name for p in (tmp_path / "files" / "org_1").iterdir()) == ["a.txt"]


def test_local_concurrent_writers_and_readers_only_ever_see_whole_files(local):
    """Writers replacing one key while readers read it: no writer fails, no reader sees half a file."""
    _app, store, _client = local
    versions = [bytes([65 + i]) * 200_000 for i in range(6)]
    store.put("big.bin", versions[0])
    errors: list[BaseException] = []
    seen: set[bytes] = set()
    stop = threading.Event()

    def write(version: bytes):
        try:
            for _ in range(10):
                store.put("big.bin", version)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    def read():
        while not stop.is_set():
            seen.add(store.get("big.bin"))

    readers = [threading.Thread(target=read) for _ in range(2)]
    writers = [threading.Thread(target=write, args=(v,)) for v in versions]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert errors == []
    assert seen <= set(versions)
    assert store.get("big.bin") in versions


def test_local_key_that_names_a_folder_is_missing_not_an_error(local):
    _app, store, client = local
    store.put("org_1/reports/q1.csv", b"x")
    with pytest.raises(StorageError):
        store.get("org_1/reports")
    assert client.get(store.url("org_1/reports", "reports")).status_code == 404
    store.delete("org_1/reports")  # a folder is not a file: nothing deleted
    assert store.get("org_1/reports/q1.csv") == b"x"


def test_local_key_through_an_existing_file_is_refused(local):
    _app, store, _client = local
    store.put("org_1/report", b"file")
    with pytest.raises(StorageError):
        store.put("org_1/report/part.csv", b"x")
    with pytest.raises(StorageError):
        store.get("org_1/report/part.csv")


def test_local_download_sets_type_and_nosniff(local):
    _app, store, client = local
    store.put("org_1/pic", b"<script>alert(1)</script>")
    response = client.get(store.url("org_1/pic", "photo.png"))
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert disposition(response.headers["Content-Disposition"]) == ("attachment", "photo.png")


def test_local_expired_link_is_404(local):
    _app, store, client = local
    store.put("org_1/a.txt", b"hello")
    expired = store.url("org_1/a.txt", "a.txt", expires=0)
    response = client.get(expired)
    assert response.status_code == 404
    assert b"hello" not in response.data


def test_local_forged_or_tampered_link_is_404(local):
    _app, store, client = local
    store.put("org_1/a.txt", b"hello")
    store.put("org_2/secret.txt", b"other org")
    url = store.url("org_1/a.txt", "a.txt")
    token = url.rsplit("/", 1)[1]
    body, _, signature = token.rpartition(".")
    tampered = f"{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{signature}"
    for bad in (f"/files/{tampered}", "/files/not-a-token", "/files/" + token[::-1]):
        response = client.get(bad)
        assert response.status_code == 404
        assert b"hello" not in response.data


def test_local_link_signed_by_another_install_is_404(make_app, tmp_path):
    shared = str(tmp_path / "shared-files")
    ours, theirs = make_app(STORAGE_DIR=shared), make_app(STORAGE_DIR=shared)
    with theirs.test_request_context():
        theirs.extensions["storage"].put("org_1/a.txt", b"hello")
        url = theirs.extensions["storage"].url("org_1/a.txt", "a.txt")
    assert theirs.test_client().get(url).status_code == 200
    assert ours.test_client().get(url).status_code == 404


def test_local_download_keeps_an_awkward_filename_intact(local):
    _app, store, client = local
    store.put("f.pdf", b"%PDF-1.7")
    name = 'Résumé "final" 报告.pdf'
    response = client.get(store.url("f.pdf", name))
    assert response.status_code == 200
    assert disposition(response.headers["Content-Disposition"]) == ("attachment", name)
