"""Model exports: TorchScript and ONNX Runtime agree with PyTorch; broken or tampered files are caught."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from onnx import numpy_helper

from ml_engine.checkpoint import save_checkpoint
from ml_engine.export import model_export
from ml_engine.export.bundle import ModelExport, export_checkpoint
from ml_engine.export.model_export import CARD_EXTRA_FILE, CARD_METADATA_KEY, export_model, sample_faces
from ml_engine.export.model_verification import ExportVerificationError, compare, verify_export
from ml_engine.models import create_model

CLASSES = ("neutral", "happiness", "surprise")
SIZE = 24
pytestmark = pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:FutureWarning")


def trained_like_model(seed: int):
    """A small CNN with dropout and non-trivial BatchNorm statistics (eval must use them)."""
    torch.manual_seed(seed)
    model = create_model("small_cnn", len(CLASSES), dropout=0.5, width=4)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, 1, SIZE, SIZE) * 2 + 1)
    return model.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Path, ModelExport]:
    root = tmp_path_factory.mktemp("model_export")
    model = trained_like_model(0)
    checkpoint = save_checkpoint(root / "ckpt.pt", model, class_names=CLASSES, image_size=SIZE)
    result = export_checkpoint(checkpoint, ["pytorch", "torchscript", "onnx"], root / "out")
    return model, checkpoint, result


@pytest.fixture(scope="module")
def faces() -> torch.Tensor:
    return sample_faces(SIZE)


def fresh_inputs(count: int = 5) -> torch.Tensor:
    """Inputs the exporter never saw, in a different batch size than the trace."""
    return torch.from_numpy(
        np.random.default_rng(7).normal(0, 1.5, (count, 1, SIZE, SIZE)).astype(np.float32)
    )


def test_exported_files_agree_with_pytorch_on_new_inputs(exported) -> None:
    model, _, result = exported
    paths = {e.format: e.path for e in result.exports}
    assert [Path(p).name for p in paths.values()] == ["model.pt", "model.torchscript.pt", "model.onnx"]
    inputs = fresh_inputs()
    with torch.no_grad():
        expected = model(inputs).numpy()
        scripted = torch.jit.load(paths["torchscript"])(inputs).numpy()
    session = onnxruntime.InferenceSession(paths["onnx"], providers=["CPUExecutionProvider"])
    from_onnx = session.run(["logits"], {"faces": inputs.numpy()})[0]
    assert np.abs(scripted - expected).max() <= 1e-4
    assert np.abs(from_onnx - expected).max() <= 1e-4
    assert not np.allclose(expected, expected[:1])  # the faces really give different logits


def test_export_records_verification_and_hashes(exported) -> None:
    _, _, result = exported
    for export in result.exports:
        assert 0.0 <= export.max_abs_difference <= export.tolerance == 1e-4
        assert export.samples == 8
        assert export.sha256 == hashlib.sha256(Path(export.path).read_bytes()).hexdigest()
    assert [e.opset for e in result.exports] == [None, None, 17]
    onnx_model = onnx.load(result.exports[2].path)
    assert onnx_model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert onnx_model.opset_import[0].version == result.card["onnx_opset"] == 17


def test_card_is_embedded_in_torchscript_and_onnx(exported) -> None:
    _, _, result = exported
    extra = {CARD_EXTRA_FILE: ""}
    torch.jit.load(result.exports[1].path, _extra_files=extra)
    metadata = {p.key: p.value for p in onnx.load(result.exports[2].path).metadata_props}
    for text in (extra[CARD_EXTRA_FILE], metadata[CARD_METADATA_KEY]):
        embedded = json.loads(text)
        assert embedded["classes"] == list(CLASSES)
        assert embedded["input"]["normalisation"]["mean"] == 0.5
        assert embedded["exports"] == []  # a file cannot list its own hash


def test_tampered_onnx_is_detected(exported, faces: torch.Tensor, tmp_path: Path) -> None:
    model, _, result = exported
    proto = onnx.load(result.exports[2].path)
    bias = next(t for t in proto.graph.initializer if t.name == "classifier.bias")
    bias.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(bias) + np.float32(1e-3), bias.name))
    onnx.save(proto, tmp_path / "tampered.onnx")
    inputs = faces
    assert verify_export(result.exports[2].path, "onnx", model, inputs) <= 1e-4
    with pytest.raises(ExportVerificationError, match=r"differ from PyTorch by up to 0\.001"):
        verify_export(tmp_path / "tampered.onnx", "onnx", model, inputs)


def test_tampered_torchscript_and_checkpoint_are_detected(
    exported, faces: torch.Tensor, tmp_path: Path
) -> None:
    model, _, result = exported
    scripted = torch.jit.load(result.exports[1].path)
    with torch.no_grad():
        scripted.classifier.weight[0, 0] += 0.01
    scripted.save(str(tmp_path / "tampered.pt"))
    inputs = faces
    with pytest.raises(ExportVerificationError, match=r"TorchScript.*differ"):
        verify_export(tmp_path / "tampered.pt", "torchscript", model, inputs)
    other = save_checkpoint(
        tmp_path / "other.pt", trained_like_model(1), class_names=CLASSES, image_size=SIZE
    )
    with pytest.raises(ExportVerificationError, match=r"checkpoint.*differ"):
        verify_export(other, "pytorch", model, inputs)


@pytest.mark.parametrize("format", ["pytorch", "torchscript", "onnx"])
def test_truncated_file_is_detected(exported, faces: torch.Tensor, tmp_path: Path, format: str) -> None:
    model, _, result = exported
    source = Path(next(e.path for e in result.exports if e.format == format))
    broken = tmp_path / source.name
    broken.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    with pytest.raises(ExportVerificationError, match="cannot be loaded"):
        verify_export(broken, format, model, faces)


def test_a_failing_export_leaves_no_file(
    exported, faces: torch.Tensor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, checkpoint, _ = exported
    real_writer = model_export._write_torchscript
    impostor = trained_like_model(2)
    monkeypatch.setattr(
        model_export,
        "_write_torchscript",
        lambda _model, inputs, path, meta: real_writer(impostor, inputs, path, meta),
    )
    with pytest.raises(ExportVerificationError):
        export_model(model, "torchscript", tmp_path, faces)
    with pytest.raises(ExportVerificationError):
        export_model(trained_like_model(3), "pytorch", tmp_path, faces, checkpoint_path=checkpoint)
    assert list(tmp_path.iterdir()) == []


def test_compare_bounds_nan_and_shape() -> None:
    reference = np.zeros((2, 3), np.float32)
    assert compare(reference, reference + 5e-5, 1e-4, "x") == pytest.approx(5e-5)
    with pytest.raises(ExportVerificationError, match="differ"):
        compare(reference, reference + 2e-4, 1e-4, "x")
    with pytest.raises(ExportVerificationError, match="differ"):
        compare(reference, np.full((2, 3), np.nan, np.float32), 1e-4, "x")
    with pytest.raises(ExportVerificationError, match="shape"):
        compare(reference, reference[:1], 1e-4, "x")


def test_bad_arguments(exported, faces: torch.Tensor, tmp_path: Path) -> None:
    model, _, _ = exported
    with pytest.raises(ValueError, match="checkpoint_path"):
        export_model(model, "pytorch", tmp_path, faces)
    with pytest.raises(ValueError, match="unknown export format"):
        export_model(model, "tflite", tmp_path, faces)
    with pytest.raises(ValueError, match="B >= 2"):
        verify_export(tmp_path / "x", "onnx", model, faces[:1])
    assert faces.shape == (8, 1, SIZE, SIZE) and faces.dtype == torch.float32
    assert faces.min() == -2.0 and faces.max() == 2.0  # black and white frames, normalised
