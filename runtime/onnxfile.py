"""Read what ganfx needs from an ONNX file without the `onnx` package.

An ONNX model is a protobuf `ModelProto`. The runtime needs only four things from it
before it hands the file to onnxruntime: the metadata (the ganfx contract), the graph's
input/output names and shapes, every external-data location (to refuse files that point
outside their folder) and the weight tensors (for the digest the contract carries). A small
wire-format walker gives all four and keeps the runtime free of the protobuf stack.

    info = read_onnx_info("brick.onnx")
    info.metadata["ganfx.kind"], info.inputs  # -> "texture", [("noise", [1, 8, "h", "w"])]
    weights_digest(info, "brick.onnx")        # -> "sha256:3f0c..." (what ganfx.digest must say)
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass, field

from .errors import ModelLoadError

# Field numbers from onnx/onnx.proto (stable since IR version 3).
_MODEL_GRAPH, _MODEL_METADATA, _MODEL_FUNCTIONS = 7, 14, 25
_GRAPH_NODE, _GRAPH_INIT, _GRAPH_INPUT, _GRAPH_OUTPUT, _GRAPH_SPARSE_INIT = 1, 5, 11, 12, 15
_NODE_ATTR = 5
_FUNCTION_NODE = 7
_ATTR_T, _ATTR_G, _ATTR_TENSORS, _ATTR_GRAPHS, _ATTR_SPARSE, _ATTR_SPARSES = 5, 6, 10, 11, 22, 23
_TENSOR_DIMS, _TENSOR_TYPE, _TENSOR_NAME, _TENSOR_RAW, _TENSOR_EXTERNAL, _TENSOR_LOCATION = 1, 2, 8, 9, 13, 14
_TENSOR_TYPED = (3, 4, 5, 6, 7, 10, 11, 12)  # segment and the typed *_data fields
_SPARSE_VALUES, _SPARSE_INDICES = 1, 2
DIGEST_PREFIX = "sha256:"


@dataclass
class OnnxInfo:
    metadata: dict = field(default_factory=dict)  # metadata_props as str -> str
    inputs: list = field(default_factory=list)  # [(name, [dim, ...])], dim is int or str
    outputs: list = field(default_factory=list)
    external_locations: list = field(default_factory=list)  # every external-data 'location'
    tensors: list = field(default_factory=list)  # every weight tensor (TensorProto bytes): initializers, constants


class _WireError(ValueError):
    pass


def _varint(buf, pos: int):
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise _WireError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise _WireError("varint too long")


def _fields(buf):
    """Yield (field_number, wire_type, value) of one message; value is an int or a memoryview."""
    pos, end = 0, len(buf)
    while pos < end:
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise _WireError("field number 0")
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = None, pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = None, pos + 4
        else:
            raise _WireError(f"unsupported wire type {wire}")
        if pos > end:
            raise _WireError("truncated message")
        yield number, wire, value


def _text(view) -> str:
    return bytes(view).decode("utf-8", errors="replace")


def _entry(buf):
    key = value = ""
    for number, wire, v in _fields(buf):
        if wire != 2:
            continue
        if number == 1:
            key = _text(v)
        elif number == 2:
            value = _text(v)
    return key, value


def _value_info(buf):
    name, dims = "", []
    for number, wire, v in _fields(buf):
        if number == 1 and wire == 2:
            name = _text(v)
        elif number == 2 and wire == 2:  # TypeProto
            for n2, w2, v2 in _fields(v):
                if n2 == 1 and w2 == 2:  # tensor_type
                    for n3, w3, v3 in _fields(v2):
                        if n3 == 2 and w3 == 2:  # shape
                            for n4, w4, v4 in _fields(v3):
                                if n4 == 1 and w4 == 2:  # dim
                                    dim = "?"
                                    for n5, w5, v5 in _fields(v4):
                                        if n5 == 1 and w5 == 0:
                                            dim = v5
                                        elif n5 == 2 and w5 == 2:
                                            dim = _text(v5)
                                    dims.append(dim)
    return name, dims


def _tensor(buf, out: OnnxInfo):
    out.tensors.append(buf)
    for number, wire, v in _fields(buf):
        if number == _TENSOR_EXTERNAL and wire == 2:
            key, value = _entry(v)
            if key == "location":
                out.external_locations.append(value)


def _sparse(buf, out: OnnxInfo):
    for number, wire, v in _fields(buf):
        if number in (_SPARSE_VALUES, _SPARSE_INDICES) and wire == 2:
            _tensor(v, out)


def _node(buf, out: OnnxInfo):
    for number, wire, v in _fields(buf):
        if number != _NODE_ATTR or wire != 2:
            continue
        for n2, w2, v2 in _fields(v):
            if w2 != 2:
                continue
            if n2 in (_ATTR_T, _ATTR_TENSORS):
                _tensor(v2, out)
            elif n2 in (_ATTR_SPARSE, _ATTR_SPARSES):
                _sparse(v2, out)
            elif n2 in (_ATTR_G, _ATTR_GRAPHS):
                _graph(v2, out, top=False)


def _graph(buf, out: OnnxInfo, top: bool = True):
    for number, wire, v in _fields(buf):
        if wire != 2:
            continue
        if number == _GRAPH_NODE:
            _node(v, out)
        elif number == _GRAPH_INIT:
            _tensor(v, out)
        elif number == _GRAPH_SPARSE_INIT:
            _sparse(v, out)
        elif top and number == _GRAPH_INPUT:
            out.inputs.append(_value_info(v))
        elif top and number == _GRAPH_OUTPUT:
            out.outputs.append(_value_info(v))


def read_onnx_info(path: str | os.PathLike) -> OnnxInfo:
    """Parse metadata, graph inputs/outputs, external-data locations and weights of an ONNX file.

    Only a regular file is opened: a named pipe called `x.onnx` would block the reader forever.
    """
    from .files import check_regular_file

    path = os.fspath(path)
    check_regular_file(path, ModelLoadError, missing="model file not found")
    try:
        with open(path, "rb") as fh:
            data = memoryview(fh.read())
    except OSError as exc:
        raise ModelLoadError(f"cannot read model file ({exc.strerror or exc})", path=path) from None
    return parse_onnx(data, path)


def parse_onnx(data, path: str | os.PathLike | None = None) -> OnnxInfo:
    """The OnnxInfo of a serialized ModelProto (bytes); ModelLoadError names `path`."""
    data = memoryview(data)
    info = OnnxInfo()
    seen_graph = False
    try:
        for number, wire, v in _fields(data):
            if number == _MODEL_GRAPH and wire == 2:
                seen_graph = True
                _graph(v, info)
            elif number == _MODEL_METADATA and wire == 2:
                key, value = _entry(v)
                info.metadata[key] = value
            elif number == _MODEL_FUNCTIONS and wire == 2:
                for n2, w2, v2 in _fields(v):
                    if n2 == _FUNCTION_NODE and w2 == 2:
                        _node(v2, info)
    except _WireError as exc:
        raise ModelLoadError(f"not an ONNX model (unreadable protobuf: {exc})", path=path) from None
    if not seen_graph:
        raise ModelLoadError("not an ONNX model (no graph found)", path=path)
    return info


def check_external_data(path: str | os.PathLike, info: OnnxInfo) -> None:
    """Refuse external-data references that leave the model's folder (or are absolute)."""
    path = os.fspath(path)
    folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    for location in info.external_locations:
        if not location or os.path.isabs(location) or location.startswith(("\\", "/")):
            raise ModelLoadError(f"external data location {location!r} is not a relative path", path=path)
        target = os.path.realpath(os.path.join(folder, location))
        if os.path.commonpath([folder, target]) != folder:
            raise ModelLoadError(f"external data location {location!r} points outside the model's folder", path=path)
        if not os.path.isfile(target):
            raise ModelLoadError(f"external data file {location!r} is missing", path=path)


