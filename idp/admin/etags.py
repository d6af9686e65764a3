"""The version tag of a resource as the console and the API show it: both send it with a form or an
``ETag`` and refuse an update that names another (lost-update protection, RFC 9110 §13.1.1)."""
from __future__ import annotations

import hashlib
import json


def etag_of(document_: dict) -> str:
    return hashlib.sha256(json.dumps(document_, sort_keys=True, default=str).encode()).hexdigest()[:32]
