"""Data-parallel training over several processes (torchrun): one process per GPU, or CPU (gloo).

    torchrun --nproc-per-node 4 -m ganfx.trainer texture skimage:brick -o runs --iterations 4000
    ganfx train texture brick.png -o runs --distributed          # the same, when started by torchrun

`from_environment()` joins the process group torchrun describes (RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR/PORT; NCCL on CUDA, gloo on CPUs) and returns a `Distributed`; outside
torchrun it returns `SINGLE`, one process, so the loop has one code path.

What the loop does with it (trainer/loop.py): every process builds the same networks
(rank 0's weights are broadcast), each draws its own data (the task is built with seed +
rank), and before every optimiser step the gradients of that optimiser's parameters are
averaged over all processes in one coalesced all-reduce. That is DistributedDataParallel's
arithmetic (gradient all-reduce, mean), applied at the optimiser rather than by wrapping the
modules: GAN steps call the discriminator several times per step, toggle its requires_grad
and take double-backward R1 penalties, which `torch.nn.parallel.DistributedDataParallel`
does not support, and tasks call their networks' own attributes. The weights stay identical
on every process, so the EMA generator is too. Rank 0 alone writes the run folder:
config, checkpoints, samples, metrics and plots; checkpoints hold one copy of the weights,
so a run resumes with any number of processes (rank 0 continues the saved data streams,
the others start fresh streams of their own seeds).

Effective batch = per-process batch x world size; the learning rate is not scaled (the
gradients are a mean over the larger batch), and both are reported when training starts.
"""

from __future__ import annotations

import os

import torch


class Distributed:
    """One process of a data-parallel run."""

    def __init__(self, rank: int = 0, world_size: int = 1, local_rank: int = 0, backend: str | None = None):
        self.rank, self.world_size, self.local_rank, self.backend = rank, world_size, local_rank, backend

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device_name(self, name: str) -> str:
        """The loop's device for this process: `auto`/`cuda` become this process's GPU (cuda:LOCAL_RANK)."""
        if self.active and name in ("auto", "cuda") and torch.cuda.is_available():
            return f"cuda:{self.local_rank}"
        return name

    def broadcast_parameters(self, nets: dict) -> None:
        """Every process starts from rank 0's weights and buffers (as DistributedDataParallel does)."""
        if not self.active:
            return
        import torch.distributed as dist

        with torch.no_grad():
            for net in nets.values():
                for t in [*net.parameters(), *net.buffers()]:
                    dist.broadcast(t.data, 0)

    def average_gradients(self, params) -> None:
        """grad <- mean over processes, for every parameter that has one (one coalesced all-reduce)."""
        if not self.active:
            return
        import torch.distributed as dist
        from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = _flatten_dense_tensors(grads)
        dist.all_reduce(flat)
        flat /= self.world_size
        for g, avg in zip(grads, _unflatten_dense_tensors(flat, grads)):
            g.copy_(avg)

    def wrap_optimizers(self, opts: dict) -> None:
        """Each optimiser's step() first averages its parameters' gradients over the processes."""
        if not self.active:
            return
        for opt in opts.values():
            params = [p for group in opt.param_groups for p in group["params"]]
            original = opt.step

            def step(*args, _original=original, _params=params, **kwargs):
                self.average_gradients(_params)
                return _original(*args, **kwargs)

            opt.step = step

    def mean(self, values: dict) -> dict:
        """{name: float} averaged over the processes (the losses rank 0 logs)."""
        if not self.active or not values:
            return values
        import torch.distributed as dist

        keys = sorted(values)
        t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
        if self.backend == "nccl":
            t = t.cuda(self.local_rank)
        dist.all_reduce(t)
        return {k: float(v) / self.world_size for k, v in zip(keys, t.cpu().tolist())}

    def broadcast_object(self, obj):
        """Rank 0's `obj` on every process (a run folder's name, say)."""
        if not self.active:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, 0)
        return box[0]

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self.active:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.barrier()  # nobody leaves while another still talks to it
                dist.destroy_process_group()

    def describe(self, cfg) -> str:
        """"2 processes (gloo): effective batch 2 x 8 = 16, learning rate lr_g 0.0002, lr_d 0.0002 (not scaled)"."""
        batch = getattr(cfg, "batch", None)
        lrs = ", ".join(f"{k} {getattr(cfg, k):g}" for k in ("lr", "lr_g", "lr_d") if hasattr(cfg, k))
        eff = f"effective batch {self.world_size} x {batch} = {self.world_size * batch}" if batch else \
            f"{self.world_size} x the per-process batch"
        return (f"data parallel over {self.world_size} process{'es' if self.world_size != 1 else ''} "
                f"({self.backend or 'single'}): {eff}; learning rate {lrs or 'as configured'} "
                "(not scaled: gradients are averaged)")


SINGLE = Distributed()


def launched_by_torchrun() -> bool:
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def from_environment(device: str = "auto") -> Distributed:
    """Join torchrun's process group (NCCL for CUDA devices, gloo otherwise); SINGLE outside torchrun."""
    if not launched_by_torchrun():
        return SINGLE
    import torch.distributed as dist

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    if world <= 1:
        return Distributed(rank, world, local)
    use_cuda = device != "cpu" and torch.cuda.is_available()
    backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend)
    return Distributed(rank, world, local, backend)
