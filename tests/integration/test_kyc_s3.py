"""The S3 storage backend against moto's S3 served over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from tests.integration.test_kyc_documents import PDF, latest, send_identity, stored_files

BUCKET = "lumipay-kyc-test"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture()
def bucket(app, s3_endpoint, monkeypatch) -> Any:  # type: ignore[no-untyped-def]
    settings = {
        "KYC_STORAGE": "s3",
        "KYC_S3_BUCKET": BUCKET,
        "KYC_S3_PREFIX": "kyc/",
        "KYC_S3_ENDPOINT_URL": s3_endpoint,
        "KYC_S3_REGION": "eu-west-1",
        "KYC_S3_ACCESS_KEY_ID": "test-access-key",
        "KYC_S3_SECRET_ACCESS_KEY": "test-secret-key",
    }
    for name, value in settings.items():
        monkeypatch.setitem(app.config, name, value)
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="eu-west-1",
        aws_access_key_id="test-access-key",
        aws_secret_access_key="test-secret-key",
        config=Config(s3={"addressing_style": "path"}),
    )
    client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def objects(client: Any) -> dict[str, Any]:
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {item["Key"]: item for item in listed}


def test_documents_go_to_the_bucket_and_come_back_to_admins(app, register, admin, bucket):
    ada = register("Ada Obi")
    files = stored_files(app)
    assert send_identity(ada, PDF, "statement.pdf", "application/pdf").status_int == 303
    submission = latest()
    assert set(objects(bucket)) == {f"kyc/{submission.document_key}"}
    stored = bucket.get_object(Bucket=BUCKET, Key=f"kyc/{submission.document_key}")
    assert stored["Body"].read() == PDF
    assert stored["ServerSideEncryption"] == "AES256"
    assert stored_files(app) == files, "nothing written to the local folder"

    served = admin().get(f"/admin/kyc/{submission.id}/document")
    assert served.body == PDF and served.headers["Content-Type"] == "application/pdf"


def test_a_document_missing_from_the_bucket_is_a_404_not_a_500(register, admin, bucket):
    ada = register("Ada Obi")
    assert send_identity(ada, PDF, "statement.pdf", "application/pdf").status_int == 303
    submission = latest()
    bucket.delete_object(Bucket=BUCKET, Key=f"kyc/{submission.document_key}")
    missing = admin().get(f"/admin/kyc/{submission.id}/document", expect_errors=True)
    assert missing.status_int == 404


def test_a_refused_upload_leaves_nothing_in_the_bucket(register, ctx, bucket):
    ada = register("Ada Obi")
    response = send_identity(ada, b"<html>not a pdf</html>", "evil.pdf", "application/pdf")
    assert response.status_int == 422
    assert objects(bucket) == {}
