"""`ganfx render|generate ... --ray [ADDRESS]`: the chunks of a job plan rendered on a Ray cluster.

    ganfx render watercolor plate.mov -o out/shot.####.exr --ray                 # a local cluster
    ganfx render watercolor plate.mov -o out.mov --ray ray://head:10001 --plan 24 # 24 frames a chunk
    ganfx generate fire -o fire.wav --seconds 600 --ray --plan 60

Ray runs the work; ganfx only describes it: the chunks are those `--plan` prints (plugin/cli/
plan.py; without --plan, about four chunks per worker), each one a Ray actor task. There is
one actor per GPU of the cluster (or per CPU slot where it has none); an actor opens the model
once and renders chunk after chunk with it. An actor whose process dies is restarted and its
task retried by Ray (max_restarts / max_task_retries); a retried chunk of a sequence keeps the
frames it finished (resume), a retried segment is rewritten. Segments of a video or a sound
go to a hidden folder beside the output and are joined by `ganfx concat`'s code
(runtime/concat.py) when all are done, then removed: the output is the local render's
(sequences byte for byte, videos frame for frame). One progress bar counts the shot's frames
(samples) as chunks finish. Workers need the same files at the same paths (a shared disk),
as farm jobs do. `pip install "ganfx[ray]"`; ray is imported only here, only when used.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
from pathlib import Path


def _ray():
    from ganfx.runtime.errors import require

    return require("ray", "ray", extra="ray")


class ChunkWorker:
    """One Ray actor: opens the model on its first chunk and keeps it for the next ones."""

    def __init__(self):
        self._stack = None
        self._session = None
        self._model = None
        self.loads = 0  # how often this actor opened a model (1 unless restarted)

    def _parse(self, argv):
        from ganfx.plugin.cli import build_parser

        args = build_parser().parse_args(argv[1:])
        args.quiet, args.progress = True, "bar"
        return args

    def _open(self, args, generator=None):
        if self._session is None:
            import contextlib

            from ganfx.plugin.cli.generate_cmd import texture_params
            from ganfx.plugin.cli.render_cmd import parse_params, session_options
            from ganfx.plugin.session import open_session

            self._stack = contextlib.ExitStack()
            params = parse_params(args.param) if generator is None else texture_params(args)
            opts = session_options(args, **(generator or {}))
            self._session = self._stack.enter_context(open_session(args.model, params, opts, "ganfx-ray"))
            self.loads += 1
        return self._session

    def run(self, kind: str, argv: list, resume: bool) -> int:
        """Render one chunk (its command line from the plan); returns frames or samples written."""
        import dataclasses

        from ganfx.plugin.cli.render_cmd import parse_fps, render_options
        from ganfx.runtime.pipeline import generate_file, parse_frame_range, render_file

        args = self._parse(argv)
        if kind == "sound":
            from ganfx.plugin.cli.generate_sound import run_sound
            from ganfx.runtime import load_model

            if self._model is None:
                self._model = load_model(args.model, providers=tuple(args.provider) if args.provider else None,
                                         precision=args.precision)
                self.loads += 1
            args.overwrite = True  # a hidden segment of this render: a retry rewrites it
            run_sound(args, self._model)
            return 0
        if resume:
            args.resume = True
        if kind == "render":
            options = dataclasses.replace(render_options(args, parse_fps(args.fps)), progress="quiet")
            stats = render_file(args.input, args.output, self._open(args), parse_frame_range(args.frames), options,
                                matte=args.matte)
            return stats.frames
        from ganfx.plugin.cli.generate_cmd import parse_size

        size, fps = parse_size(args.size), parse_fps(args.fps)
        options = dataclasses.replace(render_options(args, fps), progress="quiet")
        session = self._open(args, dict(size=size, fps=fps, loop_frames=args.frames if args.loop else None))
        stats = generate_file(args.output, session, args.frames, size, options, parse_frame_range(args.chunk, "range"))
        return stats.frames

    def pid(self) -> int:
        return os.getpid()


def _plan(args, kind, model):
    from ganfx.plugin.cli import plan

    if kind == "render":
        return plan.render_plan(args)
    if kind == "generate":
        return plan.generate_plan(args)
    return plan.sound_plan(args, model)


def _auto_chunk(args, kind, model, slots: int) -> None:
    """Without --plan: about four chunks per worker (at least one frame, or one second of sound)."""
    if args.plan is not None:
        return
    if kind == "sound":
        args.plan = max(1.0, math.ceil(args.seconds / (4 * slots)))
        return
    from ganfx.plugin.cli import plan

    if kind == "render":
        from ganfx.runtime.io import open_reader

        with open_reader(args.input) as r:
            first, last = plan.render_span(args, r.properties)
    else:
        first, last = plan.generate_span(args)
    args.plan = max(1, math.ceil((last - first + 1) / (4 * slots)))


def _connect(ray, address):
    """ray.init for a cluster address, or a local cluster of this machine's CPUs (GANFX_RAY_CPUS caps it)."""
    env = {k: v for k, v in os.environ.items() if k.startswith("GANFX_")}
    kw = dict(include_dashboard=False, log_to_driver=False, configure_logging=False,
              runtime_env={"env_vars": env} if env else None, ignore_reinit_error=True)
    if address in (None, "local"):
        cpus = int(os.environ.get("GANFX_RAY_CPUS") or os.cpu_count() or 1)
        return ray.init(num_cpus=cpus, **kw)
    return ray.init(address=address, **kw)


