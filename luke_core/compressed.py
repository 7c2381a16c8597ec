"""Compressed inputs (dumps come as bz2, multistream bz2 or gzip): decompression picked by the
file's magic bytes, not its name, with the compressed bytes consumed counted so that progress
and errors can say how far a reader got (an S3 stream cannot `tell`)."""

from __future__ import annotations

import bz2
import gzip
import io
from typing import BinaryIO


class _CountingReader(io.RawIOBase):
    def __init__(self, raw: BinaryIO):
        self.inner = raw
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        self.consumed += len(data)
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


class DecompressedInput:
    """`read` gives decompressed bytes; `compression` is bz2, gzip or none; `bytes_read`
    counts the compressed bytes consumed. Python's bz2 reader concatenates the streams of a
    multistream file by itself."""

    def __init__(self, raw: BinaryIO, buffer_size: int = 1 << 20):
        self._counter = _CountingReader(raw)
        buffered = io.BufferedReader(self._counter, buffer_size=buffer_size)
        magic = buffered.peek(4)[:4]
        self.compression = "none"
        self.stream: BinaryIO = buffered
        if magic[:3] == b"BZh":
            self.compression = "bz2"
            self.stream = bz2.BZ2File(buffered)
        elif magic[:2] == b"\x1f\x8b":
            self.compression = "gzip"
            self.stream = gzip.GzipFile(fileobj=buffered)

    @property
    def bytes_read(self) -> int:
        return self._counter.consumed

    def read(self, size: int = -1) -> bytes:
        return self.stream.read(size)

    def close(self) -> None:
        self.stream.close()
        self._counter.close()
