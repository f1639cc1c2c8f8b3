"""Follow a log file the way `tail -F` does: through rotation (a new file at the path) and truncation.

Only complete lines are returned; a partial last line waits for its newline. Rotation is noticed by the
path's inode changing: the old file is read to its end first, so nothing written before the rotation is
lost. Truncation (size below the read offset, as `copytruncate` does) starts again from the top.

What is skipped is what the file held when the tail was created, nothing more: a file that appears
later (a sidecar starting before nginx writes its first line into a shared emptyDir) is read from its
first byte, and lines appended between the start and the first poll are read too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20


@dataclass
class LogTail:
    path: Path
    from_start: bool = False  # False: skip what the file held at creation, like tail -F
    rotations: int = 0
    truncations: int = 0
    _file: BinaryIO | None = field(default=None, repr=False)
    _inode: int | None = None
    _partial: bytes = b""
    _skip: tuple[int, int] | None = None  # (inode, size) of the file as it was at creation

    def __post_init__(self) -> None:
        if not self.from_start:
            try:
                existing = os.stat(self.path)
            except FileNotFoundError:
                return
            self._skip = (existing.st_ino, existing.st_size)

    def _open(self) -> bool:
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - kept open across polls on purpose
        except FileNotFoundError:
            return False
        self._file = handle
        self._inode = os.fstat(handle.fileno()).st_ino
        if self._skip is not None:
            inode, size = self._skip
            if inode == self._inode and size <= os.fstat(handle.fileno()).st_size:
                handle.seek(size)  # the same file: skip what it held at creation, read the rest
            self._skip = None  # only ever on the first open
        self._partial = b""
        return True

    def _read_all(self) -> list[bytes]:
        assert self._file is not None
        lines: list[bytes] = []
        while True:
            chunk = self._file.read(CHUNK)
            if not chunk:
                return lines
            data = self._partial + chunk
            complete, _, self._partial = data.rpartition(b"\n")
            if complete:
                lines.extend(complete.split(b"\n"))

    def poll(self) -> list[bytes]:
        """Every complete line written since the last poll (empty when the file does not exist yet)."""
        if self._file is None and not self._open():
            return []
        assert self._file is not None
        lines: list[bytes] = []
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            current = None  # rotated away and not recreated yet: finish the old file
        if current is not None and current.st_ino == self._inode and current.st_size < self._file.tell():
            self.truncations += 1
            self._file.seek(0)
            self._partial = b""
        lines += self._read_all()
        if current is not None and current.st_ino != self._inode:
            self.rotations += 1
            self._file.close()
            self._file = None
            if self._open():
                lines += self._read_all()  # the new file, from its first line
        return lines

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
