"""Attachments: limits, type from the bytes, sanitized names, checked downloads; on local disk and on a real S3 server (moto)."""

from __future__ import annotations

import io
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest

from portal.support import service
from portal.support.attachments import UploadRefused, check_upload, sanitize_filename

from .conftest import PDF, PNG

MB = 1024 * 1024


def _check(name, data, **kw):
    return check_upload(name, data, max_file=kw.get("max_file", 10 * MB), max_ticket=kw.get("max_ticket", 25 * MB), ticket_total=kw.get("total", 0))


@pytest.mark.parametrize(("name", "data", "code", "status"), [
    ("big.txt", b"a" * (10 * MB + 1), "file_too_large", 413),
    ("empty.txt", b"", "empty_file", 422),
    ("../../etc/passwd.txt", b"root:x:0:0", "bad_filename", 422),
    ("..\\..\\boot.ini", b"[boot]", "bad_filename", 422),
    (".htaccess", b"deny from all", "bad_filename", 422),
    ("photo.png", PDF, "type_mismatch", 422),
    ("report.pdf", PNG, "type_mismatch", 422),
    ("notes.txt", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64, "type_not_allowed", 422),
    ("page.txt", b"<!DOCTYPE html><script>alert(1)</script>", "type_not_allowed", 422),
    ("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "type_not_allowed", 422),
    ("", b"data", "file_missing", 422),
])
def test_bad_uploads_are_refused_with_a_clear_error(name, data, code, status):
    with pytest.raises(UploadRefused) as exc:
        _check(name, data)
    assert (exc.value.code, exc.value.status) == (code, status)
    assert exc.value.fields["file"]


def test_a_ticket_may_hold_25_mb_in_all():
    with pytest.raises(UploadRefused) as exc:
        _check("more.txt", b"a" * MB, total=25 * MB - 10)
    assert (exc.value.code, exc.value.status) == ("ticket_too_large", 413)


def test_good_files_pass_with_their_sniffed_type():
    assert _check("screen shot.PNG", PNG) == ("screen shot.PNG", "image/png")
    assert _check("spec.pdf", PDF) == ("spec.pdf", "application/pdf")
    assert _check("app.log", "naïve ünïcode log\n".encode()) == ("app.log", "text/plain")


def test_names_are_sanitized():
    assert sanitize_filename('a<b>"c|d?.txt') == "a_b_c_d_.txt"
    assert sanitize_filename("C:\\Users\\x\\..\\evil.txt") == "evil.txt"
    assert sanitize_filename("\u202etxt.exe") == "txt.exe"
    assert len(sanitize_filename("x" * 300 + ".txt")) <= 120


def test_upload_and_download_on_local_disk_through_the_pages(app, desk, client, login_as):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Files", body="b")
    login_as(desk.customer)
    url = f"/o/acme/tickets/{ticket.public_id}/attachments"
    assert client.post(url, data={"file": (io.BytesIO(PNG), "shot.png")}, content_type="multipart/form-data").status_code == 303
    bad = client.post(url, data={"file": (io.BytesIO(PDF), "shot.png")}, content_type="multipart/form-data")
    assert bad.status_code == 422 and "do not match" in bad.text
    att = service.attachments(ticket, for_agent=False)[0]
    # the page hands out the storage port's short-lived link (a signed /files/ link on disk), which downloads the file
    link = client.get(f"{url}/{att.public_id}")
    assert link.status_code == 303 and link.headers["Location"].startswith("/files/")
    download = client.get(link.headers["Location"])
    assert download.status_code == 200 and download.data == PNG
    assert download.headers["Content-Disposition"] == 'attachment; filename="shot.png"'
    assert download.headers["X-Content-Type-Options"] == "nosniff"  # never sniffed into a page: the type is the name's
    preview = client.get(f"{url}/{att.public_id}/preview")
    assert preview.mimetype == "image/png" and "sandbox" in preview.headers["Content-Security-Policy"]
    assert preview.headers["X-Content-Type-Options"] == "nosniff"
    login_as(desk.outsider)
    assert client.get(f"/o/acme/tickets/{ticket.public_id}/attachments/{att.public_id}").status_code == 404
    assert client.get(f"/o/bravo/tickets/{ticket.public_id}/attachments/{att.public_id}").status_code == 404
    login_as(desk.agent)
    assert client.get(f"/support/tickets/{ticket.public_id}/attachments/{att.public_id}", follow_redirects=True).data == PNG


def test_the_api_answers_413_over_the_file_limit_and_422_for_a_mismatch(app, desk, client, login_as):
    ticket = service.create_ticket(desk.org, desk.customer, subject="Files", body="b")
    login_as(desk.customer)
    url = f"/api/v1/tickets/{ticket.public_id}/attachments?org=acme"
    saved = app.config["SUPPORT_MAX_FILE_BYTES"]
    app.config["SUPPORT_MAX_FILE_BYTES"] = 1000
    try:
        big = client.post(url, data={"file": (io.BytesIO(b"a" * 1001), "big.txt")}, content_type="multipart/form-data")
    finally:
        app.config["SUPPORT_MAX_FILE_BYTES"] = saved
    assert big.status_code == 413 and big.get_json()["error"]["code"] == "file_too_large"
    empty = client.post(url, data={"file": (io.BytesIO(b""), "empty.txt")}, content_type="multipart/form-data")
    assert empty.status_code == 422 and empty.get_json()["error"]["fields"]["file"] == "The file is empty."
    ok = client.post(url, data={"file": (io.BytesIO(PDF), "spec.pdf")}, content_type="multipart/form-data")
    assert ok.status_code == 201 and ok.get_json()["content_type"] == "application/pdf"


# ---------------------------------------------------------------- on a real S3 server


@pytest.fixture
def s3_app(make_app, s3_server, s3_bucket):
    from flask_migrate import upgrade

    from tests.conftest import ROOT

    app = make_app(S3_BUCKET=s3_bucket, S3_ENDPOINT_URL=s3_server)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    return app


def test_attachments_go_to_s3_and_download_through_a_short_lived_presigned_link(s3_app, s3_bucket):
    import boto3

    from portal.uow import unit_of_work
    from tests.factories import OrgFactory, member

    app = s3_app
    with app.app_context(), unit_of_work():  # the unit of work a request would have been: committed before the client reads
        org = OrgFactory(slug="s3org", name="S3 Org")
        customer = member(org, "user")
        outsider = member(OrgFactory(slug="other", name="Other"), "org_admin")
        ticket = service.create_ticket(org, customer, subject="S3", body="b", files=[("shot.png", PNG)])
        att = service.attachments(ticket, for_agent=False)[0]
        key, ticket_id, att_id = att.storage_key, ticket.public_id, att.public_id
        customer_id, outsider_id = customer.get_id(), outsider.get_id()
    obj = boto3.client("s3", endpoint_url=app.config["S3_ENDPOINT_URL"]).get_object(Bucket=s3_bucket, Key=key)
    assert obj["Body"].read() == PNG and obj["ContentType"] == "image/png"
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"], sess["_fresh"] = customer_id, True
    response = client.get(f"/o/s3org/tickets/{ticket_id}/attachments/{att_id}")
    assert response.status_code == 303
    link = response.headers["Location"]
    query = parse_qs(urlsplit(link).query)
    assert query["X-Amz-Expires"] == ["60"]
    with urllib.request.urlopen(link) as fetched:  # noqa: S310 - the loopback moto server
        assert fetched.read() == PNG
        assert fetched.headers["Content-Disposition"] == 'attachment; filename="shot.png"'
    with client.session_transaction() as sess:
        sess["_user_id"], sess["_fresh"] = outsider_id, True
    assert client.get(f"/o/s3org/tickets/{ticket_id}/attachments/{att_id}").status_code == 404
