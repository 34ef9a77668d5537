"""The ganfx model contract: ONNX metadata that makes an exported generator self-describing.

Keys (schema 1, values are strings, JSON where structured) — see DESIGN.md:

    ganfx.schema "1" · ganfx.kind "effect"|"texture" · ganfx.name/version/description/license
    ganfx.io JSON {"inputs": [TensorSpec], "outputs": [TensorSpec]}
    ganfx.halo int · ganfx.multiple int · ganfx.noise JSON (texture only)
    ganfx.params JSON [ParamSpec] · ganfx.training JSON · ganfx.parity float

Reading needs no `onnx` package:

    spec = read_spec("exported_models/brick.onnx")   # raises ContractError naming file and key
    spec.kind, spec.halo, [p.name for p in spec.params]

Writing is the trainer's: `spec.to_metadata()` gives the key/value strings to store.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field

from .errors import ContractError

SCHEMA = "1"
KINDS = ("effect", "texture")
COLORSPACES = ("srgb", "linear", "none")
DTYPES = ("float32", "float16")
PARAM_TYPES = ("double", "int", "bool", "choice", "rgb", "string", "file", "seed")
REQUIRED_KEYS = (
    "ganfx.schema",
    "ganfx.kind",
    "ganfx.name",
    "ganfx.version",
    "ganfx.description",
    "ganfx.license",
    "ganfx.io",
    "ganfx.halo",
    "ganfx.multiple",
    "ganfx.params",
    "ganfx.training",
    "ganfx.parity",
)


@dataclass(frozen=True)
class TensorSpec:
    name: str  # graph input/output name
    channels: int  # C of [N,C,H,W]
    range: tuple = (0.0, 1.0)  # values the network sees/produces for black..white
    colorspace: str = "srgb"  # "srgb" | "linear" | "none" (noise)
    dtype: str = "float32"  # element type at the graph boundary
    layout: str = "NCHW"


@dataclass(frozen=True)
class NoiseSpec:
    channels: int  # noise channels per cell
    stride: int  # output pixels per noise cell
    halo: int  # cells of context needed on each side for exact tiling


@dataclass(frozen=True)
class ParamSpec:
    name: str  # identifier used by --param name=value and hosts
    type: str  # one of PARAM_TYPES
    default: object = None
    min: float | None = None
    max: float | None = None
    label: str = ""  # shown by hosts; defaults to the name
    choices: tuple = ()  # for type "choice"
    animatable: bool = False  # may change from frame to frame
    help: str = ""

    def coerce(self, value):
        """Turn a user value (often a string from the CLI) into this parameter's type, checked."""
        from .errors import UserInputError

        def bad(why):
            return UserInputError(f"parameter {self.name}: {why}")

        try:
            if self.type == "double":
                v = float(value)
            elif self.type in ("int", "seed"):
                v = int(value)
            elif self.type == "bool":
                if isinstance(value, str):
                    low = value.strip().lower()
                    if low not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                        raise bad(f"expected true/false, got {value!r}")
                    v = low in ("1", "true", "yes", "on")
                else:
                    v = bool(value)
            elif self.type == "rgb":
                parts = value.split(",") if isinstance(value, str) else list(value)
                if len(parts) != 3:
                    raise bad(f"expected r,g,b, got {value!r}")
                v = tuple(float(p) for p in parts)
            elif self.type == "choice":
                v = str(value)
                if v not in self.choices:
                    raise bad(f"expected one of {', '.join(self.choices)}, got {v!r}")
            else:
                v = str(value)
        except (TypeError, ValueError):
            raise bad(f"expected a {self.type}, got {value!r}") from None
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if not math.isfinite(v):
                raise bad(f"must be finite, got {value!r}")
            if self.min is not None and v < self.min:
                raise bad(f"{v} is below the minimum {self.min}")
            if self.max is not None and v > self.max:
                raise bad(f"{v} is above the maximum {self.max}")
        return v


