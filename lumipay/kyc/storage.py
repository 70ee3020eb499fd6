"""Where KYC documents are kept: a private folder (under `instance/` by default), or an
S3-compatible bucket when `KYC_STORAGE=s3`.

Documents are named by a random key, never by anything the customer sent, so a filename can't
walk out of the folder or collide. Only this module touches them.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from typing import Any

from flask import current_app

from lumipay import settings

_KEY = re.compile(r"[0-9a-f]{32}")


class LocalStorage:
    """Documents as files in one folder, readable only by the app's user."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def _path(self, key: str) -> str:
        if not _KEY.fullmatch(key):
            raise KeyError(key)
        return os.path.join(self.folder, key)

    def save(self, data: bytes) -> str:
        """Store `data` under a new random key and return the key."""
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        key = secrets.token_hex(16)
        descriptor = os.open(self._path(key), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
        return key

    def read(self, key: str) -> bytes:
        with open(self._path(key), "rb") as stored:
            return stored.read()

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(self._path(key))


class S3Storage:
    """Documents as objects under `prefix` in one bucket (AWS S3 or any S3-compatible store).

    Credentials come from the settings when given, else from boto3's usual chain (environment,
    instance role). Objects are written with server-side encryption.
    """

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def _name(self, key: str) -> str:
        if not _KEY.fullmatch(key):
            raise KeyError(key)
        return self.prefix + key

    def save(self, data: bytes) -> str:
        key = secrets.token_hex(16)
        self.client.put_object(
            Bucket=self.bucket,
            Key=self._name(key),
            Body=data,
            ContentType="application/octet-stream",
            ServerSideEncryption="AES256",
        )
        return key

    def read(self, key: str) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._name(key))
        except self.client.exceptions.NoSuchKey:
            raise KeyError(key) from None
        body: bytes = answer["Body"].read()
        return body

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))


def _s3_client() -> Any:
    """One client per app and settings: creating a boto3 client costs tens of milliseconds."""
    import boto3
    from botocore.config import Config

    config = current_app.config
    settings = tuple(
        config[name]
        for name in (
            "KYC_S3_ENDPOINT_URL",
            "KYC_S3_REGION",
            "KYC_S3_ACCESS_KEY_ID",
            "KYC_S3_SECRET_ACCESS_KEY",
        )
    )
    cached = current_app.extensions.get("kyc_s3")
    if cached is not None and cached[0] == settings:
        return cached[1]
    endpoint, region, access_key, secret_key = settings
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        # Path-style addressing works with every S3-compatible store, not only AWS.
        config=Config(s3={"addressing_style": "path"}, connect_timeout=5, read_timeout=30),
    )
    current_app.extensions["kyc_s3"] = (settings, client)
    return client


def storage() -> LocalStorage | S3Storage:
    """The configured backend: `KYC_STORAGE` is `local` (default) or `s3`."""
    kyc = settings.kyc()
    if kyc.storage == "s3":
        return S3Storage(_s3_client(), kyc.s3_bucket, kyc.s3_prefix)
    return LocalStorage(kyc.storage_dir)
