"""Follow a log file the way `tail -F` does: through rotation (a new file at the path) and truncation.

Only complete lines are returned; a partial last line waits for its newline. Rotation is noticed by the
path's inode changing: the old file is read to its end first, so nothing written before the rotation is
lost. Truncation (size below the read offset, as `copytruncate` does) starts again from the top.
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
    from_start: bool = False  # False: skip what is already there on the first open, like tail -F
    rotations: int = 0
    truncations: int = 0
    _file: BinaryIO | None = field(default=None, repr=False)
    _inode: int | None = None
    _partial: bytes = b""
    _opened_once: bool = False

    def _open(self) -> bool:
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - kept open across polls on purpose
        except FileNotFoundError:
            return False
        self._file = handle
        self._inode = os.fstat(handle.fileno()).st_ino
        if not self._opened_once and not self.from_start:
            handle.seek(0, os.SEEK_END)
        self._opened_once = True
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
            self._opened_once = True
            if self._open():
                lines += self._read_all()  # the new file, from its first line
        return lines

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