@dataclass(frozen=True)
class ModelSpec:
    kind: str  # "effect" | "texture"
    name: str
    version: str
    description: str
    license: str
    inputs: tuple  # (TensorSpec, ...)
    outputs: tuple  # (TensorSpec, ...)
    halo: int  # pixels of context per side (effect) — for textures see noise.halo
    multiple: int  # spatial size multiple the graph needs
    params: tuple = ()  # (ParamSpec, ...)
    noise: NoiseSpec | None = None  # texture only
    training: dict = field(default_factory=dict)
    parity: float | None = None
    schema: str = SCHEMA

    @property
    def input(self) -> TensorSpec:
        return self.inputs[0]

    @property
    def output(self) -> TensorSpec:
        return self.outputs[0]

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)

    def param_defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def coerce_params(self, values: dict) -> dict:
        """Defaults overlaid with `values`, each checked; unknown names are refused."""
        return coerce_values(self.params, values, f"model {self.name}")

    # -- metadata ---------------------------------------------------------------------
    def to_metadata(self) -> dict:
        """The contract as ONNX metadata_props (str -> str)."""
        md = {
            "ganfx.schema": self.schema,
            "ganfx.kind": self.kind,
            "ganfx.name": self.name,
            "ganfx.version": self.version,
            "ganfx.description": self.description,
            "ganfx.license": self.license,
            "ganfx.io": json.dumps(
                {"inputs": [_tensor_json(t) for t in self.inputs], "outputs": [_tensor_json(t) for t in self.outputs]}
            ),
            "ganfx.halo": str(int(self.halo)),
            "ganfx.multiple": str(int(self.multiple)),
            "ganfx.params": json.dumps([_param_json(p) for p in self.params]),
            "ganfx.training": json.dumps(self.training, sort_keys=True),
            "ganfx.parity": "" if self.parity is None else repr(float(self.parity)),
        }
        if self.noise is not None:
            md["ganfx.noise"] = json.dumps(asdict(self.noise))
        return md

    @classmethod
    def from_metadata(cls, md: dict, path: str | os.PathLike | None = None) -> "ModelSpec":
        """Parse and validate the contract; ContractError names the file and the key."""

        def fail(key, why):
            raise ContractError(f"{why} in key {key!r}" if key else why, path=path)

        if not any(k.startswith("ganfx.") for k in md):
            fail(None, "no ganfx contract in the ONNX metadata (not exported by ganfx, or metadata stripped)")
        for key in REQUIRED_KEYS:
            if key not in md:
                fail(None, f"missing key {key!r}")
        if md["ganfx.schema"] != SCHEMA:
            fail("ganfx.schema", f"unsupported schema {md['ganfx.schema']!r} (this runtime reads {SCHEMA!r})")
        kind = md["ganfx.kind"]
        if kind not in KINDS:
            fail("ganfx.kind", f"invalid value {kind!r} (expected effect or texture)")
        for key in ("ganfx.name", "ganfx.version"):
            if not md[key].strip():
                fail(key, "empty value")
        halo = _int(md["ganfx.halo"], "ganfx.halo", fail, minimum=0)
        multiple = _int(md["ganfx.multiple"], "ganfx.multiple", fail, minimum=1)

        io = _json(md["ganfx.io"], "ganfx.io", fail)
        if not isinstance(io, dict) or not io.get("inputs") or not io.get("outputs"):
            fail("ganfx.io", "expected an object with non-empty 'inputs' and 'outputs' lists")
        inputs = tuple(_tensor(t, "ganfx.io", fail) for t in io["inputs"])
        outputs = tuple(_tensor(t, "ganfx.io", fail) for t in io["outputs"])

        params_raw = _json(md["ganfx.params"], "ganfx.params", fail)
        if not isinstance(params_raw, list):
            fail("ganfx.params", "expected a JSON list")
        params = tuple(_param(p, fail) for p in params_raw)
        names = [p.name for p in params]
        if len(set(names)) != len(names):
            fail("ganfx.params", "duplicate parameter names")

        training = _json(md["ganfx.training"], "ganfx.training", fail)
        if not isinstance(training, dict):
            fail("ganfx.training", "expected a JSON object")
        parity = None
        if md["ganfx.parity"].strip():
            try:
                parity = float(md["ganfx.parity"])
            except ValueError:
                fail("ganfx.parity", f"not a number: {md['ganfx.parity']!r}")

        noise = None
        if kind == "texture":
            if "ganfx.noise" not in md:
                fail(None, "missing key 'ganfx.noise' (required for texture models)")
            n = _json(md["ganfx.noise"], "ganfx.noise", fail)
            if not isinstance(n, dict):
                fail("ganfx.noise", "expected a JSON object")
            try:
                noise = NoiseSpec(channels=int(n["channels"]), stride=int(n["stride"]), halo=int(n["halo"]))
            except (KeyError, TypeError, ValueError) as exc:
                fail("ganfx.noise", f"needs integer channels, stride, halo ({exc})")
            if noise.channels < 1 or noise.stride < 1 or noise.halo < 0:
                fail("ganfx.noise", "channels and stride must be >= 1 and halo >= 0")
            if inputs[0].channels != noise.channels:
                fail("ganfx.noise", f"{noise.channels} noise channels but input has {inputs[0].channels}")
        return cls(
            kind=kind,
            name=md["ganfx.name"],
            version=md["ganfx.version"],
            description=md["ganfx.description"],
            license=md["ganfx.license"],
            inputs=inputs,
            outputs=outputs,
            halo=halo,
            multiple=multiple,
            params=params,
            noise=noise,
            training=training,
            parity=parity,
            schema=md["ganfx.schema"],
        )

    def check_graph(self, graph_inputs: list, graph_outputs: list, path=None) -> None:
        """Check the spec against the graph's real inputs/outputs: names, rank 4, channels."""
        for role, specs, graph in (("input", self.inputs, graph_inputs), ("output", self.outputs, graph_outputs)):
            real = {name: dims for name, dims in graph}
            declared = [t.name for t in specs]
            if sorted(real) != sorted(declared):
                raise ContractError(
                    f"ganfx.io declares {role}s {declared} but the graph has {sorted(real)}", path=path
                )
            for t in specs:
                dims = real[t.name]
                if len(dims) != 4:
                    raise ContractError(f"graph {role} {t.name!r} has rank {len(dims)}, ganfx.io needs NCHW (rank 4)", path=path)
                if isinstance(dims[1], int) and dims[1] != t.channels:
                    raise ContractError(
                        f"graph {role} {t.name!r} has {dims[1]} channels, ganfx.io declares {t.channels}", path=path
                    )


