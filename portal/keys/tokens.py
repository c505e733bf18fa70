"""The API key format: `vtr_` + 30 random base62 characters + a 6-character CRC32 checksum in base62.

Like GitHub's tokens: the fixed prefix lets secret scanners find a leaked key, and the checksum lets
them (and us) tell a real key from a typo offline, before any database lookup. 30 base62 characters
carry about 178 bits of randomness. Only the SHA-256 of a key is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ALLOWED = frozenset(ALPHABET)
PREFIX = "vtr_"
RANDOM_LENGTH = 30
CHECKSUM_LENGTH = 6
KEY_LENGTH = len(PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH  # 40
DISPLAY_PREFIX_LENGTH = len(PREFIX) + 6  # "vtr_AbC123": enough to tell keys apart, far too little to guess one


def base62(number: int, width: int) -> str:
    """number in base62, left-padded with zeros to width."""
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(ALPHABET[rest])
    return "".join(reversed(digits)).rjust(width, ALPHABET[0])


def checksum(random_part: str) -> str:
    """The 6-character checksum of the random part: CRC32 in base62, as GitHub's tokens do."""
    return base62(zlib.crc32(random_part.encode("ascii")), CHECKSUM_LENGTH)


def generate() -> str:
    """A new random key."""
    random_part = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return PREFIX + random_part + checksum(random_part)


def well_formed(key: str) -> bool:
    """True when key has the format and its checksum matches: no database needed to refuse a typo."""
    if len(key) != KEY_LENGTH or not key.startswith(PREFIX) or not _ALLOWED.issuperset(key[len(PREFIX):]):
        return False
    random_part = key[len(PREFIX):-CHECKSUM_LENGTH]
    return hmac.compare_digest(checksum(random_part), key[-CHECKSUM_LENGTH:])


def digest(key: str) -> str:
    """The SHA-256 (hex) under which a key is stored and looked up."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]


def last4(key: str) -> str:
    return key[-4:]


def masked(prefix: str, last: str) -> str:
    """How a key is shown after creation: its prefix and last four characters."""
    return f"{prefix}…{last}"