def ray_render(args, kind: str, model=None) -> int:
    """Render the plan's chunks on Ray, join them, print one summary line."""
    import time

    from ganfx.plugin.cli import plan
    from ganfx.plugin.cli.render_cmd import stop_on_sigterm
    from ganfx.runtime.errors import GanfxError, MediaIOError, UserInputError
    from ganfx.runtime.files import check_target

    if args.json is not None:
        raise UserInputError("--json prints a plan; --ray renders it (give one of them)")
    final = Path(args.output)
    sequence = kind != "sound" and plan.is_pattern(args.output)
    if not sequence:
        check_target(final, args.overwrite)  # refused before a cluster starts
    ray = _ray()
    start = time.perf_counter()
    _connect(ray, args.ray)
    work = None
    try:
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
        slots = max(1, gpus or cpus)
        _auto_chunk(args, kind, model, slots)
        if not sequence:  # segments go to a hidden folder beside the output, joined at the end
            work = final.with_name(f".{final.name}.ray-{os.getpid()}")
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            args.output = str(work / final.name)
        plan = _plan(args, kind, model)
        chunks = plan["chunks"]
        resume = sequence and not args.overwrite
        actor = ray.remote(num_cpus=0 if gpus else 1, num_gpus=1 if gpus else 0, max_restarts=-1,
                           max_task_retries=-1)(ChunkWorker)
        workers = [actor.remote() for _ in range(min(slots, len(chunks)))]
        stop_on_sigterm()
        unit = "smp" if kind == "sound" else "frame"
        total = plan["samples"] if kind == "sound" else plan["last"] - plan["first"] + 1
        bar = None
        if not args.quiet and args.progress == "bar":
            from tqdm import tqdm

            bar = tqdm(total=total, unit=unit, unit_scale=kind == "sound", desc=final.name, dynamic_ncols=True,
                       file=sys.stderr)
        pending, queue = {}, list(chunks)
        idle = list(workers)
        try:
            while queue or pending:
                while queue and idle:
                    w, c = idle.pop(), queue.pop(0)
                    pending[w.run.remote(kind, c["argv"], resume)] = (w, c)
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    w, c = pending.pop(ref)
                    try:
                        ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:
                        cause = exc.cause if isinstance(getattr(exc, "cause", None), Exception) else None
                        if isinstance(cause, GanfxError):
                            raise cause from None
                        raise MediaIOError(f"chunk {c['index']} failed on Ray: {str(exc).strip().splitlines()[-1]}",
                                           path=c["output"]) from None
                    idle.append(w)
                    if bar is not None:
                        bar.update(c["samples"] if kind == "sound" else c["frames"])
        finally:
            if bar is not None:
                bar.close()
        if plan["join"] is not None:
            from ganfx.plugin.cli import concat_cmd, build_parser

            join = plan["join"]["argv"]
            join = [a if a != str(work / final.name) else str(final) for a in join]
            jargs = build_parser().parse_args(join[1:])
            jargs.output, jargs.overwrite, jargs.quiet = str(final), args.overwrite, True
            concat_cmd.run(jargs)
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        ray.shutdown()
    if not args.quiet and args.progress == "bar":
        print(f"wrote {final}: {len(chunks)} chunks on {len(workers)} Ray worker{'s' if len(workers) != 1 else ''} "
              f"in {time.perf_counter() - start:.1f} s")
    return 0

