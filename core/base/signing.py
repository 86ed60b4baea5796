"""Ed25519 signatures for the chain's checkpoints and the export manifests.

The `cryptography` package signs when it is installed. Without it, RFC 8032's reference algorithm (section 6,
in plain Python) gives the same keys and signatures, only slower (a few milliseconds a signature; a station
signs a checkpoint an hour). tests/base/test_signing.py checks it against RFC 8032's test vectors.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from core.base.errors import InvalidInputError

KEY_BYTES = 32
SIGNATURE_BYTES = 64

try:  # pragma: no cover - which branch runs depends on the installation
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    HAVE_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover
    HAVE_CRYPTOGRAPHY = False

# ---- RFC 8032, section 6 (reference implementation) ----

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _add(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    A, B = (a[1] - a[0]) * (b[1] - b[0]) % _P, (a[1] + a[0]) * (b[1] + b[0]) % _P  # noqa: N806 - RFC names
    C, D = 2 * a[3] * b[3] * _D % _P, 2 * a[2] * b[2] % _P  # noqa: N806
    E, F, G, H = B - A, D - C, D + C, B + A  # noqa: N806
    return E * F % _P, G * H % _P, F * G % _P, E * H % _P


def _multiply(scalar: int, point: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    result = (0, 1, 1, 0)
    while scalar > 0:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _equal(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return (a[0] * b[2] - b[0] * a[2]) % _P == 0 and (a[1] * b[2] - b[1] * a[2]) % _P == 0


def _recover_x(y: int, sign: int) -> int | None:
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P)
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    return _P - x if (x & 1) != sign else x


_GY = 4 * pow(5, _P - 2, _P) % _P
_GX = _recover_x(_GY, 0) or 0
_G = (_GX, _GY, 1, _GX * _GY % _P)


def _compress(point: tuple[int, int, int, int]) -> bytes:
    zinv = pow(point[2], _P - 2, _P)
    x, y = point[0] * zinv % _P, point[1] * zinv % _P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def _decompress(data: bytes) -> tuple[int, int, int, int] | None:
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % _P)


def _sha512_int(data: bytes) -> int:
    return int.from_bytes(hashlib.sha512(data).digest(), "little")


def _expand(secret: bytes) -> tuple[int, bytes]:
    digest = hashlib.sha512(secret).digest()
    a = int.from_bytes(digest[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, digest[32:]


def _public_reference(secret: bytes) -> bytes:
    return _compress(_multiply(_expand(secret)[0], _G))


def _sign_reference(secret: bytes, message: bytes) -> bytes:
    a, prefix = _expand(secret)
    public = _compress(_multiply(a, _G))
    r = _sha512_int(prefix + message) % _L
    big_r = _compress(_multiply(r, _G))
    h = _sha512_int(big_r + public + message) % _L
    return big_r + int.to_bytes((r + h * a) % _L, 32, "little")


def _verify_reference(public: bytes, message: bytes, signature: bytes) -> bool:
    point = _decompress(public)
    if point is None or len(signature) != SIGNATURE_BYTES:
        return False
    big_r = _decompress(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if big_r is None or s >= _L:
        return False
    h = _sha512_int(signature[:32] + public + message) % _L
    return _equal(_multiply(s, _G), _add(big_r, _multiply(h, point)))


# ---- the API the rest of Rollcall uses ----


def public_key(secret: bytes) -> bytes:
    """The 32-byte public key of a 32-byte secret key."""
    if HAVE_CRYPTOGRAPHY:
        from cryptography.hazmat.primitives import serialization

        raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
        return Ed25519PrivateKey.from_private_bytes(secret).public_key().public_bytes(*raw)
    return _public_reference(secret)


def sign(secret: bytes, message: bytes) -> bytes:
    if HAVE_CRYPTOGRAPHY:
        return Ed25519PrivateKey.from_private_bytes(secret).sign(message)
    return _sign_reference(secret, message)


def verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """True when `signature` is the holder of `public`'s signature of `message`."""
    if HAVE_CRYPTOGRAPHY:
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
            return True
        except (InvalidSignature, ValueError):
            return False
    return _verify_reference(public, message, signature)


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