def coerce_values(params, values: dict, owner: str) -> dict:
    """Defaults of `params` overlaid with `values` (strings allowed), each coerced and checked."""
    from .errors import UserInputError

    out = {p.name: p.default for p in params}
    by_name = {p.name: p for p in params}
    for key, value in (values or {}).items():
        p = by_name.get(key)
        if p is None:
            known = ", ".join(by_name) or "none"
            raise UserInputError(f"{owner} has no parameter {key!r} (parameters: {known})")
        out[key] = p.coerce(value)
    return out


def read_spec(path: str | os.PathLike) -> ModelSpec:
    """Read and validate the contract of an ONNX file (no onnxruntime, no onnx needed)."""
    from .onnxfile import read_onnx_info

    info = read_onnx_info(path)
    spec = ModelSpec.from_metadata(info.metadata, path=path)
    spec.check_graph(info.inputs, info.outputs, path=path)
    return spec


# -- helpers -------------------------------------------------------------------------------
def _int(text, key, fail, minimum):
    try:
        value = int(text)
    except (TypeError, ValueError):
        fail(key, f"not an integer: {text!r}")
    if value < minimum:
        fail(key, f"must be >= {minimum}, got {value}")
    return value


def _json(text, key, fail):
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        fail(key, f"invalid JSON ({exc.msg if hasattr(exc, 'msg') else exc})")


