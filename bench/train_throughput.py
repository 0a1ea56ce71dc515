"""Training throughput of ``fit`` against a bare PyTorch loop on the same model, data and batch size.

Design goal: ``fit`` reaches at least 0.9 of the bare loop's images per second. Both run in
the same process, alternating round by round (the order flips every round) so that load from
other processes on a shared machine hits both alike; the median and the best round of each
are reported (the best round is the least disturbed by other processes). The bare loop is the minimum
anyone would write: pre-normalised tensors, a shuffled ``DataLoader``, SGD, cross-entropy, no
augmentation. ``fit`` additionally augments every batch (crop, flip, rotation), tracks
loss and accuracy, and checks the cancel flag every step. A third variant (``--torchvision``)
shows what per-image ``torchvision.transforms.v2`` augmentation would cost instead.

Peak memory: each variant also runs once in a fresh child process, which reports its peak
resident set size above its starting size (``ru_maxrss``; on CUDA, ``max_memory_allocated``).

With ``--scoring`` it also times scoring (the forward pass over the pool each cycle makes):
``predict`` against a bare no-grad forward loop, in the same way.

    python bench/train_throughput.py [--device cpu|cuda] [--faces 200] [--rounds 3] [--scoring]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml_engine.data.dataset import FaceDataset
from ml_engine.data.transforms import eval_transform
from ml_engine.device import resolve_device
from ml_engine.models import create_model
from ml_engine.training import TrainConfig, fit


def make_faces(count: int, size: int, seed: int = 0) -> FaceDataset:
    rng = np.random.default_rng(seed)
    return FaceDataset(
        class_names=tuple(f"class{i}" for i in range(7)),
        names=[f"face{i}" for i in range(count)],
        images=rng.integers(0, 256, (count, size, size), dtype=np.uint8),
        labels=rng.integers(0, 7, count),
        splits=np.array(["train"] * count),
    )


def _config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        model=args.model,
        model_kwargs={"stem": args.stem} if args.model == "resnet18" else {},
        image_size=args.image_size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        num_workers=args.workers,
    )


def run_fit(args: argparse.Namespace, faces: FaceDataset, device: torch.device) -> float:
    """Seconds for ``fit`` over ``args.epochs`` epochs (model creation and setup included)."""
    _sync(device)
    started = time.perf_counter()
    fit(_config(args), faces, device=device)
    _sync(device)
    return time.perf_counter() - started


def _bare_loader(
    args: argparse.Namespace, faces: FaceDataset, device: torch.device, augment: bool
) -> DataLoader:
    images = eval_transform(args.image_size)(torch.from_numpy(faces.images)[:, None])
    labels = torch.as_tensor(faces.labels)
    if not augment:
        dataset = TensorDataset(images, labels)
    else:
        from torchvision.transforms import v2

        per_image = v2.Compose(
            [v2.RandomCrop(args.image_size, padding=4), v2.RandomHorizontalFlip(), v2.RandomRotation(10)]
        )
        dataset = _MappedDataset(images, labels, per_image)
    on_cuda = device.type == "cuda"
    workers = args.workers if on_cuda else 0
    return DataLoader(
        dataset, batch_size=args.batch_size, shuffle=True, num_workers=workers, pin_memory=on_cuda
    )


class _MappedDataset(torch.utils.data.Dataset):
    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return self.transform(self.images[index]), self.labels[index]


def run_bare(
    args: argparse.Namespace, faces: FaceDataset, device: torch.device, augment: bool = False
) -> float:
    """Seconds for the bare loop over ``args.epochs`` epochs (model creation and setup included)."""
    _sync(device)
    started = time.perf_counter()
    torch.manual_seed(0)
    config = _config(args)
    model = create_model(config.model, faces.num_classes, **config.model_kwargs).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loader = _bare_loader(args, faces, device, augment)
    model.train()
    for _ in range(args.epochs):
        for images, labels in loader:
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    _sync(device)
    return time.perf_counter() - started


def compare_scoring(args: argparse.Namespace, faces: FaceDataset, device: torch.device) -> None:
    """Scoring (a cycle's pass over the pool): ``predict`` against a bare no-grad forward loop.

    ``predict`` also keeps each face's embedding and softmax; the bare loop only runs the
    model over pre-normalised tensors in batches of 256. Same model, alternating rounds.
    """
    from ml_engine.inference import predict

    config = _config(args)
    model = create_model(config.model, faces.num_classes, **config.model_kwargs).to(device).eval()
    images = eval_transform(args.image_size)(torch.from_numpy(faces.images)[:, None])

    def bare() -> None:
        with torch.inference_mode():
            for start in range(0, len(images), 256):
                model(images[start : start + 256].to(device))

    def scored() -> None:
        predict(model, faces, image_size=args.image_size, device=device)

    variants = {"predict": scored, "bare": bare}
    bare()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in variants}
    for round_index in range(args.rounds):
        for name in list(variants) if round_index % 2 == 0 else list(reversed(variants)):
            _sync(device)
            started = time.perf_counter()
            variants[name]()
            _sync(device)
            times[name].append(time.perf_counter() - started)
    rate = {name: len(faces.labels) / statistics.median(seconds) for name, seconds in times.items()}
    print(
        f"scoring: predict {rate['predict']:.1f} img/s, bare forward {rate['bare']:.1f} img/s (median of "
        f"{args.rounds}); predict / bare = {rate['predict'] / rate['bare']:.3f}"
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_child(variant: str, args: argparse.Namespace, queue: multiprocessing.Queue) -> None:
    device = resolve_device(args.device)
    faces = make_faces(args.faces, args.image_size)
    start_kib = _rss_kib()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    {"fit": run_fit, "bare": run_bare}[variant](args, faces, device)
    gpu = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    queue.put((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start_kib, gpu))


def _rss_kib() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() // 1024


def peak_memory(variant: str, args: argparse.Namespace) -> tuple[float, float | None]:
    """(peak RSS increase in MiB, CUDA peak allocated in MiB or None) of one run in a child process."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_peak_child, args=(variant, args, queue))
    child.start()
    rss_kib, gpu = queue.get()
    child.join()
    return rss_kib / 1024, gpu


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--stem", default="imagenet")
    parser.add_argument("--faces", type=int, default=200)
    parser.add_argument("--image-size", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4, help="DataLoader workers (CUDA only)")
    parser.add_argument("--torchvision", action="store_true", help="also time per-image v2 augmentation")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory child runs")
    parser.add_argument(
        "--scoring", action="store_true", help="also time scoring the faces (a cycle's pool pass)"
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    faces = make_faces(args.faces, args.image_size)
    images = args.faces * args.epochs
    variants = {"fit": lambda: run_fit(args, faces, device), "bare": lambda: run_bare(args, faces, device)}
    if args.torchvision:
        variants["bare+v2"] = lambda: run_bare(args, faces, device, augment=True)
    run_bare(args, faces, device)  # warm-up: oneDNN/cuDNN kernel selection, allocator
    times: dict[str, list[float]] = {name: [] for name in variants}
    for round_index in range(args.rounds):
        order = list(variants) if round_index % 2 == 0 else list(reversed(variants))
        for name in order:
            times[name].append(variants[name]())
    print(
        f"device {device}, torch threads {torch.get_num_threads()}, model {args.model} ({args.stem} stem), "
        f"{args.image_size} px, batch {args.batch_size}, {images} images per run, {args.rounds} alternating rounds"
    )
    rate = {name: images / statistics.median(seconds) for name, seconds in times.items()}
    best = {name: images / min(seconds) for name, seconds in times.items()}
    print(f"{'variant':<10} {'img/s median':>13} {'ratio':>6} {'img/s best':>11} {'ratio':>6}   rounds (s)")
    for name, seconds in times.items():
        rounds = " ".join(f"{s:.2f}" for s in seconds)
        print(
            f"{name:<10} {rate[name]:>13.1f} {rate[name] / rate['bare']:>6.3f} "
            f"{best[name]:>11.1f} {best[name] / best['bare']:>6.3f}   {rounds}"
        )
    print(
        f"fit / bare = {rate['fit'] / rate['bare']:.3f} (median), {best['fit'] / best['bare']:.3f} (best round); "
        "goal >= 0.9"
    )
    if args.scoring:
        compare_scoring(args, faces, device)
    if not args.no_memory:
        for name in ("bare", "fit"):
            rss, gpu = peak_memory(name, args)
            extra = f", CUDA peak allocated {gpu:.0f} MiB" if gpu is not None else ""
            print(f"peak memory {name}: RSS +{rss:.0f} MiB over the child's start{extra}")


if __name__ == "__main__":
    main()
