"""FreshBooks webhook signatures: check ``X-FreshBooks-Hmac-SHA256`` over the raw posted body.

FreshBooks signs ``json.dumps(form)`` (Python's default separators, ``ensure_ascii``) of the
form fields in posted order, keyed by the callback's verifier, and sends the base64 digest. The
raw body is parsed here in its own order, re-serialised the same way and compared in constant
time. A missing or malformed header, or a body that is not a form, fails the check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qsl

__all__ = ["SIGNATURE_HEADER", "sign_form", "verify_signature"]

SIGNATURE_HEADER = "X-FreshBooks-Hmac-SHA256"


def sign_form(verifier: str, body: bytes) -> str:
    """Return the signature FreshBooks sends for ``body`` (a form-encoded POST)."""
    fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    message = json.dumps(dict(fields)).encode("utf-8")
    digest = hmac.new(verifier.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(verifier: str, body: bytes, signature: str | None) -> bool:
    """Say whether ``signature`` is FreshBooks' signature of the raw ``body`` under ``verifier``."""
    if not signature or not verifier:
        return False
    try:
        expected = sign_form(verifier, body)
    except (UnicodeDecodeError, ValueError):
        return False
    return hmac.compare_digest(
        expected.encode("ascii"), signature.strip().encode("ascii", "replace")
    )
