"""Self-supervised pre-training throughput (faces per second) per method, against a bare loop.

Every method trains the classifier's backbone (default ResNet-18, compact stem, 48 px,
batch 256) on random faces kept on the device, so only the method's own work is timed:
making the views on the device, the backbone and heads, the loss, the optimiser step and
any momentum update. Baseline, in the same process: a bare forward + backward + SGD step of
the same backbone on one view pair (2 x batch images, no augmentation, no head, loss = the
mean squared feature). A ratio of 0.5 means the method runs at half the bare loop's speed;
SwAV's 2 + 4 multi-crop and the momentum encoders of MoCo and BYOL cost more by design.

    .venv/bin/python bench/ssl_throughput.py [--device cuda] [--steps 20] [--methods simclr,moco]

On CUDA both the baseline and the methods use fp16 autocast with loss scaling and the
rate is faces per wall-clock second. On a CPU shared with other jobs, wall time mostly
measures the neighbours, so rates there are faces per second of this process's CPU time
(wall-clock rates are printed alongside); ``--threads 1`` keeps OpenMP spin-waiting out of it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ml_engine.device import resolve_device
from ml_engine.models import create_model
from ml_engine.ssl import PretrainConfig, create_method, list_methods


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_steps(step, steps: int, warmup: int, device: torch.device) -> tuple[float, float]:
    """(wall, process CPU) seconds for ``steps`` calls of ``step`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    synchronise(device)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    synchronise(device)
    return time.perf_counter() - wall, time.process_time() - cpu


def rates(args: argparse.Namespace, seconds: tuple[float, float]) -> tuple[float, float]:
    """(rate used for ratios, wall-clock rate) in faces per second."""
    wall, cpu = (args.batch_size * args.steps / value for value in seconds)
    return (wall if args.device.type == "cuda" else cpu), wall


def training_step(parameters, loss_fn, device: torch.device, amp: bool):
    optimiser = torch.optim.SGD(parameters, lr=0.01, momentum=0.9)
    scaler = torch.amp.GradScaler(device.type, enabled=amp)

    def step() -> None:
        with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=amp):
            loss = loss_fn()
        optimiser.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()

    return step


def baseline(
    args: argparse.Namespace, faces: torch.Tensor, device: torch.device, amp: bool
) -> tuple[float, float]:
    """Faces per second of a bare forward + backward on one view pair."""
    torch.manual_seed(0)
    backbone = create_model(args.model, 1, **args.model_kwargs).backbone.to(device).train()
    pair = torch.cat([faces, faces]).float() / 255.0

    step = training_step(
        list(backbone.parameters()), lambda: backbone(pair).float().pow(2).mean(), device, amp
    )
    return rates(args, timed_steps(step, args.steps, args.warmup, device))


def method_speed(
    name: str, args: argparse.Namespace, faces: torch.Tensor, device: torch.device, amp: bool
) -> tuple[float, float]:
    """Faces per second of one SSL method's full training step."""
    torch.manual_seed(0)
    config = PretrainConfig(
        method=name,
        model=args.model,
        model_kwargs=args.model_kwargs,
        image_size=args.image_size,
        batch_size=args.batch_size,
    )
    model = create_model(args.model, 1, **args.model_kwargs)
    method = create_method(config, model.backbone, model.embedding_dim).to(device).train()
    augment, counter = method.view_augmentation(), [0]

    def loss_fn() -> torch.Tensor:
        counter[0] += 1
        return method.loss(augment(faces))

    parameters = [p for p in method.parameters() if p.requires_grad]
    inner = training_step(parameters, loss_fn, device, amp)

    def step() -> None:
        inner()
        method.on_step_end(counter[0], 1000)

    return rates(args, timed_steps(step, args.steps, args.warmup, device))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--stem", default=None, help="ResNet stem (default: the model's)")
    parser.add_argument("--image-size", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default: 3 on CPU, 30 on CUDA)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--methods", default=",".join(list_methods()))
    parser.add_argument("--no-amp", action="store_true", help="fp32 on CUDA too")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device = resolve_device(args.device)
    args.steps = args.steps or (30 if device.type == "cuda" else 3)
    args.model_kwargs = {} if args.stem is None else {"stem": args.stem}
    amp = device.type == "cuda" and not args.no_amp
    generator = torch.Generator().manual_seed(0)
    shape = (args.batch_size, 1, args.image_size, args.image_size)
    faces = torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8).to(device)
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU, {torch.get_num_threads()} threads"
    )
    print(
        f"{args.model} {args.model_kwargs or ''} {args.image_size} px, batch {args.batch_size}, "
        f"{args.steps} timed steps, {name}, amp={amp}"
    )
    unit = "faces/s" if device.type == "cuda" else "faces/CPU-s"
    reference, wall = baseline(args, faces, device, amp)
    print(
        f"{'bare fwd+bwd, 1 view pair':<28} {reference:9.1f} {unit}  ratio 1.00   (wall {wall:.1f} faces/s)"
    )
    for method in args.methods.split(","):
        speed, wall = method_speed(method, args, faces, device, amp)
        print(f"{method:<28} {speed:9.1f} {unit}  ratio {speed / reference:.2f}   (wall {wall:.1f} faces/s)")


if __name__ == "__main__":
    main()
