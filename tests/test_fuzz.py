"""Fuzzing the parsers of untrusted text: only typed ganfx errors may escape.

A model file's metadata (ModelSpec.from_metadata), sequence patterns (parse_pattern), frame
ranges (parse_frame_range) and --param values (parse_params + coerce_values) come from files
and command lines nobody checked. Whatever they hold, the answer is a value or a GanfxError
with a one-line message, never a ValueError, KeyError, OverflowError or RecursionError.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx_models import effect_spec, texture_spec

from ganfx.plugin.cli.render_cmd import parse_params
from ganfx.runtime.contract import DIGEST_KEY, PARAM_TYPES, REQUIRED_KEYS, ModelSpec, ParamSpec, coerce_values
from ganfx.runtime.errors import GanfxError
from ganfx.runtime.io.sequence import parse_pattern
from ganfx.runtime.pipeline import parse_frame_range

FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
KEYS = [*REQUIRED_KEYS, "ganfx.noise", DIGEST_KEY]
VALID = [effect_spec().to_metadata(), texture_spec().to_metadata()]


def _parse(md):
    """from_metadata, allowed to fail only with a typed, one-line, file-naming error."""
    try:
        spec = ModelSpec.from_metadata(md, path="fuzz.onnx")
    except GanfxError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("fuzz.onnx: ")
        return None
    assert spec.kind in ("effect", "texture")
    return spec


STRUCTURED = ("ganfx.io", "ganfx.params", "ganfx.noise", "ganfx.training", "ganfx.halo", "ganfx.multiple",
              "ganfx.parity")


def _mutations():
    """A valid contract, some keys removed or replaced by any text, some by near-valid values."""
    return st.tuples(st.sampled_from(VALID),
                     st.dictionaries(st.sampled_from(KEYS), st.none() | st.text(max_size=60), max_size=3),
                     st.lists(st.sampled_from(STRUCTURED), max_size=3, unique=True),
                     st.data())


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=12), st.text(max_size=40), max_size=16))
def test_contract_from_any_metadata(md):
    _parse(md)


@FUZZ
@given(_mutations())
def test_contract_from_mutated_metadata(case):
    base, texts, structured, data = case
    md = dict(base)
    for key, value in texts.items():
        if value is None:
            md.pop(key, None)
        else:
            md[key] = value
    for key in structured:
        md[key] = data.draw(_structured(key), label=key)
    spec = _parse(md)
    if spec is not None:  # what parses, writes back and parses the same (NaN aside)
        again = _parse(spec.to_metadata())
        assert again is not None
        assert again.to_metadata() == spec.to_metadata() or "NaN" in json.dumps(spec.to_metadata())


def _structured(key):
    """Values of `key` that are nearly right: the right JSON shape holding any JSON, or number-ish text."""
    tensor = st.fixed_dictionaries({"name": st.text(max_size=8), "channels": json_values},
                                   optional={"range": json_values, "colorspace": st.sampled_from(
                                       ["srgb", "linear", "none"]) | json_values, "dtype": json_values})
    if key == "ganfx.io":
        return st.fixed_dictionaries({"inputs": st.lists(tensor | json_values, max_size=2),
                                      "outputs": st.lists(tensor | json_values, max_size=2)}).map(json.dumps)
    if key == "ganfx.params":
        param = st.fixed_dictionaries({"name": st.text(max_size=8) | json_values,
                                       "type": st.sampled_from(PARAM_TYPES) | json_values},
                                      optional={k: json_values for k in ("default", "min", "max", "label", "choices",
                                                                         "animatable", "help")})
        return st.lists(param | json_values, max_size=3).map(json.dumps)
    if key == "ganfx.noise":
        return st.fixed_dictionaries({k: json_values for k in ("channels", "stride", "halo")}).map(json.dumps)
    if key == "ganfx.training":
        return json_values.map(json.dumps)
    return st.one_of(st.integers().map(str), st.floats().map(repr),
                     st.text(alphabet="0123456789-+.eEinfa ", max_size=30))


@pytest.mark.parametrize("depth", [100, 100_000])
def test_contract_deeply_nested_json(depth):
    md = {**VALID[0], "ganfx.training": "[" * depth + "]" * depth}
    _parse(md)


def _pattern_names():
    field = st.one_of(st.integers(0, 40).map(lambda n: "#" * n),
                      st.tuples(st.sampled_from(["", "0"]), st.integers(0, 99999)).map(lambda t: f"%{t[0]}{t[1]}d"),
                      st.just("%d"))
    part = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), max_size=12)
    return st.one_of(st.tuples(part, field, part).map("".join), st.text(max_size=40))


@FUZZ
@given(st.lists(st.text(alphabet="abc._-", max_size=4), max_size=2), _pattern_names())
def test_parse_pattern(folders, name):
    path = "/".join([*folders, name]) if name else name
    try:
        pattern = parse_pattern(path)
    except GanfxError as exc:
        assert "\n" not in str(exc)
        return
    if pattern is None:
        return
    assert 1 <= pattern.padding
    for number in (0, 7, 1001, 10**pattern.padding):
        frame = pattern.path(number)  # a frame's own name has no field left
        assert frame.name.startswith(pattern.prefix) and frame.name.endswith(pattern.suffix)
        assert int(frame.name[len(pattern.prefix): len(frame.name) - len(pattern.suffix)]) == number
    assert parse_pattern(pattern.text) == pattern  # the #### spelling means the same sequence


@FUZZ
@given(st.one_of(st.text(max_size=30),
                 st.tuples(st.integers(-5, 10**12), st.sampled_from(["-", " - ", "--", ":", ""]),
                           st.integers(-5, 10**12)).map(lambda t: f"{t[0]}{t[1]}{t[2]}"),
                 st.text(alphabet="0123456789- ", max_size=12000)))
def test_parse_frame_range(text):
    try:
        first, last = parse_frame_range(text)
    except GanfxError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(first, int) and isinstance(last, int) and 0 <= first <= last


SPECS = (
    ParamSpec("strength", "double", 1.0, 0.0, 1.0),
    ParamSpec("loop", "int", 0, 0, 100000),
    ParamSpec("seed", "seed", 0, 0, 2**31 - 1),
    ParamSpec("tileable", "bool", False),
    ParamSpec("look", "choice", "warm", choices=("warm", "cool")),
    ParamSpec("tint", "rgb", (1.0, 1.0, 1.0)),
    ParamSpec("label", "string", ""),
    ParamSpec("lut", "file", ""),
)
NAMES = [p.name for p in SPECS]


@FUZZ
@given(st.lists(st.one_of(
    st.tuples(st.sampled_from(NAMES) | st.text(max_size=6), st.sampled_from(["=", "", "==", " = "]),
              st.one_of(st.text(max_size=30), st.floats().map(repr), st.integers().map(str),
                        st.text(alphabet="0123456789.,-+eEinfa ", max_size=40))).map("".join),
    st.text(max_size=30)), max_size=6))
def test_param_parsing_and_coercion(items):
    try:
        values = coerce_values(SPECS, parse_params(items), "model fuzz")
    except GanfxError as exc:
        assert "\n" not in str(exc)
        return
    by_name = {p.name: p for p in SPECS}
    for name, value in values.items():
        p = by_name[name]
        if p.type in ("double", "int", "seed") and value is not None:
            assert p.min <= value <= p.max
        if p.type == "choice":
            assert value in p.choices
