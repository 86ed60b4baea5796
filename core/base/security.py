"""Admin PIN: stored only as a salted scrypt hash (hashlib.scrypt), compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from core.base.errors import InvalidInputError

# scrypt cost: ~50 ms on a small PC, which makes guessing a 4-8 digit PIN from a stolen file slow.
N, R, P = 2**14, 8, 1


def hash_pin(pin: str) -> str:
    pin = (pin or "").strip()
    if len(pin) < 4:
        raise InvalidInputError("The admin PIN needs at least 4 characters.")
    salt = os.urandom(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_pin(pin: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            (pin or "").strip().encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
