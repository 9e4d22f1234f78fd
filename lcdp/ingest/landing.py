"""The landing zone: every delivery's bytes, immutable, under ``landing/<partner>/<dataset>/<upload_id>/``.

A landed file holds what the partner sent, raw identifiers included, so it is readable by the
platform's own user only (0400), and each partner's bytes in landing are bounded by a quota:
refused deliveries stay too (nothing a partner sends is lost), so without one a partner could
fill the disk.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import func, select

from lcdp import metadata
from lcdp.errors import DeliveryTooLarge, UnsafeFileName

_CHUNK = 1024 * 1024
_SAFE_NAME = re.compile(r"[^\w.-]+")  # \w keeps Hangul: partners name files in Korean


@dataclass(frozen=True)
class LandedFile:
    path: Path
    sha256: str
    size_bytes: int


def safe_file_name(name: str) -> str:
    """The delivered file name reduced to one harmless path component.

    Names that try to climb out (``../x``, absolute paths, drive letters, NUL) are refused:
    a partner that sends them is either broken or hostile, and both deserve to hear it.
    """
    if "\x00" in name:
        raise UnsafeFileName("file name contains a NUL byte")
    parts = re.split(r"[\\/]+", name)
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        raise UnsafeFileName(f"file name {name!r} points outside the landing folder")
    base = _SAFE_NAME.sub("_", parts[-1]).strip("._")
    if not base:
        raise UnsafeFileName(f"file name {name!r} has no usable characters")
    return _cut_to_bytes(base, MAX_NAME_BYTES)


#: Landing names stay this short in UTF-8 bytes (file systems allow 255; ".partial" is added
#: while a delivery is written). A Hangul character is three bytes.
MAX_NAME_BYTES = 200


def _cut_to_bytes(name: str, limit: int) -> str:
    """The name cut to ``limit`` UTF-8 bytes on a character boundary, keeping a short extension."""
    if len(name.encode("utf-8")) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext.encode("utf-8")) > 16:
        stem, ext = name, ""
    room = limit - (len(ext.encode("utf-8")) + 1 if ext else 0)
    cut = stem.encode("utf-8")[:room].decode("utf-8", "ignore")
    return f"{cut}.{ext}" if ext else cut


class LandingWriter:
    """Writes one delivery into ``landing/<partner>/<dataset>/<upload_id>/`` chunk by chunk,
    hashing and counting as it goes; ``finish()`` makes it final and read-only, ``abort()``
    leaves nothing behind. Used by ``land`` (file-like sources) and by the upload API, which
    writes the request body straight in as it arrives."""

    def __init__(self, root: Path, partner: str, dataset: str, upload_id: str, file_name: str,
                 max_bytes: int) -> None:
        self.folder = (root / partner / dataset / upload_id).resolve()
        self.target = (self.folder / safe_file_name(file_name)).resolve()
        if not self.target.is_relative_to(root.resolve()):
            raise UnsafeFileName(f"file name {file_name!r} points outside the landing folder")
        self.max_bytes = max_bytes
        self.size = 0
        self._digest = hashlib.sha256()
        self._partial = self.target.with_name(self.target.name + ".partial")
        self.folder.mkdir(parents=True, exist_ok=True)
        self._out = open(self._partial, "xb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise DeliveryTooLarge(f"delivery exceeds the limit of {self.max_bytes} bytes")
        self._digest.update(chunk)
        self._out.write(chunk)

    def finish(self) -> LandedFile:
        self._out.close()
        os.replace(self._partial, self.target)
        self.target.chmod(0o400)
        return LandedFile(self.target, self._digest.hexdigest(), self.size)

    def abort(self) -> None:
        self._out.close()
        self._partial.unlink(missing_ok=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def land(stream: BinaryIO, root: Path, partner: str, dataset: str, upload_id: str,
         file_name: str, max_bytes: int) -> LandedFile:
    """Copy a delivery into landing while hashing it; the result is made read-only.

    Streams in 1 MiB chunks, so memory stays flat whatever the file size.
    """
    writer = LandingWriter(root, partner, dataset, upload_id, file_name, max_bytes)
    try:
        while chunk := stream.read(_CHUNK):
            writer.write(chunk)
        return writer.finish()
    except BaseException:
        writer.abort()
        raise


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def held_bytes(db_url: str, partner: str) -> int:
    """The bytes ``partner``'s deliveries hold in landing (a re-sent file keeps none of its own)."""
    with metadata.session(db_url) as db:
        total = db.scalar(select(func.coalesce(func.sum(metadata.Upload.size_bytes), 0))
                          .where(metadata.Upload.partner == partner, metadata.Upload.duplicate_of.is_(None)))
    return int(total or 0)


def room_for(db_url: str, partner: str, quota: int) -> int:
    """Bytes ``partner`` may still deliver into landing under ``quota``."""
    return max(0, quota - held_bytes(db_url, partner))
