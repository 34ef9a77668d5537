"""Checkpoints: tensors in safetensors, everything else in JSON beside it. Never pickles.

A checkpoint is two files written atomically (temporary name, then rename), JSON last so
its presence marks a complete checkpoint:

    runs/00003-brick/checkpoint-002000.safetensors   networks, EMA generator, optimiser
                                                     moments, torch RNG state
    runs/00003-brick/checkpoint-002000.json          iteration, run config, optimiser
                                                     hyper-parameters, task RNG state

    save_checkpoint(run, 2000, nets, opts, ema, extra={...})
    ckpt = read_checkpoint(latest_checkpoint(run))   # Checkpoint(tensors, meta)
    restore(ckpt, nets, opts, ema)                    # exact continuation

Tensors are saved as CPU tensors whatever device trained them, so a checkpoint written on a
GPU resumes or exports on a machine without one (loading copies them onto the networks' device).
Loading a pickle (`.pt`, `.pth`, `.ckpt`) is refused: unpickling runs arbitrary code.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from ganfx.runtime.errors import ModelLoadError
from ganfx.runtime.files import write_atomic

_NAME_RE = re.compile(r"^checkpoint-(\d{6,})\.json$")
PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin")


@dataclass
class Checkpoint:
    path: Path  # the .json file
    tensors: dict  # name -> torch.Tensor
    meta: dict  # the JSON part

    @property
    def iteration(self) -> int:
        return int(self.meta["iteration"])


def _cpu(t: torch.Tensor) -> torch.Tensor:
    """A CPU copy of a tensor on any device (what the safetensors file holds)."""
    return t.detach().to("cpu", copy=True).contiguous()


def _flatten_optimizer(name: str, opt, tensors: dict) -> dict:
    """Optimiser state: tensors into `tensors`, the rest returned as JSON-able data."""
    sd = opt.state_dict()
    state_meta = {}
    for idx, st in sd["state"].items():
        entry = {}
        for key, value in st.items():
            if torch.is_tensor(value):
                tensors[f"opt.{name}.{idx}.{key}"] = _cpu(value)
                entry[key] = "tensor"
            else:
                entry[key] = value
        state_meta[str(idx)] = entry
    return {"state": state_meta, "param_groups": sd["param_groups"]}


def _unflatten_optimizer(name: str, meta: dict, tensors: dict) -> dict:
    state = {}
    for idx, entry in meta["state"].items():
        state[int(idx)] = {
            key: tensors[f"opt.{name}.{idx}.{key}"] if value == "tensor" else value for key, value in entry.items()
        }
    return {"state": state, "param_groups": meta["param_groups"]}


def checkpoint_paths(run_dir, iteration: int) -> tuple:
    base = Path(run_dir) / f"checkpoint-{iteration:06d}"
    return base.with_suffix(".safetensors"), base.with_suffix(".json")


def save_checkpoint(run_dir, iteration: int, nets: dict, opts: dict, ema, extra: dict) -> Path:
    """Write one checkpoint; returns the .json path. `extra` is JSON-able (config, task state)."""
    from safetensors.torch import save as save_bytes

    tensors = {}
    for name, net in nets.items():
        for key, value in net.state_dict().items():
            tensors[f"net.{name}.{key}"] = _cpu(value)
    for key, value in ema.state_dict().items():
        tensors[f"ema.{key}"] = _cpu(value)
    tensors["rng.torch"] = torch.get_rng_state()
    opt_meta = {name: _flatten_optimizer(name, opt, tensors) for name, opt in opts.items()}
    st_path, json_path = checkpoint_paths(run_dir, iteration)
    write_atomic(st_path, save_bytes(tensors))
    meta = {"format": "ganfx-checkpoint", "version": 1, "iteration": iteration, "tensors": st_path.name,
            "optimizers": opt_meta, **extra}
    write_atomic(json_path, json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return json_path


def list_checkpoints(run_dir) -> list:
    """Complete checkpoints of a run folder, oldest first: [(iteration, json path)]."""
    out = []
    for p in Path(run_dir).glob("checkpoint-*.json"):
        m = _NAME_RE.match(p.name)
        if m and p.with_suffix(".safetensors").is_file():
            out.append((int(m.group(1)), p))
    return sorted(out)


def latest_checkpoint(run_dir) -> Path:
    found = list_checkpoints(run_dir)
    if not found:
        raise ModelLoadError("no checkpoint in this run folder (checkpoint-NNNNNN.json + .safetensors)", path=run_dir)
    return found[-1][1]


def prune_checkpoints(run_dir, keep: int) -> None:
    for _, path in list_checkpoints(run_dir)[:-keep]:
        path.unlink(missing_ok=True)
        path.with_suffix(".safetensors").unlink(missing_ok=True)


def resolve_checkpoint(path) -> Path:
    """A run folder, a checkpoint .json or its .safetensors -> the checkpoint's .json path."""
    path = Path(path)
    if path.is_dir():
        return latest_checkpoint(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise ModelLoadError("pickled checkpoints are refused (unpickling can run code); "
                             "ganfx checkpoints are .safetensors + .json", path=path)
    if path.suffix == ".safetensors":
        path = path.with_suffix(".json")
    if not path.is_file():
        raise ModelLoadError("checkpoint not found", path=path)
    return path


def read_checkpoint(path) -> Checkpoint:
    """Read and check a checkpoint; a corrupt or foreign file gives one clear line."""
    from safetensors import SafetensorError
    from safetensors.torch import load as load_bytes

    json_path = resolve_checkpoint(path)
    try:
        meta = json.loads(json_path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelLoadError(f"not a ganfx checkpoint (unreadable JSON: {exc})", path=json_path) from None
    if not isinstance(meta, dict) or meta.get("format") != "ganfx-checkpoint":
        raise ModelLoadError("not a ganfx checkpoint (no 'format': 'ganfx-checkpoint')", path=json_path)
    st_path = json_path.with_name(str(meta.get("tensors", "")))
    try:
        head = st_path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"checkpoint tensors unreadable ({exc.strerror})", path=st_path) from None
    if head[8:9] != b"{" and (head[:1] == b"\x80" or head[:2] == b"PK"):  # pickle / torch.save zip
        raise ModelLoadError("this is a pickle, not safetensors; pickled checkpoints are refused", path=st_path)
    try:
        tensors = load_bytes(head)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"corrupt safetensors file ({first})", path=st_path) from None
    return Checkpoint(json_path, tensors, meta)


def _load_module(module, prefix: str, tensors: dict, where) -> None:
    sd = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    try:
        module.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ModelLoadError(f"checkpoint does not match the network ({first})", path=where) from None


def load_generator(ckpt: Checkpoint, G, ema: bool = True) -> None:
    """Load the (EMA) generator weights only, e.g. for export."""
    _load_module(G, "ema." if ema else "net.G.", ckpt.tensors, ckpt.path)


def restore(ckpt: Checkpoint, nets: dict, opts: dict, ema) -> None:
    """Load everything the loop saved, for an exact continuation."""
    for name, net in nets.items():
        _load_module(net, f"net.{name}.", ckpt.tensors, ckpt.path)
    _load_module(ema, "ema.", ckpt.tensors, ckpt.path)
    for name, opt in opts.items():
        if name not in ckpt.meta.get("optimizers", {}):
            raise ModelLoadError(f"checkpoint has no state for optimiser {name!r}", path=ckpt.path)
        opt.load_state_dict(_unflatten_optimizer(name, ckpt.meta["optimizers"][name], ckpt.tensors))
    torch.set_rng_state(ckpt.tensors["rng.torch"])
