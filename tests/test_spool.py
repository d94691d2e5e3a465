"""The per-body memory budget for part contents, and the spill file the rest shares."""

from __future__ import annotations

import io
import os
import threading
from typing import IO

import pytest

from krait._spool import DEFAULT_MEMORY_BUDGET, PartStore


def store_parts(store: PartStore, *contents: bytes, piece: int = 3) -> list[IO[bytes]]:
    """Write each content to ``store`` in pieces of ``piece`` bytes and end it as a part."""
    files = []
    for content in contents:
        for start in range(0, len(content), piece):
            store.write(content[start : start + piece])
        files.append(store.end_part())
    return files


def in_memory(file: IO[bytes]) -> bool:
    return isinstance(file, io.BytesIO)


def test_default_budget_is_one_mebibyte_per_body() -> None:
    assert DEFAULT_MEMORY_BUDGET == 1 << 20


def test_parts_stay_in_memory_while_they_fit_together() -> None:
    store = PartStore(memory_budget=10)
    files = store_parts(store, b"abcd", b"efgh", b"ij")
    assert [in_memory(file) for file in files] == [True, True, True]
    assert store.memory_left == 0


def test_budget_is_shared_by_the_parts_not_given_to_each() -> None:
    store = PartStore(memory_budget=10)
    files = store_parts(store, b"123456", b"7890ab", b"cd")
    assert [in_memory(file) for file in files] == [True, False, True]
    assert [file.read() for file in files] == [b"123456", b"7890ab", b"cd"]


def test_once_the_budget_is_spent_every_further_part_goes_to_disk() -> None:
    store = PartStore(memory_budget=4)
    files = store_parts(store, b"full", *[b"x%d" % n for n in range(50)])
    assert in_memory(files[0])
    assert not any(in_memory(file) for file in files[1:])
    assert [file.read() for file in files[1:]] == [b"x%d" % n for n in range(50)]


def test_a_part_bigger_than_what_is_left_goes_to_disk_whole() -> None:
    store = PartStore(memory_budget=8)
    (file,) = store_parts(store, b"0123456789abcdef", piece=5)
    assert not in_memory(file)
    assert file.read() == b"0123456789abcdef"
    assert store.memory_left == 8, "a part that moved to disk gives its memory back"


def test_memory_held_never_exceeds_the_budget_while_a_part_is_written() -> None:
    store = PartStore(memory_budget=100)
    for _ in range(1000):
        store.write(b"z" * 7)
        assert store.held_in_memory <= 100
    store.end_part()
    assert store.held_in_memory == 0


def test_empty_parts_cost_nothing() -> None:
    store = PartStore(memory_budget=0)
    (file,) = store_parts(store, b"")
    assert in_memory(file)
    assert file.read() == b""


def test_spilled_parts_share_one_file_and_keep_their_own_windows() -> None:
    store = PartStore(memory_budget=0)
    first, second = store_parts(store, b"first part", b"second")
    assert first.read(5) == b"first"
    assert second.read() == b"second"
    assert first.read() == b" part"
    assert first.read() == b""


def test_spilled_part_seeks_within_its_window() -> None:
    store = PartStore(memory_budget=0)
    _before, file, _after = store_parts(store, b"AAAA", b"0123456789", b"BBBB")
    assert file.seek(-3, io.SEEK_END) == 7
    assert file.read() == b"789"
    file.seek(2)
    assert file.read(3) == b"234"
    assert file.tell() == 5
    file.seek(100)
    assert file.read() == b""
    with pytest.raises(ValueError, match="negative seek"):
        file.seek(-1)


def test_spilled_part_is_read_only() -> None:
    store = PartStore(memory_budget=0)
    (file,) = store_parts(store, b"data")
    assert file.readable() and file.seekable()
    assert not file.writable()
    with pytest.raises(io.UnsupportedOperation):
        file.write(b"x")


def test_spilled_part_reads_like_a_file() -> None:
    store = PartStore(memory_budget=0)
    (file,) = store_parts(store, b"line one\nline two\n")
    assert file.readline() == b"line one\n"
    assert list(file) == [b"line two\n"]
    file.seek(0)
    buffer = bytearray(4)
    assert file.readinto(buffer) == 4
    assert buffer == b"line"


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_spilled_parts_of_a_body_use_one_descriptor() -> None:
    before = open_descriptors()
    store = PartStore(memory_budget=0)
    files = store_parts(store, *[b"part %d" % n for n in range(100)])
    assert open_descriptors() == before + 1
    store.close()
    for file in files:
        file.close()
    assert open_descriptors() == before


def test_spill_file_closes_only_when_the_store_and_every_part_are_done() -> None:
    before = open_descriptors()
    store = PartStore(memory_budget=0)
    first, second = store_parts(store, b"one", b"two")
    store.close()
    first.close()
    assert open_descriptors() == before + 1, "the second part still reads from it"
    assert second.read() == b"two"
    second.close()
    assert open_descriptors() == before


def test_a_store_that_kept_everything_in_memory_opens_no_file() -> None:
    before = open_descriptors()
    store = PartStore()
    store_parts(store, b"a" * 1000, b"b" * 1000)
    assert open_descriptors() == before


def test_parts_ended_before_close_stay_readable() -> None:
    store = PartStore(memory_budget=2)
    kept, spilled = store_parts(store, b"ok", b"spilled")
    store.close()
    assert (kept.read(), spilled.read()) == (b"ok", b"spilled")


def test_a_spilled_part_can_be_read_while_the_next_is_written() -> None:
    store = PartStore(memory_budget=0)
    (first,) = store_parts(store, b"a" * 300_000)
    done = threading.Event()

    def write_next() -> None:
        for _ in range(200):
            store.write(b"b" * 1500)
        done.set()

    writer = threading.Thread(target=write_next)
    writer.start()
    read = b"".join(iter(lambda: first.read(1000), b""))
    writer.join(10)
    assert done.is_set()
    assert read == b"a" * 300_000
    assert store.end_part().read() == b"b" * 300_000
