"""Loading ganfx models and running them on frames.

    from ganfx.runtime import load_model
    fx = load_model("watercolor")                 # shipped name, GANFX_MODELS folder, or a path
    out = fx.apply(frame, strength=0.8, tile=512)     # [H,W,C] in -> [H,W,C] out, same dtype
    out = fx.apply(frame, matte=matte)                # [H,W] matte 0..1: 0 keeps the source, 1 the effect
    tex = load_model("redbrick").generate(3840, 2160, t=1.5, seed=3, tileable=True)
    wav = load_model("fire").sound(48000 * 10, seed=3, loop=48000 * 10)   # [channels, samples] (runtime/sound.py)

Names resolve in this order: an existing path; each folder of GANFX_MODELS (os.pathsep
separated); ~/.local/share/ganfx/models; the shipped models. `precision="fp16"` on onnxruntime
picks the `<name>.fp16.onnx` variant written by `ganfx export --fp16`; `engine=` and
`precision="bf16"|"auto"` choose the engine (runtime/engines.py):

    fx = load_model("watercolor", precision="auto")   # the fastest engine here within 2/255 of fp32
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import frames as F
from .contract import ModelSpec, read_checked, read_spec
from .errors import ContractError, ModelLoadError, UserInputError
from .files import check_regular_file, folders_from_env
from .noise import NoiseField
from .tiling import TileGrid, round_up

log = logging.getLogger("ganfx")

USER_MODELS_ENV = "GANFX_MODELS"
DEFAULT_MAX_PIXELS = 2048 * 2048  # larger frames are tiled automatically
DEFAULT_TILE = 1024
_METHODS = {"effect": "apply()", "texture": "generate()", "sound": "sound()"}  # what renders each kind


def model_folders() -> list:
    """Where model names are looked up, in order: (label, folder)."""
    out = [("user", folder) for folder in folders_from_env(USER_MODELS_ENV)]
    out.append(("user", Path("~/.local/share/ganfx/models").expanduser()))
    from ganfx.exported_models import MODELS_DIR

    out.append(("shipped", MODELS_DIR))
    return out


def _variant(path: Path, precision: str) -> Path:
    """The file of a precision: fp16 -> the .fp16.onnx variant; fp32, bf16 and auto -> the model itself
    (bf16 is a choice of the engine, auto chooses one; runtime/engines.py)."""
    if precision in ("fp32", "bf16", "auto"):
        return path
    if precision != "fp16":
        raise UserInputError(f"precision must be fp32, fp16, bf16 or auto, got {precision!r}", about="precision")
    if path.name.endswith(".fp16.onnx"):
        return path
    fp16 = path.with_name(path.name[: -len(".onnx")] + ".fp16.onnx") if path.suffix == ".onnx" else path
    if not fp16.is_file():
        raise ModelLoadError(f"no fp16 variant ({fp16.name}) beside it; export one in fp16", path=path,
                             about="precision")
    return fp16


def resolve_model_path(name_or_path, precision: str = "fp32") -> Path:
    """A shipped/user model name or a file path -> the ONNX file to load."""
    text = os.fspath(name_or_path)
    if not text.strip():
        raise ModelLoadError("the model name is empty; give a model name or a path to an .onnx file")
    candidate = Path(text).expanduser()
    looks_like_path = os.sep in text or "/" in text or text.endswith(".onnx")
    if candidate.is_file() or looks_like_path:  # a folder or pipe called like a model is no model: look it up
        return _variant(check_regular_file(candidate, ModelLoadError, missing="model file not found"), precision)
    for _, folder in model_folders():
        path = folder / f"{text}.onnx"
        if os.path.lexists(path):  # a pipe or folder of that name is refused by name, never opened
            return _variant(check_regular_file(path, ModelLoadError, missing="model file not found"), precision)
    known = ", ".join(sorted({m.name for m in list_models()})) or "none"
    raise ModelLoadError(f"no model named {text!r} (known models: {known}; or give a path to an .onnx file)")


@dataclass
class ModelEntry:
    name: str
    source: str  # "shipped" | "user"
    path: Path
    spec: ModelSpec | None
    error: str = ""  # why the spec could not be read


def list_models() -> list:
    """Every model the name lookup can see (shadowed names included once, first wins)."""
    seen, out = set(), []
    for source, folder in model_folders():
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.onnx")):
            if path.name.endswith(".fp16.onnx") or path.stem in seen:
                continue
            seen.add(path.stem)
            try:
                out.append(ModelEntry(path.stem, source, path, read_spec(path)))
            except (ContractError, ModelLoadError) as exc:
                out.append(ModelEntry(path.stem, source, path, None, str(exc.message)))
    return out


def load_model(name_or_path, providers=None, precision: str = "fp32", threads: int | None = None,
               spinning: bool = True, engine: str | None = None, options=None) -> "Model":
    """Resolve, check and open a model; see the module docstring.

    `engine` is "onnxruntime", "openvino" or "auto"; `precision` fp32, fp16, bf16 or auto
    (runtime/engines.py: with no engine named, fp32/fp16 run on onnxruntime, bf16 on OpenVINO,
    auto on the fastest engine within 2/255 of fp32). `providers` are onnxruntime execution
    providers, or the OpenVINO device (cpu, gpu) with engine="openvino"; `options` an
    OrtOptions/OpenVinoOptions for everything else. `spinning=False` stops idle onnxruntime
    threads from busy-waiting: right when decoding and encoding threads share the cores (the
    render pipeline), where spinning steals their time.
    """
    from .engines import OpenVinoOptions, check_precision, normalize_engine, open_engine, settings

    precision = check_precision(precision)
    name = normalize_engine(engine) or ("openvino" if isinstance(options, OpenVinoOptions) else None)
    config = settings(name, options, providers, threads, spinning)
    base = resolve_model_path(name_or_path, "fp32")
    on_ort = name in (None, "onnxruntime") and precision == "fp16" and config.provider != "TensorrtExecutionProvider"
    path = _variant(base, "fp16") if on_ort else base  # the refusal of a missing variant names it, as always
    spec, _ = read_checked(path)  # contract, graph, external data and weights digest
    eng = open_engine(path, spec, name, precision, config)
    if eng.name == "onnxruntime" and eng.precision == "fp16" and getattr(eng, "file", path) != path:
        spec, _ = read_checked(eng.file)  # fp16 on CUDA chose the variant: its own contract (float16 io)
        path = eng.file
    log.info("%s: engine %s", path.name, eng.reason)
    return Model(path, spec, eng)


def _auto_tile(max_pixels: int) -> int:
    return max(64, min(DEFAULT_TILE, int(max_pixels**0.5)))


class Model:
    """An opened ganfx model: `apply` for effects, `generate` for textures, `sound` for sounds, `run` for raw tensors."""

    def __init__(self, path: Path, spec: ModelSpec, engine, provider_reason: str = ""):
        """`engine`: an Engine (runtime/engines.py), or an onnxruntime InferenceSession (wrapped in one)."""
        from .engines import Engine

        if not isinstance(engine, Engine):
            from .engine_onnxruntime import OrtEngine

            engine = OrtEngine(path, spec, session=engine, reason=provider_reason)
        self.path, self.spec, self.engine = Path(path), spec, engine
        self.session = engine.session  # the onnxruntime session where the engine has one (None on OpenVINO)
        self.provider_reason = provider_reason or engine.reason
        self._in = spec.input
        self._out = spec.output
        self._np_in = np.float16 if self._in.dtype == "float16" else np.float32
        # A graph exported with a fixed batch of 1 takes frames one by one; a dynamic one all at once.
        self.max_batch = engine.max_batch
        self.runs = 0  # network invocations, for hosts and tests

    @property
    def providers(self) -> list:
        """Where it runs: onnxruntime's execution providers, or ["OpenVINO:CPU"]."""
        return list(self.engine.providers)

    @property
    def precision(self) -> str:
        return self.engine.precision

    def run(self, tensor: np.ndarray) -> np.ndarray:
        """One network call per batch. # [N,C,H,W] in -> [N,C',H',W'] float32 out (sound: [N,C,L] -> [N,C',L'])"""
        rank = len(self._in.layout)
        if tensor.ndim != rank or tensor.shape[1] != self._in.channels:
            dims = "H,W" if rank == 4 else "L"
            raise UserInputError(f"{self.path.name}: expected [N,{self._in.channels},{dims}], got {list(tensor.shape)}")
        step = self.max_batch or tensor.shape[0]
        outs = []
        for i in range(0, tensor.shape[0], step):
            self.runs += 1
            x = np.ascontiguousarray(tensor[i : i + step], dtype=self._np_in)
            outs.append(self.engine.run(x))
        out = outs[0] if len(outs) == 1 else np.concatenate(outs)
        return out.astype(np.float32, copy=False)

    def _require(self, kind: str) -> None:
        """UserInputError naming the method that does suit this model's kind."""
        if self.spec.kind != kind:
            raise UserInputError(f"{self.spec.name} is {self.spec.what}; use {_METHODS[self.spec.kind]}")

    # -- effects ------------------------------------------------------------------------
    def apply(self, frames, strength: float = 1.0, tile: int | None = None, feather: int = 0,
              colorspace: str = "srgb", max_pixels: int = DEFAULT_MAX_PIXELS, dtype=None,
              out_colorspace: str | None = None, channels: int | None = None, matte=None) -> np.ndarray:
        """Apply an effect to one frame [H,W,C] or a batch [N,H,W,C] (one network call per tile).

        The output is `dtype` in `out_colorspace` with `channels` (default: as the input); alpha
        passes through untouched. Tiles when `tile` is given or a frame exceeds `max_pixels`.
        Each pixel is source + w * (effect - source), mixed in the source's colour space, with
        w = strength (0..1) times the `matte` where one is given: [H,W(,1)] for every frame or
        [N,H,W(,1)], uint8/uint16/float 0..1 (frames.as_matte). Matte 0 is the source exactly.

            out = fx.apply(frame, strength=0.8, matte=alpha_of_the_roto)   # [H,W,C] + [H,W] -> [H,W,C]
        """
        self._require("effect")
        single = np.asarray(frames).ndim in (2, 3)
        batch = F.as_batch(frames)
        n, h, w, c = batch.shape
        dtype = np.dtype(dtype or batch.dtype)
        out_colorspace = out_colorspace or colorspace
        channels = channels or (4 if c == 4 else self._out.channels)
        if tile is None and h * w > max_pixels:
            tile = _auto_tile(max_pixels)
        padded = self._pad(batch)
        mix = self._mix(strength, matte, batch.shape)  # [N|1,H',W',1] over the padded frames
        mixing = bool(mix.min() < 1)  # decided per call: every tile takes the same colour path
        try:  # one window shape for every tile, origins on the size multiple
            grid = TileGrid(padded.shape[1], padded.shape[2], int(tile or max(padded.shape[1:3])),
                            self.spec.halo, self.spec.multiple, int(feather))
        except ValueError as exc:
            raise UserInputError(f"{self.spec.name}: {exc}") from None
        if feather:  # blended tiles: accumulate in float, convert once at the end
            acc = np.zeros(padded.shape[:3] + (self._out.channels,), np.float32)
            for t in grid:
                window = (slice(None),) + t.src
                y = self._effect_unit(padded[window], mix[window], mixing, colorspace, colorspace)
                acc[(slice(None),) + t.dst] += y[(slice(None),) + t.crop] * grid.weights(t)
            out = self._finish(F.convert_colorspace(acc[:, :h, :w], colorspace, out_colorspace), batch, dtype, channels)
        else:
            out = np.empty((n, padded.shape[1], padded.shape[2], self._out.channels), dtype)
            for t in grid:
                window = (slice(None),) + t.src
                y = self._effect_unit(padded[window], mix[window], mixing, colorspace, out_colorspace)
                out[(slice(None),) + t.dst] = F.from_unit(y[(slice(None),) + t.crop], dtype)
            out = self._finish(out[:, :h, :w], batch, dtype, channels, converted=True)
        return out[0] if single else out

    def _pad(self, batch: np.ndarray) -> np.ndarray:
        """Reflect-pad [N,H,W,C] on the bottom/right up to the size multiple."""
        m = self.spec.multiple
        h, w = batch.shape[1:3]
        ph, pw = round_up(h, m) - h, round_up(w, m) - w
        if not (ph or pw):
            return batch
        mode = "reflect" if ph < h and pw < w else "edge"
        return np.pad(batch, ((0, 0), (0, ph), (0, pw), (0, 0)), mode=mode)

    def _mix(self, strength: float, matte, shape: tuple) -> np.ndarray:
        """Each pixel's share of the effect, 0..1: strength times the matte. # [N|1,H',W',1] float32, padded"""
        s = np.float32(np.clip(strength, 0.0, 1.0))
        if matte is None:  # one value for every pixel: a view, no memory
            m = self.spec.multiple
            return np.broadcast_to(s, (1, round_up(shape[1], m), round_up(shape[2], m), 1))
        return s * self._pad(F.as_matte(matte, shape))

    def _effect_unit(self, src: np.ndarray, mix: np.ndarray, mixing: bool, colorspace: str,
                     out_colorspace: str) -> np.ndarray:
        """[N,h,w,C] source window, [N|1,h,w,1] its share of the effect -> [N,h,w,C'] 0..1 float in `out_colorspace`."""
        x, _ = F.to_tensor(src, self._in, colorspace)
        # Mixing happens in the source's colour space; without it, straight to the output's.
        y = F.tensor_to_unit(self.run(x), self._out, colorspace if mixing else out_colorspace)
        if y.shape[1:3] != src.shape[1:3]:
            raise ContractError(
                f"effect output is {y.shape[1]}x{y.shape[2]} for a {src.shape[1]}x{src.shape[2]} input", path=self.path
            )
        if not mixing:
            return y
        base = F.to_unit(F.split_alpha(src)[0])
        if base.shape[-1] != y.shape[-1]:
            base = np.repeat(base, y.shape[-1] // base.shape[-1], axis=-1)
        # (1 - w) * source + w * effect rather than source + w * (effect - source): exact at both
        # ends, so matte 0 gives the source bit for bit and matte 1 the effect.
        return F.convert_colorspace((1 - mix) * base + mix * y, colorspace, out_colorspace)

    def _finish(self, y, src, dtype, channels, converted: bool = False):
        """Colour [N,H,W,C'] (0..1 float, or already `dtype`) + the source's alpha -> `dtype` with `channels`."""
        out = y if converted else F.from_unit(y, dtype)
        alpha = F.split_alpha(src)[1]
        if alpha is not None and channels == 4:
            return np.concatenate([out, alpha if alpha.dtype == dtype else F.from_unit(F.to_unit(alpha), dtype)], axis=-1)
        return F.fit_channels(out, channels)

    # -- textures -----------------------------------------------------------------------
    def noise_field(self, seed: int = 0, loop: float | None = None, period: tuple | None = None) -> NoiseField:
        return NoiseField(seed=seed, channels=self.spec.noise.channels, period=period, loop=loop,
                          waves=self.spec.noise.waves, still=self.spec.noise.still)

    def generate(self, width: int, height: int, t=0.0, seed: int = 0, speed: float = 1.0,
                 loop: float | None = None, tileable: bool = False, tile: int | None = None,
                 dtype=np.float32, colorspace: str = "srgb", max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
        """Render a texture. # -> [height,width,C] of `dtype`; [N,height,width,C] when `t` is a sequence

        `t` is animation time (seconds; several times render as one batch per window); the
        noise moves `speed` key fields per second and, with `loop` (seconds), returns exactly to
        t=0 after `loop`. `tileable` wraps the noise so the image repeats with period
        (height, width) — sizes must then be multiples of the noise stride. `tile` (pixels)
        renders window by window; the result is identical.
        """
        self._require("texture")
        times = [float(x) for x in np.atleast_1d(np.asarray(t, dtype=np.float64))]
        single = np.ndim(t) == 0
        width, height = int(width), int(height)
        if width < 1 or height < 1:
            raise UserInputError(f"size must be positive, got {width}x{height}")
        s, halo, m = self.spec.noise.stride, self.spec.noise.halo, self.spec.multiple
        cells_y, cells_x = -(-height // s), -(-width // s)
        period = None
        if tileable:
            if height % s or width % s:
                raise UserInputError(f"tileable output needs width and height multiples of {s}, got {width}x{height}")
            period = (cells_y, cells_x)
        field = self.noise_field(seed, None if not loop else loop * speed, period)
        if tile is None and width * height > max_pixels:
            tile = _auto_tile(max_pixels)
        # Noise exists beyond the image: tile the cell grid grown by the halo on every side (on
        # the size multiple), so every kept cell has its full halo of noise around it.
        span_y, span_x = round_up(cells_y + 2 * halo, m), round_up(cells_x + 2 * halo, m)
        win = max(span_y, span_x) if tile is None else max(int(tile) // s, 2 * round_up(halo, m) + m)
        try:
            grid = TileGrid(span_y, span_x, win, halo, m)
        except ValueError as exc:
            raise UserInputError(f"{self.spec.name}: {exc}") from None
        out = np.empty((len(times), cells_y * s, cells_x * s, self._out.channels), np.dtype(dtype))
        for tl in grid:
            (sy, sx), (dy, dx) = tl.src, tl.dst
            wy, wx = sy.stop - sy.start, sx.stop - sx.start
            # kept cells inside the image (cell c of the image is cell c + halo of the grid)
            ky0, ky1 = max(dy.start, halo), min(dy.stop, halo + cells_y)
            kx0, kx1 = max(dx.start, halo), min(dx.stop, halo + cells_x)
            if ky0 >= ky1 or kx0 >= kx1:
                continue
            noise = np.stack([field.window(sy.start - halo, sx.start - halo, wy, wx, nt * float(speed))
                              for nt in times])
            y = F.tensor_to_unit(self.run(noise), self._out, colorspace)
            if y.shape[1] != wy * s or y.shape[2] != wx * s:
                raise ContractError(
                    f"texture output is {y.shape[1]}x{y.shape[2]} for {wy}x{wx} noise cells, "
                    f"ganfx.noise stride {s} says {wy * s}x{wx * s}", path=self.path)
            crop = y[:, (ky0 - sy.start) * s : (ky1 - sy.start) * s, (kx0 - sx.start) * s : (kx1 - sx.start) * s]
            out[:, (ky0 - halo) * s : (ky1 - halo) * s, (kx0 - halo) * s : (kx1 - halo) * s] = F.from_unit(crop, dtype)
        out = out[:, :height, :width]
        return out[0] if single else out

    # -- sounds -------------------------------------------------------------------------
    def sound_renderer(self, seed: int = 0, loop: int | None = None):
        """A SoundRenderer (runtime/sound.py) for one seed and loop length in samples."""
        from .sound import SoundRenderer

        self._require("sound")
        return SoundRenderer(self, seed=seed, loop=loop)

    def sound(self, count: int, first: int = 0, seed: int = 0, loop: int | None = None,
              gain_db: float = 0.0) -> np.ndarray:
        """Samples [first, first+count) of a sound at the model's rate. # -> [channels, count] float32 -1..1

        Any span equals the same samples of a whole render; with `loop` (samples, a multiple of
        the noise stride) position `loop` is position 0 again. `gain_db` scales, then clips."""
        from .sound import gain_factor

        y = self.sound_renderer(seed, loop).render(first, count)
        if gain_db:
            y = np.clip(y * gain_factor(gain_db), -1.0, 1.0)
        return y
