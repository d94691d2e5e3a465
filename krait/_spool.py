"""Where the contents of a multipart body's parts are kept: memory within a budget, then disk.

A threshold per part ("each part in memory up to 1 MiB") bounds nothing: a body cut into two
hundred parts of 1023 KiB is held whole, and sixteen such requests at once hold sixteen
bodies. So the budget belongs to the body: one :class:`PartStore` per body keeps part
contents in memory only while all of them together fit in it, and appends every part that
does not fit to one anonymous temporary file, each part then read back through its own window
of that file. One file per body, not per part: a body may have a thousand parts, and a file
each would cost a thousand descriptors per request.
"""

from __future__ import annotations

import io
import tempfile
import threading
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["DEFAULT_MEMORY_BUDGET", "PartStore"]

DEFAULT_MEMORY_BUDGET = 1 << 20
"""How many bytes of part contents one multipart body keeps in memory, all parts together."""


class _SpillFile:
    """An anonymous temporary file that part contents are appended to and read back from.

    Every read and write seeks first, under one lock, so a script may read a finished part on
    one thread while the parser appends the next on another. The file closes once the store
    and every window on it are done with it.
    """

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115
        self._lock = threading.Lock()
        self._holders = 1
        self.size = 0

    def append(self, data: bytes) -> None:
        view = memoryview(data)
        with self._lock:
            self._file.seek(self.size)
            while view:
                written = self._file.write(view) or 0
                view = view[written:]
                self.size += written

    def read_into(self, offset: int, buffer: memoryview) -> int:
        with self._lock:
            self._file.seek(offset)
            return self._file.readinto(buffer) or 0

    def hold(self) -> None:
        with self._lock:
            self._holders += 1

    def release(self) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders == 0:
                self._file.close()


class _Window(io.RawIOBase):
    """A read-only, seekable view of ``size`` bytes of a spill file from ``start``."""

    def __init__(self, spill: _SpillFile, start: int, size: int) -> None:
        super().__init__()
        spill.hold()
        self._spill = spill
        self._start = start
        self._size = size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self._size - self._position)
        if wanted <= 0:
            return 0
        count = self._spill.read_into(self._start + self._position, view[:wanted])
        self._position += count
        return count

    def readall(self) -> bytes:
        data = bytearray(max(0, self._size - self._position))
        filled = 0
        while filled < len(data):
            count = self.readinto(memoryview(data)[filled:])
            if not count:
                break
            filled += count
        return bytes(data[:filled])

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._position + offset
        elif whence == io.SEEK_END:
            position = self._size + offset
        else:
            raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        self._position = position
        return position

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        if not self.closed:
            self._spill.release()
        super().close()


class PartStore:
    """Keeps the contents of one multipart body's parts, written one part at a time.

    A part is written with :meth:`write` and ended with :meth:`end_part`, which gives its
    content as a binary file rewound to its start. The part stays in memory (an
    ``io.BytesIO``) if it fits in what is left of the budget, whole; otherwise it goes to the
    body's spill file, and the bytes it had in memory are freed. So the contents held in
    memory never exceed the budget, however many parts the body has.

    Args:
        memory_budget: how many bytes of part contents may stay in memory, all parts together.
    """

    def __init__(self, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> None:
        self._budget = memory_budget
        self.memory_left = memory_budget
        self._spill: _SpillFile | None = None
        self._chunks: list[bytes] = []
        self._held = 0
        self._spill_start: int | None = None
        self._spilled = 0

    @property
    def held_in_memory(self) -> int:
        """Bytes of part contents in memory now: the ended parts' and the current part's."""
        return self._budget - self.memory_left + self._held

    def write(self, data: bytes) -> None:
        """Add ``data`` to the current part's content."""
        if not data:
            return
        if self._spill_start is None:
            if self._held + len(data) <= self.memory_left:
                self._chunks.append(data)
                self._held += len(data)
                return
            self._move_part_to_disk()
        self._append(data)

    def _move_part_to_disk(self) -> None:
        if self._spill is None:
            self._spill = _SpillFile()
        self._spill_start = self._spill.size
        chunks, self._chunks, self._held = self._chunks, [], 0
        for chunk in chunks:
            self._append(chunk)

    def _append(self, data: bytes) -> None:
        assert self._spill is not None
        self._spill.append(data)
        self._spilled += len(data)

    def end_part(self) -> IO[bytes]:
        """End the current part and return its content, rewound to its start."""
        file: IO[bytes]
        if self._spill_start is None:
            self.memory_left -= self._held
            file = io.BytesIO(b"".join(self._chunks))
        else:
            assert self._spill is not None
            file = io.BufferedReader(_Window(self._spill, self._spill_start, self._spilled))
        self._chunks, self._held = [], 0
        self._spill_start, self._spilled = None, 0
        return file

    def close(self) -> None:
        """Drop the store's hold on the spill file; the parts already ended stay readable."""
        self._chunks, self._held = [], 0
        if self._spill is not None:
            self._spill.release()
            self._spill = None
