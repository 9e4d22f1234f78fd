"""The landing zone: every delivery's bytes, immutable, under ``landing/<partner>/<dataset>/<upload_id>/``."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lcdp.errors import DeliveryRefused

_CHUNK = 1024 * 1024
_SAFE_NAME = re.compile(r"[^\w.-]+")  # \w keeps Hangul: partners name files in Korean


class UnsafeFileName(DeliveryRefused):
    """A delivered file name tries to leave its landing folder."""


class DeliveryTooLarge(DeliveryRefused):
    """A delivery exceeds the configured size limit."""


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
    return base[:200]


def land(stream: BinaryIO, root: Path, partner: str, dataset: str, upload_id: str,
         file_name: str, max_bytes: int) -> LandedFile:
    """Copy a delivery into landing while hashing it; the result is made read-only.

    Streams in 1 MiB chunks, so memory stays flat whatever the file size.
    """
    folder = (root / partner / dataset / upload_id).resolve()
    target = (folder / safe_file_name(file_name)).resolve()
    if not target.is_relative_to(root.resolve()):
        raise UnsafeFileName(f"file name {file_name!r} points outside the landing folder")
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    partial = target.with_name(target.name + ".partial")
    try:
        with open(partial, "xb") as out:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise DeliveryTooLarge(f"delivery exceeds the limit of {max_bytes} bytes")
                digest.update(chunk)
                out.write(chunk)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    target.chmod(0o444)
    return LandedFile(target, digest.hexdigest(), size)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
