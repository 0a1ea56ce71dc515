"""Hostile weight files are refused before they are unpickled, quickly, with a sentence and no path."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import pytest
import torch

from ml_engine.models.external_weights import ExternalWeightsError, is_resnet_state, read_external_resnet18
from ml_engine.safe_load import WeightsFileError, check_weights_archive, load_weights_safely

pytestmark = pytest.mark.timeout(30)  # a loop on a hostile file fails the test instead of hanging it


def stem_state() -> dict[str, torch.Tensor]:
    return {"conv1.weight": torch.zeros(64, 3, 7, 7), "bn1.weight": torch.ones(64)}


def deflated_copy(source: Path, destination: Path, extra: dict[str, bytes] | None = None) -> None:
    """``source`` (a torch.save archive) rewritten with every member deflated, plus ``extra`` members."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as copy:
        for info in original.infolist():
            copy.writestr(info.filename, original.read(info.filename))
        for name, data in (extra or {}).items():
            copy.writestr(name, data)


def zip_bomb(path: Path, unpacked_bytes: int) -> None:
    """A valid torch archive whose one tensor storage deflates ``unpacked_bytes`` of zeros to almost nothing."""
    plain = path.with_suffix(".plain")
    torch.save({"conv1.weight": torch.zeros(unpacked_bytes // 4)}, plain)
    deflated_copy(plain, path)
    plain.unlink()


def test_a_zip_bomb_is_refused_from_its_directory_before_anything_is_unpickled(tmp_path, monkeypatch) -> None:
    zip_bomb(tmp_path / "bomb.pt", 8 * 1024**2)
    assert (tmp_path / "bomb.pt").stat().st_size < 64 * 1024  # what an upload size cap sees
    assert torch.load(tmp_path / "bomb.pt", weights_only=True)["conv1.weight"].numel() == 2 * 1024**2

    def unpickling(*args, **kwargs):
        raise AssertionError("torch.load was called on a file over the bound")

    monkeypatch.setattr(torch, "load", unpickling)
    with pytest.raises(
        WeightsFileError, match=r"^the file holds a member that unpacks to 8 MB, more than the limit of 4 MB"
    ):
        load_weights_safely(tmp_path / "bomb.pt", max_unpacked_bytes=4 * 1024**2)
    with pytest.raises(ExternalWeightsError, match="unpacks to 8 MB, more than the limit of 4 MB") as refused:
        read_external_resnet18(tmp_path / "bomb.pt", max_unpacked_bytes=4 * 1024**2)
    assert str(tmp_path) not in str(refused.value)


def test_members_that_together_unpack_past_the_bound_are_refused(tmp_path) -> None:
    torch.save(stem_state(), tmp_path / "plain.pt")
    deflated_copy(
        tmp_path / "plain.pt", tmp_path / "many.pt", {f"padding/{i}": bytes(300_000) for i in range(4)}
    )
    members = check_weights_archive(tmp_path / "plain.pt", max_unpacked_bytes=1024**2)
    assert max(member.unpacked_bytes for member in members) == 64 * 3 * 7 * 7 * 4
    with pytest.raises(WeightsFileError, match=r"^the file unpacks to 1 MB, more than the limit of 1 MB$"):
        check_weights_archive(tmp_path / "many.pt", max_unpacked_bytes=1024**2)


def test_a_pickle_past_its_own_bound_is_refused_before_it_is_unpickled(tmp_path, monkeypatch) -> None:
    from ml_engine import safe_load

    torch.save({**stem_state(), "history": [{} for _ in range(100_000)]}, tmp_path / "amplifying.pt")
    pickled = next(
        m for m in check_weights_archive(tmp_path / "amplifying.pt") if m.name.endswith("data.pkl")
    )
    assert 300_000 < pickled.unpacked_bytes < 1024**2  # about six bytes a dict
    monkeypatch.setattr(safe_load, "MAX_PICKLE_BYTES", 256 * 1024)
    with pytest.raises(
        WeightsFileError, match=r"^the file's pickle \(the names and structure around the tensors\)"
    ):
        load_weights_safely(tmp_path / "amplifying.pt")


def test_an_archive_of_too_many_members_is_refused_without_listing_them(tmp_path) -> None:
    torch.save(stem_state(), tmp_path / "plain.pt")
    deflated_copy(tmp_path / "plain.pt", tmp_path / "crowd.pt", {f"x/{i}": b"" for i in range(60)})
    count = len(zipfile.ZipFile(tmp_path / "plain.pt").infolist()) + 60
    with pytest.raises(
        WeightsFileError, match=rf"^the file is an archive of {count} members; a weights file has at most 50$"
    ):
        check_weights_archive(tmp_path / "crowd.pt", max_members=50)
    assert len(check_weights_archive(tmp_path / "crowd.pt", max_members=count)) == count


def test_legacy_and_non_torch_files_are_refused_unread(tmp_path) -> None:
    legacy = tmp_path / "legacy.pt"
    torch.save(stem_state(), legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(
        WeightsFileError, match=r"legacy format.*save it again with torch.save of PyTorch 1.6"
    ):
        load_weights_safely(legacy)
    with pytest.raises(
        WeightsFileError, match=r"^the file is not a PyTorch weights file \(torch.save writes"
    ):
        load_weights_safely(io.BytesIO(b"PK\x03\x04 not really"))
    truncated = io.BytesIO()
    torch.save(stem_state(), truncated)
    with pytest.raises(WeightsFileError, match=r"^the file is not a PyTorch weights file"):
        load_weights_safely(io.BytesIO(truncated.getvalue()[:-40]))


def test_a_dict_that_holds_itself_is_refused_not_followed_forever(tmp_path) -> None:
    looping: dict[str, object] = {}
    looping["state_dict"] = looping
    torch.save(looping, tmp_path / "loop.pt")
    with pytest.raises(ExternalWeightsError, match=r"^the file's containers hold themselves"):
        read_external_resnet18(tmp_path / "loop.pt")
    assert is_resnet_state(load_weights_safely(tmp_path / "loop.pt")) is False


def test_a_two_dict_cycle_and_deep_nesting_are_refused(tmp_path) -> None:
    first: dict[str, object] = {}
    first["model"] = {"state_dict": first}
    torch.save(first, tmp_path / "cycle.pt")
    with pytest.raises(ExternalWeightsError, match=r"^the file's containers hold themselves"):
        read_external_resnet18(tmp_path / "cycle.pt")
    nested: object = stem_state()
    for _ in range(6):
        nested = {"model": nested}
    torch.save(nested, tmp_path / "deep.pt")
    with pytest.raises(ExternalWeightsError, match=r"^the weights are nested more than 4 containers deep"):
        read_external_resnet18(tmp_path / "deep.pt")


def test_a_name_wrapped_in_module_1500_times_is_refused_with_a_sentence(tmp_path) -> None:
    torch.save({"module." * 1500 + "conv1.weight": torch.zeros(64, 3, 7, 7)}, tmp_path / "wrapped.pt")
    with pytest.raises(
        ExternalWeightsError, match=r"^a parameter name is wrapped in more than 8 module\./_orig_mod\."
    ):
        read_external_resnet18(tmp_path / "wrapped.pt")
    torch.save({"module._orig_mod.module.conv1.weight": torch.zeros(64, 3, 7, 7)}, tmp_path / "three.pt")
    assert list(read_external_resnet18(tmp_path / "three.pt").state_dict) == ["conv1.weight"]


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (
            {"conv1.weight": torch.zeros(3), "x" * 600: torch.zeros(1)},
            r"^a parameter name is 600 characters long",
        ),
        ({"conv1.weight": torch.zeros(3), 7: torch.zeros(1)}, r"^a parameter name is a int, not a string$"),
        (
            {"conv1.weight": torch.zeros(2, dtype=torch.complex64)},
            r"^'conv1.weight' is a torch.strided torch.complex64",
        ),
        ({"conv1.weight": torch.zeros(3)}, r"^backbone weights do not fit"),
    ],
    ids=["long-name", "int-name", "complex", "flat-stem"],
)
def test_odd_entries_are_refused_with_a_sentence(tmp_path, state, reason) -> None:
    from ml_engine.models import create_model, load_backbone_weights

    torch.save(state, tmp_path / "odd.pt")
    with pytest.raises(ValueError, match=reason):
        external = read_external_resnet18(tmp_path / "odd.pt")
        load_backbone_weights(create_model("resnet18", 7), external.state_dict)


def test_a_plain_pickle_is_never_unpickled(tmp_path) -> None:
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('ran')",))

    (tmp_path / "bare.pt").write_bytes(pickle.dumps(Boom(), protocol=2))
    with pytest.raises(WeightsFileError, match=r"legacy format"):
        load_weights_safely(tmp_path / "bare.pt")
