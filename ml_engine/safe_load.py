"""Read a weights file someone else made: bounded before a byte of it is unpickled.

``torch.load(weights_only=True)`` refuses pickled programs, but it trusts the archive around
the pickle. A ``.pt`` file is a zip archive whose members PyTorch's reader extracts whole, at
the size the zip's central directory declares: a member deflated from 1 GB of zeros is a
1 MB upload that asks for 1 GB of memory, and a pre-1.6 ("legacy") file declares its storage
sizes inside the pickle itself. So before ``torch.load``:

* the file must be a zip archive (``torch.save`` has written one since PyTorch 1.6; a legacy
  or tar file is refused with how to convert it);
* its central directory is walked here, reading at most ``max_members`` headers (a directory
  of millions of tiny members is refused without being listed), and the sizes the members
  declare once unpacked, one by one and summed, must stay under ``max_unpacked_bytes``, the
  pickle's under :data:`MAX_PICKLE_BYTES`.

Every refusal is a :class:`WeightsFileError` whose message is a sentence about "the file",
never a path: the path is a server's temporary file, of no use to whoever sent it.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import torch

MAX_ARCHIVE_MEMBERS = 10_000
"""Members a weights archive may hold: one per tensor storage, plus about six of bookkeeping.

A ResNet-152 has about a thousand tensors; ten thousand leaves room for any backbone."""

DEFAULT_MAX_UNPACKED_BYTES = 1024**3
"""What the members of a weights archive may add up to once unpacked, unless a caller says."""

MAX_PICKLE_BYTES = 8 * 1024**2
"""Size of the archive's pickle (``data.pkl``): the names and structure, not the tensor data.

