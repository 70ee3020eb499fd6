"""Where KYC documents are kept: a private folder (under `instance/` by default).

Files are named by a random key, never by anything the customer sent, so a filename can't walk
out of the folder or collide. Only this module touches the files. An S3-compatible backend is
not built yet: the folder is the only backend (see README).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets

from flask import current_app

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


def storage() -> LocalStorage:
    return LocalStorage(current_app.config["KYC_STORAGE_DIR"])
