"""The secret key of an install that was given none: made once, kept in ``var/secret_key``, readable by its owner.

Every process of one machine (the demo, ``make serve``'s web, WebSocket and Celery processes, ``manage.py``)
reads the same file, so sessions and tokens outlive a restart, and no two installs share a key. Several
machines behind one address must share one ``SECRET_KEY`` and set it.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path


def install_secret_key(directory: Path) -> str:
    """The key in ``directory / "secret_key"``, made first when there is none. ``OSError`` when it can't be."""
    path = directory / "secret_key"
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    directory.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of two processes starting at once, one writes the key and the other reads it.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_urlsafe(50))
    return _read(path)


def _read(path: Path) -> str:
    key = path.read_text().strip()
    for _ in range(50):  # another process has created the file and is writing it
        if key:
            return key
        time.sleep(0.01)
        key = path.read_text().strip()
    raise OSError(f"{path} is empty: delete it and start again")
