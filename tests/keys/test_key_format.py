"""The key format: prefix, randomness, and a CRC32 checksum that refuses typos offline."""

from __future__ import annotations

import math
import re
import zlib

from portal.keys import tokens

FORMAT = re.compile(r"^vtr_[0-9A-Za-z]{30}[0-9A-Za-z]{6}$")


def test_a_new_key_is_prefix_plus_30_base62_characters_plus_a_6_character_checksum():
    key = tokens.generate()
    assert FORMAT.match(key), key
    assert len(key) == tokens.KEY_LENGTH == 40
    assert tokens.well_formed(key)


def test_the_random_part_carries_at_least_128_bits():
    assert tokens.RANDOM_LENGTH * math.log2(62) >= 128
    # what is shown after creation (prefix and last four) leaves more than 128 bits unknown
    hidden = tokens.RANDOM_LENGTH - (tokens.DISPLAY_PREFIX_LENGTH - len(tokens.PREFIX))
    assert hidden * math.log2(62) >= 128
    assert len({tokens.generate() for _ in range(1000)}) == 1000


def test_the_checksum_is_crc32_of_the_random_part_in_base62():
    key = tokens.generate()
    random_part, check = key[4:34], key[34:]
    number = 0
    for ch in check:
        number = number * 62 + tokens.ALPHABET.index(ch)
    assert number == zlib.crc32(random_part.encode())


def test_every_single_character_typo_is_refused_offline():
    key = tokens.generate()
    for i in range(4, len(key)):
        for replacement in "0aZ":
            if key[i] == replacement:
                continue
            typo = key[:i] + replacement + key[i + 1:]
            assert not tokens.well_formed(typo), typo


def test_other_shapes_are_refused():
    key = tokens.generate()
    for bad in ("", "vtr_", key[:-1], key + "x", "ghp_" + key[4:], key.replace("vtr_", "VTR_"), key[:10] + "-" + key[11:], key[:20] + "é" + key[21:]):
        assert not tokens.well_formed(bad), bad


def test_stored_digest_and_display_parts():
    key = tokens.generate()
    assert re.fullmatch(r"[0-9a-f]{64}", tokens.digest(key))
    assert tokens.display_prefix(key) == key[:10] and tokens.last4(key) == key[-4:]
    assert tokens.masked(tokens.display_prefix(key), tokens.last4(key)) == f"{key[:10]}…{key[-4:]}"
