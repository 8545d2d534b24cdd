"""Ed25519 signatures of a bundle's manifest (the `cryptography` package).

HQ keeps the private key; stores configure the public key (`[bundle] public_key` in
loyaltyrules.toml) and then accept only bundles it signed. Keys are PEM files:
PKCS#8 for the private key, SubjectPublicKeyInfo for the public one.

`cryptography` is imported when a key is first made or read, not when the command
line starts: most commands never sign or verify.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )


class BadKey(ValueError):
    """A key file that is missing, unreadable or not an Ed25519 key."""


def generate(private_path: Path) -> Path:
    """A new key pair: the private key at `private_path` (mode 0600), the public key
    beside it with `.pub` added. Refuses to overwrite either."""
    public_path = private_path.with_name(private_path.name + ".pub")
    for path in (private_path, public_path):
        if path.exists():
            raise BadKey(f"{path} exists; not overwritten")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private)
    public_path.write_bytes(_public_pem(key.public_key()))
    return public_path


def _public_pem(key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: Ed25519PublicKey) -> str:
    """A short name for a public key, shown so a store can tell which key signed."""
    from cryptography.hazmat.primitives import serialization

    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_private(path: Path) -> Ed25519PrivateKey:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(_read(path), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        raise BadKey(f"{path} is not an unencrypted PEM private key ({err})") from err
    if not isinstance(key, Ed25519PrivateKey):
        raise BadKey(f"{path} is not an Ed25519 private key")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = _read(path)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as err:
        raise BadKey(f"{path} is not a PEM public key ({err})") from err
    if not isinstance(key, Ed25519PublicKey):
        raise BadKey(f"{path} is not an Ed25519 public key")
    return key


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise BadKey(f"cannot read the key {path}: {err.strerror or err}") from err


MARK = b"loyaltyrules-signature:ed25519:"
# The mark, the key id (16 hex digits), ":" and the signature in base64 (88 characters).
COMMENT_LENGTH = len(MARK) + 16 + 1 + 88


def comment(key: Ed25519PrivateKey, message: bytes) -> bytes:
    """The signature of `message` as the bundle's zip comment, always COMMENT_LENGTH long."""
    signature = base64.b64encode(key.sign(message))
    text = MARK + key_id(key.public_key()).encode() + b":" + signature
    assert len(text) == COMMENT_LENGTH
    return text


def verifies_comment(key: Ed25519PublicKey, message: bytes, text: bytes) -> bool:
    if len(text) != COMMENT_LENGTH or text[:-88] != MARK + key_id(key).encode() + b":":
        return False  # another key's signature, or a damaged one
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(base64.b64decode(text[-88:], validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True
