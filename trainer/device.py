"""Where a training run computes, and in what precision: `LoopConfig.device` made concrete.

    dev = TrainingDevice.resolve("auto")      # CUDA when torch sees a GPU, else the CPU
    real = dev.to(batch)                       # data onto the device
    with dev.autocast():                       # mixed precision on CUDA; a no-op on the CPU
        loss = loss_fn(net(real))
    dev.backward(loss)                         # through the GradScaler when fp16 needs one
    dev.step(optimizer)
    dev.update()                               # once per iteration, after every optimiser

On CUDA, autocast runs in bfloat16 where the GPU supports it (no loss scaling needed), else
float16 with a GradScaler. On the CPU everything stays float32 and these calls are plain
`loss.backward()` / `optimizer.step()`, so CPU runs are exactly what they were without them.

Random numbers are drawn on the CPU (the tasks' own seeded generators) and moved to the
device, so the data, noise and warps of a step are the same on every device, and the loop
saves checkpoints as CPU tensors: a run started on a GPU resumes or exports on a CPU.
"""

from __future__ import annotations

import contextlib

import torch

from .config import ConfigError, check_device_name


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when torch.cuda.is_available(), else CPU; 'cuda' without CUDA is an error."""
    check_device_name(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"CUDA was asked for, but torch {torch.__version__} sees no CUDA device", "device")
        index = int(name.split(":")[1]) if ":" in name else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise ConfigError(f"{name} was asked for, but torch sees {torch.cuda.device_count()} CUDA device(s)",
                              "device")
        return torch.device("cuda", index)
    return torch.device("cpu")


def autocast_dtype(device: torch.device, bf16_supported: bool):
    """The autocast dtype for a device: None (float32) on the CPU, bf16 where supported, else fp16."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if bf16_supported else torch.float16


class TrainingDevice:
    """The device and precision of one run; the loop makes it, tasks' step() use it."""

    def __init__(self, device: torch.device, dtype=None):
        self.device = torch.device(device)
        self.dtype = dtype  # autocast dtype, None = float32 throughout
        # fp16 gradients underflow without loss scaling; bf16 has float32's range and needs none.
        self.scaler = torch.amp.GradScaler(self.device.type) if dtype == torch.float16 else None

    @classmethod
    def resolve(cls, name: str = "auto") -> "TrainingDevice":
        device = resolve_device(name)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # training shapes are fixed: pick the fastest kernels once
            return cls(device, autocast_dtype(device, torch.cuda.is_bf16_supported()))
        return cls(device)

    def to(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.device, non_blocking=True)

    def autocast(self):
        """Mixed precision for forward passes and losses (nothing on the CPU)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def step(self, optimizer) -> None:
        if self.scaler is not None:
            self.scaler.step(optimizer)  # skipped when the scaled gradients overflowed
        else:
            optimizer.step()

    def update(self) -> None:
        if self.scaler is not None:
            self.scaler.update()

    # -- what checkpoints record --------------------------------------------------------
    def describe(self) -> dict:
        """JSON-able: the device that ran and its precision (recorded in each checkpoint)."""
        out = {"device": str(self.device), "precision": {None: "float32", torch.bfloat16: "bfloat16 autocast",
                                                          torch.float16: "float16 autocast"}[self.dtype]}
        if self.device.type == "cuda":
            out["name"] = torch.cuda.get_device_name(self.device)
        return out

    def state(self) -> dict | None:
        """The GradScaler's state (scale, growth tracker) for an exact resume; None without one."""
        if self.scaler is None:
            return None
        return {k: (v.item() if torch.is_tensor(v) else v) for k, v in self.scaler.state_dict().items()}

    def set_state(self, state: dict | None) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)

    def __str__(self) -> str:
        d = self.describe()
        return f"{d['device']}{' (' + d['name'] + ')' if 'name' in d else ''}, {d['precision']}"


CPU = TrainingDevice(torch.device("cpu"))  # what a task's step() uses when called without a device