def _tensor(d, key, fail) -> TensorSpec:
    if not isinstance(d, dict):
        fail(key, "each tensor must be a JSON object")
    try:
        t = TensorSpec(
            name=str(d["name"]),
            channels=int(d["channels"]),
            range=tuple(float(x) for x in d.get("range", (0.0, 1.0))),
            colorspace=str(d.get("colorspace", "srgb")),
            dtype=str(d.get("dtype", "float32")),
            layout=str(d.get("layout", "NCHW")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        fail(key, f"tensor needs name and channels ({exc})")
    if t.layout != "NCHW":
        fail(key, f"tensor {t.name!r}: layout {t.layout!r} (only NCHW)")
    if t.colorspace not in COLORSPACES:
        fail(key, f"tensor {t.name!r}: colorspace {t.colorspace!r} (expected {'/'.join(COLORSPACES)})")
    if t.dtype not in DTYPES:
        fail(key, f"tensor {t.name!r}: dtype {t.dtype!r} (expected {'/'.join(DTYPES)})")
    if len(t.range) != 2 or not t.range[0] < t.range[1]:
        fail(key, f"tensor {t.name!r}: range must be [low, high] with low < high")
    if t.channels < 1:
        fail(key, f"tensor {t.name!r}: channels must be >= 1")
    return t


def _tensor_json(t: TensorSpec) -> dict:
    d = asdict(t)
    d["range"] = list(t.range)
    return d


def _param(d, fail) -> ParamSpec:
    key = "ganfx.params"
    if not isinstance(d, dict) or "name" not in d or "type" not in d:
        fail(key, "each parameter needs 'name' and 'type'")
    if d["type"] not in PARAM_TYPES:
        fail(key, f"parameter {d['name']!r}: type {d['type']!r} (expected {'/'.join(PARAM_TYPES)})")
    try:
        p = ParamSpec(
            name=str(d["name"]),
            type=d["type"],
            default=d.get("default"),
            min=None if d.get("min") is None else float(d["min"]),
            max=None if d.get("max") is None else float(d["max"]),
            label=str(d.get("label") or d["name"]),
            choices=tuple(str(c) for c in d.get("choices", ())),
            animatable=bool(d.get("animatable", False)),
            help=str(d.get("help", "")),
        )
    except (TypeError, ValueError) as exc:
        fail(key, f"parameter {d['name']!r}: {exc}")
    if p.type == "choice" and not p.choices:
        fail(key, f"parameter {p.name!r}: choice needs 'choices'")
    if p.default is not None:
        try:
            p.coerce(p.default)
        except Exception as exc:  # noqa: BLE001 - reported as a contract error
            fail(key, f"default invalid ({exc})")
    return p


def _param_json(p: ParamSpec) -> dict:
    d = {"name": p.name, "type": p.type, "default": p.default, "label": p.label or p.name}
    if p.min is not None:
        d["min"] = p.min
    if p.max is not None:
        d["max"] = p.max
    if p.choices:
        d["choices"] = list(p.choices)
    if p.animatable:
        d["animatable"] = True
    if p.help:
        d["help"] = p.help
    return d


def effect_params(strength: float = 1.0) -> tuple:
    """The runtime-handled parameters every effect model offers."""
    return (
        ParamSpec("strength", "double", strength, 0.0, 1.0, "Strength", animatable=True,
                  help="mix of the effect with the source: 0 = source, 1 = full effect"),
    )


def texture_params() -> tuple:
    """The runtime-handled parameters every texture model offers."""
    return (
        ParamSpec("seed", "seed", 0, 0, 2**31 - 1, "Seed", help="which texture of the family"),
        ParamSpec("speed", "double", 1.0, 0.0, 100.0, "Speed", animatable=True,
                  help="noise key fields per second of animation"),
        ParamSpec("scale", "double", 1.0, 0.25, 4.0, "Scale", help="size of the texture's features"),
        ParamSpec("loop", "int", 0, 0, 100000, "Loop frames", help="loop length in frames (0 = no loop)"),
        ParamSpec("tileable", "bool", False, label="Tileable", help="wrap the noise so the image tiles"),
    )
