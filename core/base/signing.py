"""Ed25519 signatures for the chain's checkpoints and the export manifests, by the `cryptography` package.

tests/base/test_signing.py checks them against RFC 8032's test vectors.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from core.base.errors import InvalidInputError

KEY_BYTES = 32
SIGNATURE_BYTES = 64


def public_key(secret: bytes) -> bytes:
    """The 32-byte public key of a 32-byte secret key."""
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    return Ed25519PrivateKey.from_private_bytes(secret).public_key().public_bytes(*raw)


def sign(secret: bytes, message: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(secret).sign(message)


def verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """True when `signature` is the holder of `public`'s signature of `message`."""
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


def load_or_create_key(path: Path) -> bytes:
    """The station's secret signing key, made on first use (owner-only; never leaves this machine)."""
    if path.exists():
        secret = bytes.fromhex(path.read_text().strip())
        if len(secret) != KEY_BYTES:
            raise InvalidInputError(f"{path} does not hold a signing key (64 hex digits).")
        return secret
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = os.urandom(KEY_BYTES)
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret.hex() + "\n")
    return secret
