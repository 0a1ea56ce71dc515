"""The last loaded file: loaded once while unchanged, again once rewritten, replaced by another file."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from annotator.ml_bridge.file_cache import LatestFile


def counting_loader(path: Path, loads: list[str]):
    def load() -> str:
        loads.append(path.name)
        return path.read_text()

    return load


def test_an_unchanged_file_is_loaded_once(tmp_path):
    path = tmp_path / "scores.npz"
    path.write_text("first")
    cache: LatestFile[str] = LatestFile()
    loads: list[str] = []

    values = [cache.get(path, counting_loader(path, loads)) for _ in range(3)]

    assert (values, loads) == (["first"] * 3, ["scores.npz"])


def test_a_rewritten_file_is_loaded_again(tmp_path):
    path = tmp_path / "scores.npz"
    path.write_text("first")
    cache: LatestFile[str] = LatestFile()
    loads: list[str] = []
    cache.get(path, counting_loader(path, loads))

    path.write_text("second")
    os.utime(path, ns=(0, path.stat().st_mtime_ns + 1_000_000_000))

    assert cache.get(path, counting_loader(path, loads)) == "second"
    assert loads == ["scores.npz", "scores.npz"]


def test_another_file_replaces_the_loaded_one(tmp_path):
    first, second = tmp_path / "a.faiss", tmp_path / "b.faiss"
    first.write_text("a")
    second.write_text("b")
    cache: LatestFile[str] = LatestFile()
    loads: list[str] = []

    got = [cache.get(path, counting_loader(path, loads)) for path in (first, second, first)]

    assert (got, loads) == (["a", "b", "a"], ["a.faiss", "b.faiss", "a.faiss"])


def test_a_failed_load_keeps_nothing(tmp_path):
    path = tmp_path / "index.faiss"
    path.write_text("whole")
    cache: LatestFile[str] = LatestFile()

    def broken() -> str:
        raise ValueError("truncated")

    with pytest.raises(ValueError, match="truncated"):
        cache.get(path, broken)
    loads: list[str] = []

    assert cache.get(path, counting_loader(path, loads)) == "whole"
    assert loads == ["index.faiss"]


def test_requests_at_once_load_the_file_once(tmp_path):
    path = tmp_path / "index.faiss"
    path.write_text("big")
    cache: LatestFile[str] = LatestFile()
    loads: list[str] = []
    started = threading.Barrier(8)

    def ask() -> None:
        started.wait()
        cache.get(path, counting_loader(path, loads))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert loads == ["index.faiss"]
