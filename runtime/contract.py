"""The ganfx model contract: ONNX metadata that makes an exported generator self-describing.

Keys (schema 1, values are strings, JSON where structured) — see docs/architecture.md, "The model contract":

    ganfx.schema "1" · ganfx.kind "effect"|"texture"|"sound" · ganfx.name/version/description/license
    ganfx.io JSON {"inputs": [TensorSpec], "outputs": [TensorSpec]}   (sound: layout NCW, output rate)
    ganfx.halo int · ganfx.multiple int · ganfx.noise JSON (texture and sound)
    ganfx.params JSON [ParamSpec] · ganfx.training JSON · ganfx.parity float
    ganfx.digest "sha256:<hex>" of the weights (optional: files exported before it have none)

Reading needs no `onnx` package:

    spec = read_spec("exported_models/redbrick.onnx")   # raises ContractError naming file and key
    spec.kind, spec.halo, [p.name for p in spec.params]

Writing is the trainer's: `spec.to_metadata()` gives the key/value strings to store, and
`DIGEST_KEY: onnxfile.weights_digest(model_bytes)` is added where the weights are known.

The digest is checked wherever a file is read (read_spec, load_model): weights that differ
from it (a damaged copy, bytes flipped on a disk or in transfer, a graph edited after export)
are refused with ModelLoadError naming the file. A model without the key still loads, with a
one-line warning at load: ganfx.digest is optional within schema 1 (an older runtime ignores
it, so it does not bump the schema), and refusing every model exported before it would break
working setups for no gain; re-exporting writes one.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from dataclasses import asdict, dataclass, field

from .errors import ContractError, ModelLoadError

log = logging.getLogger("ganfx")

SCHEMA = "1"
KINDS = ("effect", "texture", "sound")
LAYOUTS = {"effect": "NCHW", "texture": "NCHW", "sound": "NCW"}  # tensor layout of each kind
SOUND_RATES = (8000, 192000)  # sample rates a sound model may declare (inclusive)
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
_JSON_KEYS = ("ganfx.io", "ganfx.params", "ganfx.training", "ganfx.noise")  # values that are JSON texts
DIGEST_KEY = "ganfx.digest"  # optional: "sha256:<64 hex digits>" of the weights (onnxfile.weights_digest)
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class TensorSpec:
    name: str  # graph input/output name
    channels: int  # C of [N,C,H,W]
    range: tuple = (0.0, 1.0)  # values the network sees/produces for black..white
    colorspace: str = "srgb"  # "srgb" | "linear" | "none" (noise)
    dtype: str = "float32"  # element type at the graph boundary
    layout: str = "NCHW"  # "NCHW" (images) or "NCW" (sound: channels x samples)
    rate: int | None = None  # samples per second (sound outputs only)


@dataclass(frozen=True)
class NoiseSpec:
    channels: int  # noise channels per cell
    stride: int  # output pixels (sound: samples) per noise cell
    halo: int  # cells of context needed on each side for exact tiling (sound: exact chunks)
    waves: tuple = ()  # ((ky, kx), ...) radians per cell: sin/cos channels after the noise (runtime/noise.py)
    still: int = 0  # the first `still` noise channels keep their t=0 values (runtime/noise.py)

    @property
    def input_channels(self) -> int:
        return self.channels + 2 * len(self.waves)


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
        except (TypeError, ValueError, OverflowError):
            raise bad(f"expected a {self.type}, got {value!r}") from None
        if isinstance(v, tuple) and not all(math.isfinite(c) for c in v):
            raise bad(f"must be finite, got {value!r}")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if isinstance(v, float) and not math.isfinite(v):
                raise bad(f"must be finite, got {value!r}")
            if self.min is not None and v < self.min:
                raise bad(f"{v} is below the minimum {self.min}")
            if self.max is not None and v > self.max:
                raise bad(f"{v} is above the maximum {self.max}")
        return v


@dataclass(frozen=True)
class ModelSpec:
    kind: str  # "effect" | "texture" | "sound"
    name: str
    version: str
    description: str
    license: str
    inputs: tuple  # (TensorSpec, ...)
    outputs: tuple  # (TensorSpec, ...)
    halo: int  # pixels of context per side (effect) — for textures see noise.halo
    multiple: int  # spatial size multiple the graph needs
    params: tuple = ()  # (ParamSpec, ...)
    noise: NoiseSpec | None = None  # texture and sound
    training: dict = field(default_factory=dict)
    parity: float | None = None
    schema: str = SCHEMA
    digest: str | None = None  # "sha256:<hex>" of the weights; None for files exported before ganfx.digest

    @property
    def input(self) -> TensorSpec:
        return self.inputs[0]

    @property
    def output(self) -> TensorSpec:
        return self.outputs[0]

    @property
    def what(self) -> str:
        """"an effect model", "a texture model", "a sound model" (for messages)."""
        return f"{'an' if self.kind == 'effect' else 'a'} {self.kind} model"

    @property
    def rate(self) -> int | None:
        """Samples per second of a sound model's output (None for images)."""
        return self.output.rate

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
        if self.digest is not None:
            md[DIGEST_KEY] = self.digest
        return md

    def to_json(self) -> dict:
        """The contract keyed like the metadata, with JSON values: objects, lists and numbers, not
        strings holding them (what `ganfx info --json` prints)."""
        out = {}
        for key, text in self.to_metadata().items():
            if key in _JSON_KEYS:
                out[key] = json.loads(text)
            elif key in ("ganfx.halo", "ganfx.multiple"):
                out[key] = int(text)
            elif key == "ganfx.parity":
                out[key] = self.parity
            else:
                out[key] = text
        return out

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
            fail("ganfx.kind", f"invalid value {kind!r} (expected effect, texture or sound)")
        for key in ("ganfx.name", "ganfx.version"):
            if not md[key].strip():
                fail(key, "empty value")
        halo = _int(md["ganfx.halo"], "ganfx.halo", fail, minimum=0)
        multiple = _int(md["ganfx.multiple"], "ganfx.multiple", fail, minimum=1)

        io = _json(md["ganfx.io"], "ganfx.io", fail)
        if not isinstance(io, dict) or not all(isinstance(io.get(k), list) and io[k] for k in ("inputs", "outputs")):
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

        digest = md.get(DIGEST_KEY)
        if digest is not None and not _DIGEST.fullmatch(digest):
            fail(DIGEST_KEY, f"expected 'sha256:' and 64 lowercase hex digits, got {digest[:80]!r}")

        for t in inputs + outputs:
            if t.layout != LAYOUTS[kind]:
                fail("ganfx.io", f"tensor {t.name!r}: layout {t.layout!r} (a {kind} model needs {LAYOUTS[kind]})")
        if kind == "sound":
            if outputs[0].rate is None:
                fail("ganfx.io", f"sound output {outputs[0].name!r} has no sample rate ('rate')")
            if not SOUND_RATES[0] <= outputs[0].rate <= SOUND_RATES[1]:
                fail("ganfx.io", f"sound output {outputs[0].name!r}: rate {outputs[0].rate} outside "
                     f"{SOUND_RATES[0]}..{SOUND_RATES[1]} Hz")
            if not 1 <= outputs[0].channels <= 2:
                fail("ganfx.io", f"sound output {outputs[0].name!r}: {outputs[0].channels} channels (1 or 2)")
        noise = None
        if kind in ("texture", "sound"):
            if "ganfx.noise" not in md:
                fail(None, f"missing key 'ganfx.noise' (required for {kind} models)")
            n = _json(md["ganfx.noise"], "ganfx.noise", fail)
            if not isinstance(n, dict):
                fail("ganfx.noise", "expected a JSON object")
            try:
                noise = NoiseSpec(channels=_whole(n["channels"]), stride=_whole(n["stride"]), halo=_whole(n["halo"]))
            except (KeyError, TypeError, ValueError, OverflowError) as exc:
                fail("ganfx.noise", f"needs integer channels, stride, halo ({exc})")
            if noise.channels < 1 or noise.stride < 1 or noise.halo < 0:
                fail("ganfx.noise", "channels and stride must be >= 1 and halo >= 0")
            waves = n.get("waves", [])
            try:
                waves = tuple((float(ky), float(kx)) for ky, kx in waves)
            except (TypeError, ValueError):
                fail("ganfx.noise", "waves must be a list of [ky, kx] number pairs")
            if not all(math.isfinite(v) and abs(v) <= math.pi for k in waves for v in k):
                fail("ganfx.noise", "wave vectors must be finite, at most pi radians per cell")
            if kind == "sound" and waves:
                fail("ganfx.noise", "sound models take no waves")
            still = n.get("still", 0)
            if isinstance(still, bool) or not isinstance(still, int) or not 0 <= still <= noise.channels \
                    or (kind == "sound" and still):
                fail("ganfx.noise", f"still must be a whole number of noise channels, 0..{noise.channels} "
                     f"(0 for sounds), got {still!r}")
            noise = NoiseSpec(noise.channels, noise.stride, noise.halo, waves, still)
            if inputs[0].channels != noise.input_channels:
                fail("ganfx.noise", f"{noise.channels} noise channels and {len(waves)} waves make "
                     f"{noise.input_channels} input channels but the input has {inputs[0].channels}")
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
            digest=digest,
        )

    def check_graph(self, graph_inputs: list, graph_outputs: list, path=None) -> None:
        """Check the spec against the graph's real inputs/outputs: names, rank (4 NCHW, 3 NCW), channels."""
        for role, specs, graph in (("input", self.inputs, graph_inputs), ("output", self.outputs, graph_outputs)):
            real = {name: dims for name, dims in graph}
            declared = [t.name for t in specs]
            if sorted(real) != sorted(declared):
                raise ContractError(
                    f"ganfx.io declares {role}s {declared} but the graph has {sorted(real)}", path=path
                )
            for t in specs:
                dims = real[t.name]
                if len(dims) != len(t.layout):
                    raise ContractError(f"graph {role} {t.name!r} has rank {len(dims)}, ganfx.io needs {t.layout} "
                                        f"(rank {len(t.layout)})", path=path)
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
    """Read and validate the contract of an ONNX file, weights digest included (no onnxruntime, no onnx)."""
    return read_checked(path, warn=False)[0]