# -- the weights digest (contract key ganfx.digest) -----------------------------------------

def weights_digest(model, path: str | os.PathLike | None = None) -> str:
    """"sha256:<hex>" of a model's weights: an OnnxInfo (of the file at `path`), or the file's bytes.

    Each weight tensor (initializers, sparse initializers, tensor attributes such as Constant
    values, in subgraphs and functions too) is hashed on its name, element type, shape and data
    bytes — raw_data, the typed data fields, or the bytes its external data points at, so
    moving weights to or from an external file keeps the digest. The tensor hashes are sorted
    and hashed again: the digest does not depend on the order tools store tensors in, and
    metadata (the contract itself) is not part of it.

        weights_digest(onnx_model.SerializeToString())     # at export, before metadata is set
        weights_digest(read_onnx_info(p), p)                # at load
    """
    info = model if isinstance(model, OnnxInfo) else parse_onnx(model, path)
    if info.external_locations:
        if path is None:
            raise ModelLoadError("the model has external data; its file path is needed to read it")
        check_external_data(path, info)
    folder = None if path is None else os.path.dirname(os.path.abspath(os.fspath(path)))
    hashes = sorted(_tensor_hash(t, folder, path) for t in info.tensors)
    total = hashlib.sha256()
    for h in hashes:
        total.update(h)
    return DIGEST_PREFIX + total.hexdigest()


