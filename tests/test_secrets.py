"""Ids, tokens and codes from the buffered OS CSPRNG: right shape, uniform, never repeated,
and a forked child never hands out its parent's bytes."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
import uuid
from collections import Counter

import pytest

from widget_server import secrets_

TOKEN = re.compile(r"[A-Za-z0-9_-]+")


def test_ids_are_version_4_uuids_in_text_form() -> None:
    ids = [secrets_.new_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    for value in ids:
        parsed = uuid.UUID(value)
        assert str(parsed) == value
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


@pytest.mark.parametrize("nbytes", [16, 24, 32, 48])
def test_tokens_are_url_safe_and_as_long_as_token_urlsafe(nbytes: int) -> None:
    tokens = [secrets_.new_token(nbytes) for _ in range(2000)]
    assert len(set(tokens)) == len(tokens)
    expected = len(__import__("secrets").token_urlsafe(nbytes))
    assert all(TOKEN.fullmatch(t) and len(t) == expected for t in tokens)


def test_codes_are_six_digits_and_every_digit_is_as_likely() -> None:
    codes = [secrets_.new_code() for _ in range(20000)]
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    # Each position, each digit: 2000 expected; a bias of a few per cent would show.
    for position in range(6):
        counts = Counter(c[position] for c in codes)
        assert set(counts) == set("0123456789")
        assert all(1700 < n < 2300 for n in counts.values()), counts


def test_threads_never_get_the_same_bytes() -> None:
    seen: list[list[str]] = [[] for _ in range(8)]

    def draw(out: list[str]) -> None:
        out.extend(secrets_.new_id() for _ in range(3000))

    threads = [threading.Thread(target=draw, args=(out,)) for out in seen]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for out in seen for i in out]
    assert len(set(everything)) == len(everything) == 24000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_reuse_the_parents_buffer() -> None:
    secrets_.new_id()  # the parent's buffer now holds unused bytes
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        os.write(write, secrets_.new_id().encode())
        os._exit(0)
    os.close(write)
    child_id = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert uuid.UUID(child_id).version == 4
    assert child_id != secrets_.new_id()


def test_keyed_hash_is_the_hmac_of_the_parts_and_keys_do_not_mix():
    expected = hmac.new(b"key-1", b"csrf\x1fflow-1", hashlib.sha256).hexdigest()
    assert secrets_.keyed_hash("key-1", "csrf", "flow-1") == expected
    # The cached keyed HMAC is copied, never updated: the same input, the same output.
    assert secrets_.keyed_hash("key-1", "csrf", "flow-1") == expected
    assert secrets_.keyed_hash("key-2", "csrf", "flow-1") != expected
    assert secrets_.keyed_hash("key-1", "csrf", "flow-2") != expected
    assert secrets_.keyed_hash("key-1", "csrf", "flow-1") == expected
