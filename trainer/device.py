"""Where a training run computes, and in what precision: `LoopConfig.device` made concrete.

    dev = TrainingDevice.resolve("auto")      # CUDA when torch sees a GPU, else the CPU
    real = dev.to(batch)                       # data onto the device
    with dev.autocast():                       # mixed precision on CUDA; a no-op on the CPU
        loss = loss_fn(net(real))
    dev.backward(loss)                         # through the GradScaler when fp16 needs one
    dev.step(optimizer)
    dev.update()                               # once per iteration, after every optimiser

Precision (`LoopConfig.precision`): "auto" runs CUDA in bfloat16 autocast where the GPU supports
it (no loss scaling needed), else float16 with a GradScaler; on the CPU, "auto" is bfloat16
autocast with channels-last networks when the processor computes bf16 natively (AVX-512 BF16 or
AMX: oneDNN's fast path, about 2x on the effect step) and the task declares its step safe in
bf16 (`task.cpu_bf16`), else float32. "float32" turns autocast off on every device; "bfloat16"
asks for it (refused on a CPU without native bf16). In float32 these calls are plain
`loss.backward()` / `optimizer.step()`.

Random numbers are drawn on the CPU (the tasks' own seeded generators) and moved to the
device, so the data, noise and warps of a step are the same on every device, and the loop
saves checkpoints as CPU tensors: a run started on a GPU resumes or exports on a CPU.
"""

from __future__ import annotations

import contextlib

import torch

from .config import ConfigError, check_device_name, check_precision_name


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
    """The CUDA autocast dtype of `auto`: None (float32) on the CPU, bf16 where supported, else fp16."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if bf16_supported else torch.float16


def cpu_has_native_bf16() -> bool:
    """Whether this processor computes bfloat16 in hardware (AVX-512 BF16 or AMX), as torch reports it."""
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check() for check in checks if callable(check))


class TrainingDevice:
    """The device and precision of one run; the loop makes it, tasks' step() use it."""

    def __init__(self, device: torch.device, dtype=None):
        self.device = torch.device(device)
        self.dtype = dtype  # autocast dtype, None = float32 throughout
        # oneDNN's bf16 convolutions are fast in channels-last layout (networks and 4-D data).
        self.channels_last = self.device.type == "cpu" and dtype == torch.bfloat16
        # fp16 gradients underflow without loss scaling; bf16 has float32's range and needs none.
        self.scaler = torch.amp.GradScaler(self.device.type) if dtype == torch.float16 else None

    @classmethod
    def resolve(cls, name: str = "auto", precision: str = "auto", cpu_bf16: bool = False) -> "TrainingDevice":
        """The device `name` in `precision`; `cpu_bf16`: the task allows bf16 on the CPU under "auto"."""
        device = resolve_device(name)
        check_precision_name(precision)
        if precision == "float32":
            return cls(device)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # training shapes are fixed: pick the fastest kernels once
            if precision == "bfloat16" and not torch.cuda.is_bf16_supported():
                raise ConfigError(f"bfloat16 was asked for, but {torch.cuda.get_device_name(device)} has no bf16",
                                  "precision")
            return cls(device, autocast_dtype(device, torch.cuda.is_bf16_supported()))
        if precision == "bfloat16" and not cpu_has_native_bf16():
            raise ConfigError("bfloat16 was asked for, but this processor has no native bf16 (AVX-512 BF16 or AMX)",
                              "precision")
        if precision == "bfloat16" or (cpu_bf16 and cpu_has_native_bf16()):
            return cls(device, torch.bfloat16)
        return cls(device)

    def to(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.dim() == 4 else x

    def prepare(self, net: torch.nn.Module) -> torch.nn.Module:
        """A network onto the device, in place, in the layout its precision computes fastest in."""
        net.to(self.device)
        return net.to(memory_format=torch.channels_last) if self.channels_last else net

    def autocast(self):
        """Mixed precision for forward passes and losses (nothing in float32)."""
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
