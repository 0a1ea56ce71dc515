"""GPU smoke test of a train worker's machine: one mixed-precision training step, one
self-supervised step and a faiss search on the GPU, in seconds, before a GPU worker takes jobs.

Each check prints ``ran`` with what it measured, ``could not run`` with the reason (no CUDA
device, a faiss build without GPU support), or ``FAILED`` with the error. The exit status is 0
when every check ran, 2 when some could not run on this machine, 1 when one failed.

On a machine without CUDA, ``--cpu`` runs the same steps on the CPU (fp32, faiss on the CPU)
to check the script and the engine, and still says that the GPU path was not exercised::

    .venv/bin/python bench/gpu_smoke.py            # on each GPU machine (CUDA_VISIBLE_DEVICES picks one)
    .venv/bin/python bench/gpu_smoke.py --cpu      # anywhere

In the GPU worker's image (docker/compose.gpu.yaml: faiss-gpu in place of faiss-cpu, the
worker's GPU reserved), which is where the GPU path must work::

    SECRET_KEY=x docker compose -f docker/compose.yaml -f docker/compose.gpu.yaml \\
        run --rm --no-deps worker-train python bench/gpu_smoke.py
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml_engine import index as faiss_index
from ml_engine.models import create_model
from ml_engine.ssl.base import create_method
from ml_engine.ssl.config import PretrainConfig


class CouldNotRun(Exception):
    """This machine lacks what the check needs (not a failure of the code)."""


def training_step(device: torch.device, model_name: str, batch: int, size: int) -> str:
    """One optimiser step of the classifier under autocast (fp16) with a gradient scaler, as training runs."""
    amp = device.type == "cuda"
    model = create_model(model_name, 7, in_channels=1).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    images = torch.randn(batch, 1, size, size, device=device)
    targets = torch.randint(0, 7, (batch,), device=device)
    before = [p.detach().clone() for p in model.parameters()]
    with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=amp):
        logits = model(images)
        loss = torch.nn.functional.cross_entropy(logits, targets)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    if not torch.isfinite(loss):
        raise FloatingPointError(f"loss is {loss.item()}")
    changed = sum(not torch.equal(a, b.detach()) for a, b in zip(before, model.parameters(), strict=True))
    if not changed:
        raise AssertionError("the step changed no parameter")
    precision = f"autocast {logits.dtype}" if amp else "fp32 (no AMP on the CPU)"
    return f"{model_name}, batch {batch} of {size} px, {precision}, loss {loss.item():.3f}, {changed} tensors updated"


def ssl_step(device: torch.device, model_name: str, batch: int, size: int) -> str:
    """One SimCLR step on two augmented views, under autocast on CUDA, as pre-training runs."""
    amp = device.type == "cuda"
    config = PretrainConfig(method="simclr", model=model_name, image_size=size, batch_size=batch)
    model = create_model(model_name, 1, in_channels=1)
    method = create_method(config, model.backbone, model.embedding_dim).to(device)
    optimizer = torch.optim.SGD(method.parameters(), lr=0.06, momentum=0.9)
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    faces = torch.randint(0, 256, (batch, 1, size, size), dtype=torch.uint8, device=device)
    views = method.view_augmentation()(faces)
    with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=amp):
        loss = method.loss(views)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    if not torch.isfinite(loss):
        raise FloatingPointError(f"loss is {loss.item()}")
    return f"simclr, {len(views)} views of {batch} faces, loss {loss.item():.3f}"


def faiss_search(gpu: bool, rows: int = 20_000, dim: int = 512) -> str:
    """Exact cosine search of 100 queries over random embeddings; checks each row finds itself."""
    if gpu and not faiss_index.gpu_available():
        import faiss

        reason = (
            "this faiss build has no GPU support (faiss-cpu)"
            if not hasattr(faiss, "StandardGpuResources")
            else "faiss sees no GPU"
        )
        raise CouldNotRun(reason)
    embeddings = np.random.default_rng(0).standard_normal((rows, dim)).astype(np.float32)
    built = faiss_index.EmbeddingIndex.build(embeddings, use_gpu=gpu)
    if gpu and not built.on_gpu:
        raise AssertionError("the index stayed on the CPU")
    started = time.perf_counter()
    _, ids = built.search(embeddings[:100], 5)
    seconds = time.perf_counter() - started
    if not np.array_equal(ids[:, 0], np.arange(100)):
        raise AssertionError("a stored vector is not its own nearest neighbour")
    return f"{rows} x {dim} vectors on the {'GPU' if built.on_gpu else 'CPU'}, 100 queries in {seconds * 1000:.1f} ms"


def run(name: str, check: Callable[[], str]) -> str:
    started = time.perf_counter()
    try:
        detail = check()
    except CouldNotRun as reason:
        print(f"could not run  {name}: {reason}")
        return "could not run"
    except Exception as error:  # a smoke test reports every failure and goes on
        print(f"FAILED         {name}: {type(error).__name__}: {error}")
        return "failed"
    print(f"ran            {name} ({time.perf_counter() - started:.2f} s): {detail}")
    return "ran"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu", action="store_true", help="without CUDA, run the same steps on the CPU")
    parser.add_argument("--model", default="resnet18", help="classifier registry name")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=48)
    args = parser.parse_args(argv)

    cuda = torch.cuda.is_available()
    print(
        f"torch {torch.__version__}, CUDA {'available: ' + torch.cuda.get_device_name(0) if cuda else 'not available'}"
    )
    outcomes = []
    if cuda:
        device = torch.device("cuda")
        outcomes.append(
            run(
                "AMP training step on the GPU",
                lambda: training_step(device, args.model, args.batch, args.image_size),
            )
        )
        outcomes.append(
            run("SSL step on the GPU", lambda: ssl_step(device, args.model, args.batch, args.image_size))
        )
        outcomes.append(run("faiss search on the GPU", lambda: faiss_search(gpu=True)))
    else:
        reason = f"no CUDA device (torch {torch.__version__}, built for CUDA {torch.version.cuda or 'none'})"
        for name in ("AMP training step on the GPU", "SSL step on the GPU"):
            print(f"could not run  {name}: {reason}")
            outcomes.append("could not run")
        outcomes.append(run("faiss search on the GPU", lambda: faiss_search(gpu=True)))
    failed = False
    if args.cpu:
        cpu = torch.device("cpu")
        failed = "failed" in (
            run(
                "training step on the CPU",
                lambda: training_step(cpu, args.model, args.batch, args.image_size),
            ),
            run("SSL step on the CPU", lambda: ssl_step(cpu, args.model, args.batch, args.image_size)),
            run("faiss search on the CPU", lambda: faiss_search(gpu=False)),
        )
    if failed or "failed" in outcomes:
        return 1
    if "could not run" in outcomes:
        print("The GPU path was NOT exercised on this machine: run this on a GPU worker's machine.")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
