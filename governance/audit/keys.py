"""The audit key: an Ed25519 key that signs checkpoints, and from which the key that seals
secret ballots until their close is derived.

The key lives outside the database (a file or an environment variable). Its text form is
`roadie-audit-key:` followed by the 32-byte seed in base64; the public key's text form is
`roadie-audit-pub:` followed by the 32 raw bytes in base64. Members keep the public key.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

PRIVATE_PREFIX = "roadie-audit-key:"
PUBLIC_PREFIX = "roadie-audit-pub:"
SEAL_PREFIX = "v1:"


class BadKey(ValueError):
    """A key's text is not a Roadie audit key."""


def _decode(text: str, prefix: str, what: str) -> bytes:
    text = text.strip()
    if not text.startswith(prefix):
        raise BadKey(f"not {what}: it should start with {prefix!r}")
    try:
        raw = base64.b64decode(text.removeprefix(prefix), validate=True)
    except ValueError:
        raise BadKey(f"not {what}: the part after {prefix!r} is not base64") from None
    if len(raw) != 32:
        raise BadKey(f"not {what}: it holds {len(raw)} bytes, not 32")
    return raw


@dataclass(frozen=True)
class PublicKey:
    """What members keep, to check that a checkpoint was signed by their Roadie."""

    raw: bytes

    @classmethod
    def from_text(cls, text: str) -> PublicKey:
        return cls(_decode(text, PUBLIC_PREFIX, "a Roadie audit public key"))

    def text(self) -> str:
        return PUBLIC_PREFIX + base64.b64encode(self.raw).decode()

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()[:16]

    def verifies(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except InvalidSignature:
            return False
        return True


class SealError(ValueError):
    """A sealed ballot cannot be opened: another key sealed it, or it was altered."""


class AuditKey:
    """The private key. Never printed, never stored in the database."""

    def __init__(self, seed: bytes) -> None:
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        self._seed = seed
        raw = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public = PublicKey(raw)
        sealing = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                       info=b"roadie secret ballots v1").derive(seed)
        self._aead = AESGCM(sealing)

    @classmethod
    def generate(cls) -> AuditKey:
        seed = Ed25519PrivateKey.generate().private_bytes(
            Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return cls(seed)

    @classmethod
    def from_text(cls, text: str) -> AuditKey:
        return cls(_decode(text, PRIVATE_PREFIX, "a Roadie audit key"))

    def text(self) -> str:
        return PRIVATE_PREFIX + base64.b64encode(self._seed).decode()

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def seal(self, context: str, plaintext: bytes) -> str:
        """Encrypt with AES-GCM; `context` (such as `vote:3:alice`) is bound to the text, so
        that a sealed ballot moved to another voter or vote does not open."""
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext, context.encode())
        return SEAL_PREFIX + base64.b64encode(nonce + sealed).decode()

    def open(self, context: str, sealed: str) -> bytes:
        if not sealed.startswith(SEAL_PREFIX):
            raise SealError("not a sealed ballot")
        try:
            raw = base64.b64decode(sealed.removeprefix(SEAL_PREFIX), validate=True)
            return self._aead.decrypt(raw[:12], raw[12:], context.encode())
        except (ValueError, InvalidTag):
            raise SealError("the sealed ballot does not open with this key: it was altered, "
                            "moved, or sealed with another key") from None

    def __repr__(self) -> str:
        return f"AuditKey(public={self.public.text()})"

