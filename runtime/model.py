"""Loading ganfx models and running them on frames.

    from ganfx.runtime import load_model
    fx = load_model("watercolor")                 # shipped name, GANFX_MODELS folder, or a path
    out = fx.apply(frame, strength=0.8, tile=512)     # [H,W,C] in -> [H,W,C] out, same dtype
    tex = load_model("brick").generate(3840, 2160, t=1.5, seed=3, tileable=True)

Names resolve in this order: an existing path; each folder of GANFX_MODELS (os.pathsep
separated); ~/.local/share/ganfx/models; the shipped models. `precision="fp16"` picks the
`<name>.fp16.onnx` variant written by `ganfx export --fp16`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import frames as F
from .contract import ModelSpec, read_spec
from .errors import ContractError, ModelLoadError, UserInputError
from .noise import NoiseField
from .providers import choose_providers, default_threads, onnxruntime, provider_options
from .tiling import TileGrid, round_up, spans

log = logging.getLogger("ganfx")

USER_MODELS_ENV = "GANFX_MODELS"
DEFAULT_MAX_PIXELS = 2048 * 2048  # larger frames are tiled automatically
DEFAULT_TILE = 1024


def model_folders() -> list:
    """Where model names are looked up, in order: (label, folder)."""
    out = []
    for folder in filter(None, os.environ.get(USER_MODELS_ENV, "").split(os.pathsep)):
        out.append(("user", Path(folder).expanduser()))
    out.append(("user", Path("~/.local/share/ganfx/models").expanduser()))
    from ganfx.exported_models import MODELS_DIR

    out.append(("shipped", MODELS_DIR))
    return out


def _variant(path: Path, precision: str) -> Path:
    if precision == "fp32":
        return path
    if precision != "fp16":
        raise UserInputError(f"precision must be fp32 or fp16, got {precision!r}")
    if path.name.endswith(".fp16.onnx"):
        return path
    fp16 = path.with_name(path.name[: -len(".onnx")] + ".fp16.onnx") if path.suffix == ".onnx" else path
    if not fp16.is_file():
        raise ModelLoadError(f"no fp16 variant ({fp16.name}); export one with `ganfx export --fp16`", path=path)
    return fp16


def resolve_model_path(name_or_path, precision: str = "fp32") -> Path:
    """A shipped/user model name or a file path -> the ONNX file to load."""
    text = os.fspath(name_or_path)
    candidate = Path(text).expanduser()
    looks_like_path = os.sep in text or "/" in text or text.endswith(".onnx")
    if candidate.exists() or looks_like_path:
        if not candidate.is_file():
            raise ModelLoadError("model file not found" if not candidate.exists() else "not a file", path=candidate)
        return _variant(candidate, precision)
    for _, folder in model_folders():
        path = folder / f"{text}.onnx"
        if path.is_file():
            return _variant(path, precision)
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
               spinning: bool = True) -> "Model":
    """Resolve, check and open a model; see the module docstring.

    `spinning=False` stops idle onnxruntime threads from busy-waiting: right when decoding and
    encoding threads share the cores (the render pipeline), where spinning steals their time.
    """
    path = resolve_model_path(name_or_path, precision)
    from .onnxfile import check_external_data, read_onnx_info

    info = read_onnx_info(path)
    check_external_data(path, info)
    spec = ModelSpec.from_metadata(info.metadata, path=path)
    spec.check_graph(info.inputs, info.outputs, path=path)
    chosen, reason = choose_providers(providers)
    log.info("%s: execution provider %s", path.name, reason)
    ort = onnxruntime()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if not spinning:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(path), sess_options=opts, providers=provider_options(chosen))
    except Exception as exc:  # onnxruntime raises its own untyped errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"onnxruntime cannot load it: {first}", path=path) from None
    return Model(path, spec, session, reason)


def _cell_spans(cells: int, window: int, halo: int, multiple: int) -> list:
    """Noise-cell windows for textures: (core start, core stop, window size), one size per axis.

    Noise exists beyond the image, so every core gets its full halo of cells on both sides.
    """
    core = window - 2 * halo
    count = -(-cells // core)
    window = round_up(-(-cells // count) + 2 * halo, multiple)  # as small as the count allows
    return [(sp.start, sp.stop, window) for sp in spans(cells, window - 2 * halo, 0)]


def _auto_tile(max_pixels: int) -> int:
    return max(64, min(DEFAULT_TILE, int(max_pixels**0.5)))


class Model:
    """An opened ganfx model: `apply` for effects, `generate` for textures, `run` for raw tensors."""

    def __init__(self, path: Path, spec: ModelSpec, session, provider_reason: str = ""):
        self.path, self.spec, self.session = Path(path), spec, session
        self.provider_reason = provider_reason
        self._in = spec.input
        self._out = spec.output
        self._np_in = np.float16 if self._in.dtype == "float16" else np.float32
        self.runs = 0  # network invocations, for hosts and tests

    @property
    def providers(self) -> list:
        return list(self.session.get_providers())

    def run(self, tensor: np.ndarray) -> np.ndarray:
        """One network call. # [N,C,H,W] in -> [N,C',H',W'] float32 out"""
        if tensor.ndim != 4 or tensor.shape[1] != self._in.channels:
            raise UserInputError(f"{self.path.name}: expected [N,{self._in.channels},H,W], got {list(tensor.shape)}")
        self.runs += 1
        out = self.session.run([self._out.name], {self._in.name: np.ascontiguousarray(tensor, dtype=self._np_in)})[0]
        return out.astype(np.float32, copy=False)

    # -- effects ------------------------------------------------------------------------
    def apply(self, frames, strength: float = 1.0, tile: int | None = None, feather: int = 0,
              colorspace: str = "srgb", max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
        """Apply an effect to one frame [H,W,C] or a batch [N,H,W,C]; same shape and dtype back.

        Tiles when `tile` is given or the frame exceeds `max_pixels`; alpha passes through.
        """
        if self.spec.kind != "effect":
            raise UserInputError(f"{self.spec.name} is a {self.spec.kind} model; use generate()")
        single = np.asarray(frames).ndim in (2, 3)
        batch = F.as_batch(frames)
        n, h, w, _ = batch.shape
        if tile is None and h * w > max_pixels:
            tile = _auto_tile(max_pixels)
        if tile is None:
            out = self._apply_whole(batch, strength, colorspace)
        else:
            out = np.stack([self._apply_tiled(f, strength, int(tile), int(feather), colorspace) for f in batch])
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

    def _effect_unit(self, src: np.ndarray, strength: float, colorspace: str) -> np.ndarray:
        """[N,h,w,C] source window -> [N,h,w,C'] effect output, 0..1 float, mixed by strength."""
        x, _ = F.to_tensor(src, self._in, colorspace)
        y = F.tensor_to_unit(self.run(x), self._out, colorspace)
        if y.shape[1:3] != src.shape[1:3]:
            raise ContractError(
                f"effect output is {y.shape[1]}x{y.shape[2]} for a {src.shape[1]}x{src.shape[2]} input", path=self.path
            )
        if strength >= 1.0:
            return y
        base = F.to_unit(F.split_alpha(src)[0])
        if base.shape[-1] != y.shape[-1]:
            base = np.repeat(base, y.shape[-1] // base.shape[-1], axis=-1)
        return base + np.float32(strength) * (y - base)

    def _apply_whole(self, batch, strength, colorspace):
        h, w = batch.shape[1:3]
        y = self._effect_unit(self._pad(batch), strength, colorspace)[:, :h, :w]
        return self._finish(y, batch)

    def _finish(self, y_unit, src):
        out = F.from_unit(y_unit, src.dtype)
        alpha = F.split_alpha(src)[1]
        if alpha is not None:
            out = np.concatenate([out, alpha], axis=-1)
        return out

    def _apply_tiled(self, frame, strength, tile, feather, colorspace):
        h, w = frame.shape[:2]
        padded = self._pad(frame[None])[0]
        try:
            grid = TileGrid(padded.shape[0], padded.shape[1], tile, self.spec.halo, self.spec.multiple, feather)
        except ValueError as exc:
            raise UserInputError(f"{self.spec.name}: {exc}") from None
        channels = self._out.channels
        if feather:
            acc = np.zeros(padded.shape[:2] + (channels,), np.float32)
            for t in grid:
                y = self._effect_unit(padded[t.src][None], strength, colorspace)[0][t.crop]
                acc[t.dst] += y * grid.weights(t)
            return self._finish(acc[None, :h, :w], frame[None])[0]
        out = np.empty(padded.shape[:2] + (channels,), frame.dtype)
        for t in grid:
            y = self._effect_unit(padded[t.src][None], strength, colorspace)[0][t.crop]
            out[t.dst] = F.from_unit(y, frame.dtype)
        alpha = F.split_alpha(frame[None])[1]
        out = out[:h, :w]
        return np.concatenate([out, alpha[0]], axis=-1) if alpha is not None else out

    # -- textures -----------------------------------------------------------------------
    def noise_field(self, seed: int = 0, loop: float | None = None, period: tuple | None = None) -> NoiseField:
        return NoiseField(seed=seed, channels=self.spec.noise.channels, period=period, loop=loop)

    def generate(self, width: int, height: int, t: float = 0.0, seed: int = 0, speed: float = 1.0,
                 loop: float | None = None, tileable: bool = False, scale: float = 1.0, tile: int | None = None,
                 dtype=np.float32, colorspace: str = "srgb", max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
        """Render a texture. # -> [height,width,C] of `dtype`

        `t` is animation time (seconds); the noise moves `speed` key fields per second and,
        with `loop` (seconds), returns exactly to t=0 after `loop`. `tileable` wraps the noise
        so the image repeats with period (height, width) — sizes must then be multiples of the
        noise stride. `tile` (pixels) renders window by window; the result is identical.
        """
        if self.spec.kind != "texture":
            raise UserInputError(f"{self.spec.name} is an {self.spec.kind} model; use apply()")
        width, height = int(width), int(height)
        if width < 1 or height < 1:
            raise UserInputError(f"size must be positive, got {width}x{height}")
        if scale != 1.0:
            import cv2

            if scale <= 0:
                raise UserInputError(f"scale must be positive, got {scale}")
            small = self.generate(max(1, round(width / scale)), max(1, round(height / scale)), t, seed, speed, loop,
                                  tileable, 1.0, tile, np.float32, colorspace, max_pixels)
            interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
            big = cv2.resize(small, (width, height), interpolation=interp)
            big = big[..., None] if big.ndim == 2 else big
            return F.from_unit(big, dtype)
        s, halo, m = self.spec.noise.stride, self.spec.noise.halo, self.spec.multiple
        cells_y, cells_x = -(-height // s), -(-width // s)
        period = None
        if tileable:
            if height % s or width % s:
                raise UserInputError(f"tileable output needs width and height multiples of {s}, got {width}x{height}")
            period = (cells_y, cells_x)
        field = self.noise_field(seed, None if not loop else loop * speed, period)
        nt = float(t) * float(speed)
        if tile is None and width * height > max_pixels:
            tile = _auto_tile(max_pixels)
        if tile is None:
            rows = [(0, cells_y, round_up(cells_y + 2 * halo, m))]
            cols = [(0, cells_x, round_up(cells_x + 2 * halo, m))]
        else:
            win = max(round_up(max(int(tile) // s, 1), m), round_up(2 * halo + 1, m))
            rows, cols = _cell_spans(cells_y, win, halo, m), _cell_spans(cells_x, win, halo, m)
        out = np.empty((cells_y * s, cells_x * s, self._out.channels), np.dtype(dtype))
        for c0y, c1y, wy in rows:
            for c0x, c1x, wx in cols:
                noise = field.window(c0y - halo, c0x - halo, wy, wx, nt)
                y = F.tensor_to_unit(self.run(noise[None]), self._out, colorspace)[0]
                if y.shape[0] != wy * s or y.shape[1] != wx * s:
                    raise ContractError(
                        f"texture output is {y.shape[0]}x{y.shape[1]} for {wy}x{wx} noise cells, "
                        f"ganfx.noise stride {s} says {wy * s}x{wx * s}", path=self.path)
                crop = y[halo * s : (halo + c1y - c0y) * s, halo * s : (halo + c1x - c0x) * s]
                out[c0y * s : c1y * s, c0x * s : c1x * s] = F.from_unit(crop, dtype)
        return out[:height, :width]