def read_checked(path: str | os.PathLike, warn: bool = True) -> tuple:
    """(ModelSpec, OnnxInfo) of a file that passed every check a model must pass before it is opened:
    readable ONNX, external data inside its folder, a valid contract that agrees with the graph,
    weights that match their digest (`warn`: log once when a file has none)."""
    from .onnxfile import check_external_data, read_onnx_info

    info = read_onnx_info(path)
    check_external_data(path, info)
    spec = ModelSpec.from_metadata(info.metadata, path=path)
    spec.check_graph(info.inputs, info.outputs, path=path)
    check_weights(spec, info, path, warn=warn)
    return spec, info


_warned_no_digest: set = set()


def check_weights(spec: ModelSpec, info, path, warn: bool = True) -> bool:
    """Compare the file's weights with the contract's ganfx.digest (onnxfile.weights_digest).

    ModelLoadError naming the file when they differ; True when they match. A model with no
    digest (exported before ganfx.digest) returns False, logging one warning per file when `warn`.
    """
    from .onnxfile import weights_digest

    if spec.digest is None:
        key = os.path.realpath(os.fspath(path))
        if warn and key not in _warned_no_digest:
            _warned_no_digest.add(key)
            log.warning("%s: no weights digest (%s, exported by an older ganfx): its weights cannot be "
                        "checked; export it again to add one", path, DIGEST_KEY)
        return False
    actual = weights_digest(info, path)
    if actual != spec.digest:
        raise ModelLoadError(f"the weights do not match the contract's {DIGEST_KEY} (the file is damaged or was "
                             f"changed after export): expected {spec.digest[:19]}..., found {actual[:19]}...",
                             path=path)
    return True


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
    except RecursionError:
        fail(key, "invalid JSON (nested too deeply)")