A ResNet-18 state dict's is about 10 kB, a whole training checkpoint's some hundred kB. The
bound matters apart from the total because unpickling amplifies: two bytes of pickle
(``EMPTY_DICT``, ``APPEND``) make a 64-byte object, so 256 MB of pickle could ask for 8 GB."""

_END = struct.Struct("<4s4H2LH")  # end of central directory record, 22 bytes
_ZIP64_LOCATOR = struct.Struct("<4sLQL")  # 20 bytes, just before the end record
_ZIP64_END = struct.Struct("<4sQ2H2L4Q")  # 56 bytes
_CENTRAL = struct.Struct("<4s6H3L5H2L")  # central directory file header, 46 bytes
_MAX_COMMENT = 0xFFFF
_GLOBAL_NAME = re.compile(r"GLOBAL ([\w.]{1,120})")


class WeightsFileError(ValueError):
    """The file cannot be read safely as weights; the message says why, without any path."""


@dataclass(frozen=True)
class ArchiveMember:
    """One member of a zip archive as its central directory declares it."""

    name: str
    unpacked_bytes: int


def check_weights_archive(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES,
    max_members: int = MAX_ARCHIVE_MEMBERS,
) -> list[ArchiveMember]:
    """The archive's members, once it is known that unpacking them stays within the bounds.

    Raises:
        WeightsFileError: not a zip archive (a legacy PyTorch file, or no PyTorch file at all),
            a damaged one, too many members, members that unpack past ``max_unpacked_bytes``,
            or a pickle past :data:`MAX_PICKLE_BYTES`.
    """
    with _opened(source) as file:
        members = _central_directory(file, max_members)
    limit_mb = max_unpacked_bytes / 1024**2
    largest = max(members, key=lambda member: member.unpacked_bytes, default=None)
    if largest is not None and largest.unpacked_bytes > max_unpacked_bytes:
        raise WeightsFileError(
            f"the file holds a member that unpacks to {largest.unpacked_bytes / 1024**2:,.0f} MB, "
            f"more than the limit of {limit_mb:,.0f} MB for a whole weights file"
        )
    pickled = max((m.unpacked_bytes for m in members if m.name.endswith(".pkl")), default=0)
    if pickled > MAX_PICKLE_BYTES:
        raise WeightsFileError(
            f"the file's pickle (the names and structure around the tensors) unpacks to "
            f"{pickled / 1024**2:,.0f} MB, more than the limit of {MAX_PICKLE_BYTES / 1024**2:,.0f} MB"
        )
    total = sum(member.unpacked_bytes for member in members)
    if total > max_unpacked_bytes:
        raise WeightsFileError(
            f"the file unpacks to {total / 1024**2:,.0f} MB, more than the limit of {limit_mb:,.0f} MB"
        )
    return members


def load_weights_safely(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES,
    max_members: int = MAX_ARCHIVE_MEMBERS,
) -> object:
    """:func:`check_weights_archive`, then ``torch.load`` of tensors and plain containers only.

    Raises:
        WeightsFileError: the archive is out of bounds, holds pickled objects (which could run
            code), or is no PyTorch file at all; the message is one sentence and names no path.
    """
    check_weights_archive(source, max_unpacked_bytes=max_unpacked_bytes, max_members=max_members)
    if not isinstance(source, (str, os.PathLike)):
        source.seek(0)
    try:
        return torch.load(source, map_location="cpu", weights_only=True)
    except MemoryError:
        raise
    except pickle.UnpicklingError as error:
        found = _GLOBAL_NAME.search(str(error))
        what = f"an object of type {found.group(1)}" if found else "objects other than tensors and containers"
        raise WeightsFileError(
            f"the file holds {what}; only tensors and plain containers are read, never pickled code"
        ) from None
    except Exception:
        # RuntimeError from the zip reader, KeyError, EOFError, UnicodeDecodeError...: not weights.
        raise WeightsFileError("the file is not a PyTorch weights file that can be read") from None


@contextmanager
def _opened(source: str | os.PathLike[str] | BinaryIO) -> Iterator[BinaryIO]:
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as file:
            yield file
    else:
        source.seek(0)
        yield source


def _central_directory(file: BinaryIO, max_members: int) -> list[ArchiveMember]:
    """Walk the central directory the end record points to: at most ``max_members`` headers."""
    count, offset = _directory_location(file)
    if count > max_members:
        raise WeightsFileError(
            f"the file is an archive of {count:,} members; a weights file has at most {max_members:,}"
        )
    file.seek(offset)
    members = []
    for _ in range(count):
        header = file.read(_CENTRAL.size)
        if len(header) < _CENTRAL.size or not header.startswith(b"PK\x01\x02"):
            raise WeightsFileError("the file is a damaged zip archive (its directory ends early)")
        fields = _CENTRAL.unpack(header)
        unpacked, name_length, extra_length, comment_length = fields[9], fields[10], fields[11], fields[12]
        name = file.read(name_length).decode("utf-8", "replace")
        extra = file.read(extra_length)
        file.seek(comment_length, io.SEEK_CUR)
        if unpacked == 0xFFFFFFFF:
            unpacked = _zip64_size(extra)
        members.append(ArchiveMember(name, unpacked))
    return members


def _directory_location(file: BinaryIO) -> tuple[int, int]:
    """How many members the central directory lists, and where it starts (zip64 included)."""
    size = file.seek(0, io.SEEK_END)
    tail_length = min(size, _END.size + _MAX_COMMENT)
    file.seek(size - tail_length)
    tail = file.read(tail_length)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _END.size:
        file.seek(0)
        legacy = file.read(2) == b"\x80\x02"  # a pickle's protocol opcode: torch.save before 1.6
        raise WeightsFileError(
            "the file is in PyTorch's legacy format, which declares its sizes inside the pickle: "
            "load it and save it again with torch.save of PyTorch 1.6 or later"
            if legacy
            else "the file is not a PyTorch weights file (torch.save writes a zip archive)"
        )
    _, _, _, _, count, _, offset, _ = _END.unpack_from(tail, at)
    if count != 0xFFFF and offset != 0xFFFFFFFF:
        return count, offset
    locator_at = size - tail_length + at - _ZIP64_LOCATOR.size
    if locator_at < 0:
        raise WeightsFileError("the file is a damaged zip archive (no zip64 locator)")
    file.seek(locator_at)
    signature, _, end_at, _ = _ZIP64_LOCATOR.unpack(file.read(_ZIP64_LOCATOR.size))
    file.seek(end_at)
    record = file.read(_ZIP64_END.size)
    if signature != b"PK\x06\x07" or len(record) < _ZIP64_END.size or not record.startswith(b"PK\x06\x06"):
        raise WeightsFileError("the file is a damaged zip archive (no zip64 directory record)")
    fields = _ZIP64_END.unpack(record)
    return fields[7], fields[9]


def _zip64_size(extra: bytes) -> int:
    """The unpacked size from a zip64 extra field (tag 1, whose first value it is)."""
    at = 0
    while at + 4 <= len(extra):
        tag, length = struct.unpack_from("<2H", extra, at)
        if tag == 1 and length >= 8:
            return int(struct.unpack_from("<Q", extra, at + 4)[0])
        at += 4 + length
    raise WeightsFileError("the file is a damaged zip archive (a member's zip64 size is missing)")
