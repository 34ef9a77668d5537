"""Read what ganfx needs from an ONNX file without the `onnx` package.

An ONNX model is a protobuf `ModelProto`. The runtime needs only three things from it
before it hands the file to onnxruntime: the metadata (the ganfx contract), the graph's
input/output names and shapes, and every external-data location (to refuse files that
point outside their folder). A small wire-format walker gives all three and keeps the
runtime free of the protobuf stack.

    info = read_onnx_info("brick.onnx")
    info.metadata["ganfx.kind"], info.inputs  # -> "texture", [("noise", [1, 8, "h", "w"])]
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .errors import ModelLoadError

# Field numbers from onnx/onnx.proto (stable since IR version 3).
_MODEL_GRAPH, _MODEL_METADATA, _MODEL_FUNCTIONS = 7, 14, 25
_GRAPH_NODE, _GRAPH_INIT, _GRAPH_INPUT, _GRAPH_OUTPUT, _GRAPH_SPARSE_INIT = 1, 5, 11, 12, 15
_NODE_ATTR = 5
_FUNCTION_NODE = 7
_ATTR_T, _ATTR_G, _ATTR_TENSORS, _ATTR_GRAPHS, _ATTR_SPARSE, _ATTR_SPARSES = 5, 6, 10, 11, 22, 23
_TENSOR_EXTERNAL = 13
_SPARSE_VALUES, _SPARSE_INDICES = 1, 2


@dataclass
class OnnxInfo:
    metadata: dict = field(default_factory=dict)  # metadata_props as str -> str
    inputs: list = field(default_factory=list)  # [(name, [dim, ...])], dim is int or str
    outputs: list = field(default_factory=list)
    external_locations: list = field(default_factory=list)  # every external-data 'location'


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


def _tensor_locations(buf, out: list):
    for number, wire, v in _fields(buf):
        if number == _TENSOR_EXTERNAL and wire == 2:
            key, value = _entry(v)
            if key == "location":
                out.append(value)


def _sparse_locations(buf, out: list):
    for number, wire, v in _fields(buf):
        if number in (_SPARSE_VALUES, _SPARSE_INDICES) and wire == 2:
            _tensor_locations(v, out)


def _node_locations(buf, out: list):
    for number, wire, v in _fields(buf):
        if number != _NODE_ATTR or wire != 2:
            continue
        for n2, w2, v2 in _fields(v):
            if w2 != 2:
                continue
            if n2 in (_ATTR_T, _ATTR_TENSORS):
                _tensor_locations(v2, out)
            elif n2 in (_ATTR_SPARSE, _ATTR_SPARSES):
                _sparse_locations(v2, out)
            elif n2 in (_ATTR_G, _ATTR_GRAPHS):
                _graph(v2, None, out)


def _graph(buf, info: OnnxInfo | None, out: list):
    for number, wire, v in _fields(buf):
        if wire != 2:
            continue
        if number == _GRAPH_NODE:
            _node_locations(v, out)
        elif number == _GRAPH_INIT:
            _tensor_locations(v, out)
        elif number == _GRAPH_SPARSE_INIT:
            _sparse_locations(v, out)
        elif info is not None and number == _GRAPH_INPUT:
            info.inputs.append(_value_info(v))
        elif info is not None and number == _GRAPH_OUTPUT:
            info.outputs.append(_value_info(v))


def read_onnx_info(path: str | os.PathLike) -> OnnxInfo:
    """Parse metadata, graph inputs/outputs and external-data locations of an ONNX file."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            data = memoryview(fh.read())
    except FileNotFoundError:
        raise ModelLoadError("model file not found", path=path) from None
    except OSError as exc:
        raise ModelLoadError(f"cannot read model file ({exc.strerror})", path=path) from None
    info = OnnxInfo()
    seen_graph = False
    try:
        for number, wire, v in _fields(data):
            if number == _MODEL_GRAPH and wire == 2:
                seen_graph = True
                _graph(v, info, info.external_locations)
            elif number == _MODEL_METADATA and wire == 2:
                key, value = _entry(v)
                info.metadata[key] = value
            elif number == _MODEL_FUNCTIONS and wire == 2:
                for n2, w2, v2 in _fields(v):
                    if n2 == _FUNCTION_NODE and w2 == 2:
                        _node_locations(v2, info.external_locations)
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