def _tensor_hash(buf, folder, path) -> bytes:
    name, dtype, dims, raw, external, typed = b"", 0, [], None, {}, []
    for number, wire, v in _fields(buf):
        if number == _TENSOR_NAME and wire == 2:
            name = bytes(v)
        elif number == _TENSOR_TYPE and wire == 0:
            dtype = v
        elif number == _TENSOR_DIMS:
            dims.extend(_packed_varints(v) if wire == 2 else [v])
        elif number == _TENSOR_RAW and wire == 2:
            raw = v
        elif number == _TENSOR_EXTERNAL and wire == 2:
            key, value = _entry(v)
            external[key] = value
        elif number in _TENSOR_TYPED:
            typed.append((number, wire, v))
    h = hashlib.sha256()
    h.update(struct.pack("<I", len(name)) + name + struct.pack("<qI", dtype, len(dims)))
    h.update(struct.pack(f"<{len(dims)}Q", *[d & 0xFFFFFFFFFFFFFFFF for d in dims]))
    if raw is not None:
        h.update(raw)
    elif external.get("location"):
        _hash_external(h, folder, external, path)
    else:
        for number, wire, v in typed:  # data stored in the typed fields (packed or not)
            h.update(struct.pack("<IB", number, wire))
            h.update(struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF) if isinstance(v, int) else bytes(v or b""))
    return h.digest()


def _packed_varints(buf) -> list:
    out, pos = [], 0
    while pos < len(buf):
        value, pos = _varint(buf, pos)
        out.append(value)
    return out


def _hash_external(h, folder, external: dict, path) -> None:
    try:
        offset = int(external.get("offset") or 0)
        length = int(external["length"]) if external.get("length") else None
    except ValueError:
        raise ModelLoadError(f"external data of {external['location']!r} has an invalid offset or length",
                             path=path) from None
    try:
        with open(os.path.join(folder, external["location"]), "rb") as fh:
            fh.seek(offset)
            remaining = length
            while remaining is None or remaining > 0:
                chunk = fh.read(1 << 20 if remaining is None else min(1 << 20, remaining))
                if not chunk:
                    break
                h.update(chunk)
                if remaining is not None:
                    remaining -= len(chunk)
    except OSError as exc:
        raise ModelLoadError(f"cannot read external data {external['location']!r} ({exc.strerror or exc})",
                             path=path) from None
    if remaining:
        raise ModelLoadError(f"external data {external['location']!r} ends {remaining} bytes early", path=path)