def _whole(value) -> int:
    """An integer from JSON: 3 or 3.0, not 3.5, true or "3" (int() would truncate or accept them)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ValueError(f"not an integer: {value!r}")
    return int(value)


def _tensor(d, key, fail) -> TensorSpec:
    if not isinstance(d, dict):
        fail(key, "each tensor must be a JSON object")
    try:
        t = TensorSpec(
            name=str(d["name"]),
            channels=_whole(d["channels"]),
            range=tuple(float(x) for x in d.get("range", (0.0, 1.0))),
            colorspace=str(d.get("colorspace", "srgb")),
            dtype=str(d.get("dtype", "float32")),
            layout=str(d.get("layout", "NCHW")),
            rate=None if d.get("rate") is None else _whole(d["rate"]),
        )
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        fail(key, f"tensor needs name and channels ({exc})")
    if t.layout not in ("NCHW", "NCW"):
        fail(key, f"tensor {t.name!r}: layout {t.layout!r} (expected NCHW or NCW)")
    if t.colorspace not in COLORSPACES:
        fail(key, f"tensor {t.name!r}: colorspace {t.colorspace!r} (expected {'/'.join(COLORSPACES)})")
    if t.dtype not in DTYPES:
        fail(key, f"tensor {t.name!r}: dtype {t.dtype!r} (expected {'/'.join(DTYPES)})")
    if len(t.range) != 2 or not t.range[0] < t.range[1] or not all(math.isfinite(x) for x in t.range):
        fail(key, f"tensor {t.name!r}: range must be [low, high] with finite low < high")
    if t.channels < 1:
        fail(key, f"tensor {t.name!r}: channels must be >= 1")
    return t


def _tensor_json(t: TensorSpec) -> dict:
    d = asdict(t)
    d["range"] = list(t.range)
    if d["rate"] is None:  # image tensors are written as before sound existed
        del d["rate"]
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
    except (TypeError, ValueError, OverflowError) as exc:
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
        ParamSpec("loop", "int", 0, 0, 100000, "Loop frames", help="loop length in frames (0 = no loop)"),
        ParamSpec("tileable", "bool", False, label="Tileable", help="wrap the noise so the image tiles"),
    )


def sound_params() -> tuple:
    """The runtime-handled parameters every sound model offers."""
    return (
        ParamSpec("seed", "seed", 0, 0, 2**31 - 1, "Seed", help="which sound of the family"),
        ParamSpec("gain", "double", 0.0, -60.0, 24.0, "Gain (dB)", help="level change in decibels"),
    )
