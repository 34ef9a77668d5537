"""A small OpenFX host of the project's own, in Python ctypes: it loads an OFX binary and drives
its plug-ins the way a compositor does, with real property sets, suites and image memory.

    host = OfxHost("ganfx.ofx.bundle/Contents/Linux-x86-64/ganfx.ofx")
    plugin = host.plugin("org.ganfx.watercolor")    # OfxGetNumberOfPlugins, OfxGetPlugin, setHost
    plugin.load(); plugin.describe()                # kOfxActionLoad, kOfxActionDescribe
    fx = plugin.create_instance("filter", {"strength": 0.5})   # describeInContext, createInstance
    fx.begin_sequence((0, 0))
    out = fx.render(0, source=frame)                # top-down [H,W,C] in and out, like the runtime
    out = fx.render(0, source=frame, tiles=grid)    # the host renders windows and assembles them
    fx.end_sequence(); fx.destroy(); plugin.unload()

Images are handed over the OpenFX way: bottom-left origin (rows going up), the data pointer at
pixel (x1, y1) of the bounds, row bytes possibly negative (`negative_rows=True`). The Source image
covers exactly the region of interest the plug-in asked for, clipped to the frame, so a plug-in
that asks for too little gets too little. The Output image covers the whole frame and the test
can check that only the render window was written.

Variadic suite functions (paramGetValue, paramGetValueAtTime, message) are answered by callbacks
with fixed pointer arguments: on x86-64 Linux (the System V ABI) a variadic call passes its
arguments where a fixed one does, so the pointers (and the time, a double) arrive in place. A
message's format is honoured for the one form plug-ins here use, "%s" and one string.
"""

from __future__ import annotations

import ctypes as C
import itertools
import threading

import numpy as np

OK, FAILED, ERR_UNKNOWN, ERR_UNSUPPORTED, ERR_BAD_HANDLE, ERR_BAD_INDEX, ERR_VALUE = 0, 1, 3, 5, 9, 10, 11
ERR_MEMORY, REPLY_DEFAULT = 8, 14

DEPTHS = {np.dtype(np.uint8): "OfxBitDepthByte", np.dtype(np.uint16): "OfxBitDepthShort",
          np.dtype(np.float32): "OfxBitDepthFloat"}
COMPONENTS = {4: "OfxImageComponentRGBA", 3: "OfxImageComponentRGB", 1: "OfxImageComponentAlpha"}
CONTEXTS = {"filter": "OfxImageEffectContextFilter", "generator": "OfxImageEffectContextGenerator"}


class OfxRectD(C.Structure):
    _fields_ = [("x1", C.c_double), ("y1", C.c_double), ("x2", C.c_double), ("y2", C.c_double)]


FETCH = C.CFUNCTYPE(C.c_void_p, C.c_void_p, C.c_char_p, C.c_int)


class OfxHostStruct(C.Structure):
    _fields_ = [("host", C.c_void_p), ("fetchSuite", FETCH)]


SET_HOST = C.CFUNCTYPE(None, C.POINTER(OfxHostStruct))
MAIN_ENTRY = C.CFUNCTYPE(C.c_int, C.c_char_p, C.c_void_p, C.c_void_p, C.c_void_p)


class OfxPluginStruct(C.Structure):
    _fields_ = [("pluginApi", C.c_char_p), ("apiVersion", C.c_int), ("pluginIdentifier", C.c_char_p),
                ("pluginVersionMajor", C.c_uint), ("pluginVersionMinor", C.c_uint),
                ("setHost", SET_HOST), ("mainEntry", MAIN_ENTRY)]


def _suite(name, entries):
    """A ctypes struct of callbacks: entries [(field, CFUNCTYPE)] in the suite's order."""
    return type(name, (C.Structure,), {"_fields_": entries})


F = C.CFUNCTYPE
I, V, S, D = C.c_int, C.c_void_p, C.c_char_p, C.c_double
PV = C.POINTER(C.c_void_p)
PROPERTY_SUITE = _suite("OfxPropertySuiteV1", [
    ("propSetPointer", F(I, V, S, I, V)), ("propSetString", F(I, V, S, I, S)),
    ("propSetDouble", F(I, V, S, I, D)), ("propSetInt", F(I, V, S, I, I)),
    ("propSetPointerN", F(I, V, S, I, PV)), ("propSetStringN", F(I, V, S, I, C.POINTER(C.c_char_p))),
    ("propSetDoubleN", F(I, V, S, I, C.POINTER(C.c_double))), ("propSetIntN", F(I, V, S, I, C.POINTER(C.c_int))),
    ("propGetPointer", F(I, V, S, I, PV)), ("propGetString", F(I, V, S, I, PV)),
    ("propGetDouble", F(I, V, S, I, C.POINTER(C.c_double))), ("propGetInt", F(I, V, S, I, C.POINTER(C.c_int))),
    ("propGetPointerN", F(I, V, S, I, PV)), ("propGetStringN", F(I, V, S, I, PV)),
    ("propGetDoubleN", F(I, V, S, I, C.POINTER(C.c_double))), ("propGetIntN", F(I, V, S, I, C.POINTER(C.c_int))),
    ("propReset", F(I, V, S)), ("propGetDimension", F(I, V, S, C.POINTER(C.c_int))),
])
EFFECT_SUITE = _suite("OfxImageEffectSuiteV1", [
    ("getPropertySet", F(I, V, PV)), ("getParamSet", F(I, V, PV)), ("clipDefine", F(I, V, S, PV)),
    ("clipGetHandle", F(I, V, S, PV, PV)), ("clipGetPropertySet", F(I, V, PV)),
    ("clipGetImage", F(I, V, D, V, PV)), ("clipReleaseImage", F(I, V)),
    ("clipGetRegionOfDefinition", F(I, V, D, C.POINTER(OfxRectD))), ("abort", F(I, V)),
    ("imageMemoryAlloc", F(I, V, C.c_size_t, PV)), ("imageMemoryFree", F(I, V)),
    ("imageMemoryLock", F(I, V, PV)), ("imageMemoryUnlock", F(I, V)),
])
PARAM_SUITE = _suite("OfxParameterSuiteV1", [
    ("paramDefine", F(I, V, S, S, PV)), ("paramGetHandle", F(I, V, S, PV, PV)),
    ("paramSetGetPropertySet", F(I, V, PV)), ("paramGetPropertySet", F(I, V, PV)),
    ("paramGetValue", F(I, V, V, V, V)), ("paramGetValueAtTime", F(I, V, D, V, V, V)),
    ("paramGetDerivative", F(I, V, D, V, V, V)), ("paramGetIntegral", F(I, V, D, D, V, V, V)),
    ("paramSetValue", F(I, V, V, V, V)), ("paramSetValueAtTime", F(I, V, D, V, V, V)),
    ("paramGetNumKeys", F(I, V, V)), ("paramGetKeyTime", F(I, V, C.c_uint, V)),
    ("paramGetKeyIndex", F(I, V, D, I, V)), ("paramDeleteKey", F(I, V, D)), ("paramDeleteAllKeys", F(I, V)),
    ("paramCopy", F(I, V, V, D, V)), ("paramEditBegin", F(I, V, S)), ("paramEditEnd", F(I, V)),
])
MESSAGE_SUITE = _suite("OfxMessageSuiteV2", [
    ("message", F(I, V, S, S, S, S)), ("setPersistentMessage", F(I, V, S, S, S, S)),
    ("clearPersistentMessage", F(I, V)),
])


class PropertySet:
    """Named, typed, multi-dimensional values: "str" | "int" | "dbl" | "ptr" -> list."""

    def __init__(self, kind: str, **values):
        self.kind = kind
        self.values = {}  # name -> (type, [values])
        self._strings = {}  # (name, index) -> bytes buffer the plug-in may hold on to
        for name, v in values.items():
            self.set(name, v)

    def set(self, name, value, type_=None):
        vals = list(value) if isinstance(value, (list, tuple)) else [value]
        if type_ is None:
            first = vals[0] if vals else ""
            type_ = ("str" if isinstance(first, str) else "dbl" if isinstance(first, float) else "int")
        self.values[name] = (type_, vals)

    def get(self, name, index=None):
        vals = self.values[name][1]
        return vals if index is None else vals[index]

    def has(self, name):
        return name in self.values


class Param:
    def __init__(self, type_: str, name: str, props: PropertySet):
        self.type, self.name, self.props, self.value = type_, name, props, None

    def default(self):
        p = self.props
        if not p.has("OfxParamPropDefault"):
            return {"OfxParamTypeString": ""}.get(self.type, 0)
        vals = p.get("OfxParamPropDefault")
        return tuple(vals) if self.type == "OfxParamTypeRGB" else vals[0]


class Clip:
    def __init__(self, name: str, props: PropertySet):
        self.name, self.props = name, props
        self.frames = None  # instance clips: callable time -> top-down [H,W,C] at the current render scale
        self.rod = None  # canonical region of definition (x1, y1, x2, y2)


class Effect:
    """A descriptor (describe, describeInContext) or an instance: properties, clips, parameters."""

    def __init__(self, host: "OfxHost", kind: str, context: str | None = None):
        self.host = host
        self.props = PropertySet(kind)
        if context:
            self.props.set("OfxImageEffectPropContext", CONTEXTS.get(context, context))
        self.param_props = PropertySet("paramset")
        self.params, self.clips = {}, {}
        self.handle = host._register(self)
        self.param_set_handle = host._register(("paramset", self))


class OfxHost:
    def __init__(self, binary: str, name: str = "org.ganfx.testhost", version: str = "1.0"):
        self.lib = C.CDLL(str(binary), mode=C.RTLD_LOCAL)
        self.lib.OfxGetNumberOfPlugins.restype = C.c_int
        self.lib.OfxGetPlugin.restype = C.POINTER(OfxPluginStruct)
        self.lib.OfxGetPlugin.argtypes = [C.c_int]
        self._objects, self._handles = {}, {}  # handle -> object, id(object) -> handle
        self._ids, self._lock = itertools.count(1), threading.RLock()
        self._local = threading.local()
        self.messages = []  # (kind, type, text), kind "message" | "persistent" | "clear"
        self.images_out = 0  # images handed out and not yet released
        self.props = PropertySet(
            "host",
            OfxPropName=name, OfxPropLabel="ganfx test host", OfxPropVersionLabel=version, OfxPropVersion=[1, 0],
            OfxImageEffectHostPropIsBackground=1, OfxImageEffectPropSupportsOverlays=0,
            OfxImageEffectPropSupportsMultiResolution=1, OfxImageEffectPropSupportsTiles=1,
            OfxImageEffectPropTemporalClipAccess=0, OfxImageEffectPropMultipleClipDepths=0,
            OfxImageEffectPropSupportsMultipleClipPARs=0, OfxImageEffectPropSetableFrameRate=0,
            OfxImageEffectPropSetableFielding=0, OfxImageEffectPropSupportedComponents=list(COMPONENTS.values()),
            OfxImageEffectPropSupportedContexts=list(CONTEXTS.values()),
            OfxImageEffectPropSupportedPixelDepths=list(DEPTHS.values()),
            OfxImageEffectInstancePropSequentialRender=0, OfxParamHostPropMaxParameters=-1,
        )
        self._host_handle = self._register(self.props)
        self._build_suites()
        self.struct = OfxHostStruct(self._host_handle, FETCH(self._fetch_suite))
        self.lib.OfxSetHost(C.byref(self.struct))

    # -- handles: integers standing for Python objects ----------------------------------
    def _register(self, obj) -> int:
        with self._lock:
            h = next(self._ids) * 16
            self._objects[h] = obj
            self._handles[id(obj)] = h
            return h

    def _obj(self, handle):
        return self._objects.get(int(handle or 0))

    def _props(self, handle) -> PropertySet | None:
        obj = self._obj(handle)
        return obj if isinstance(obj, PropertySet) else None

    # -- plug-ins ----------------------------------------------------------------------------
    def plugin_count(self) -> int:
        return self.lib.OfxGetNumberOfPlugins()

    def plugins(self) -> list:
        return [Plugin(self, self.lib.OfxGetPlugin(i).contents) for i in range(self.plugin_count())]

    def plugin(self, identifier: str) -> "Plugin":
        for p in self.plugins():
            if p.identifier == identifier:
                return p
        raise KeyError(identifier)

    def noise_window(self, seed, channels, period, loop, waves, y0, x0, h, w, t, still=0) -> np.ndarray:
        """The plug-in's noise field ([C+2W,h,w] float32), through its ganfx_noise_window export."""
        fn = self.lib.ganfx_noise_window
        fn.argtypes = [C.c_int64, C.c_int, C.c_int, C.c_int64, C.c_int64, C.c_double, C.c_void_p, C.c_int,
                       C.c_int, C.c_int64, C.c_int64, C.c_int, C.c_int, C.c_double, C.c_void_p]
        k = np.ascontiguousarray(np.asarray(waves, np.float64).reshape(-1, 2))
        out = np.empty((channels + 2 * len(k), h, w), np.float32)
        py, px = period or (0, 0)
        rc = fn(seed, channels, int(period is not None), py, px, float(loop or 0.0), k.ctypes.data, len(k),
                still, y0, x0, h, w, t, out.ctypes.data)
        assert rc == 0
        return out

    # -- suites ------------------------------------------------------------------------------
    def _fetch_suite(self, host, name, version):
        name = name.decode()
        if name == "OfxPropertySuite" and version == 1:
            return C.addressof(self._property_suite)
        if name == "OfxImageEffectSuite" and version == 1:
            return C.addressof(self._effect_suite)
        if name == "OfxParameterSuite" and version == 1:
            return C.addressof(self._param_suite)
        if name == "OfxMessageSuite" and version in (1, 2):
            return C.addressof(self._message_suite)
        return None

    @staticmethod
    def _guard(fn):
        """A callback that never lets a Python error cross into the plug-in."""
        def wrapped(*args):
            try:
                return fn(*args)
            except Exception:  # noqa: BLE001 - reported to the plug-in as a status
                import traceback
                traceback.print_exc()
                return ERR_UNKNOWN
        return wrapped

    def _build_suites(self):
        g = self._guard

        def set_value(type_, conv):
            def cb(handle, name, index, value):
                p = self._props(handle)
                if p is None:
                    return ERR_BAD_HANDLE
                key = name.decode()
                vals = list(p.values.get(key, (type_, []))[1])
                while len(vals) <= index:
                    vals.append(None)
                vals[index] = conv(value)
                p.values[key] = (type_, vals)
                return OK
            return g(cb)

        def set_n(type_, conv):
            def cb(handle, name, count, values):
                p = self._props(handle)
                if p is None:
                    return ERR_BAD_HANDLE
                p.values[name.decode()] = (type_, [conv(values[i]) for i in range(count)])
                return OK
            return g(cb)

        def lookup(handle, name, index):
            p = self._props(handle)
            if p is None:
                return ERR_BAD_HANDLE, None
            key = name.decode()
            if key not in p.values:
                return ERR_UNKNOWN, None
            type_, vals = p.values[key]
            if not 0 <= index < len(vals) or vals[index] is None:
                return ERR_BAD_INDEX, None
            return OK, (p, key, type_, vals[index])

        def get_value(type_, write):
            def cb(handle, name, index, out):
                status, found = lookup(handle, name, index)
                if status != OK:
                    return status
                p, key, t, v = found
                if t != type_:
                    return ERR_VALUE
                write(out, p, key, index, v)
                return OK
            return g(cb)

        def write_str(out, p, key, index, v):
            buf = C.create_string_buffer(v.encode())
            p._strings[(key, index)] = buf
            out[0] = C.addressof(buf)

        def get_n(type_, write):
            def cb(handle, name, count, out):
                for i in range(count):
                    status, found = lookup(handle, name, i)
                    if status != OK:
                        return status
                    p, key, t, v = found
                    if t != type_:
                        return ERR_VALUE
                    write(out, p, key, i, v, i)
                return OK
            return g(cb)

        def write_at(out, p, key, index, v, i):
            out[i] = v

        def write_str_at(out, p, key, index, v, i):
            buf = C.create_string_buffer(v.encode())
            p._strings[(key, index)] = buf
            out[i] = C.addressof(buf)

        def reset(handle, name):
            return OK

        def dimension(handle, name, count):
            p = self._props(handle)
            if p is None:
                return ERR_BAD_HANDLE
            key = name.decode()
            if key not in p.values:
                return ERR_UNKNOWN
            count[0] = len(p.values[key][1])
            return OK

        s = PROPERTY_SUITE
        self._property_suite = s(
            s._fields_[0][1](set_value("ptr", lambda v: v or 0)),
            s._fields_[1][1](set_value("str", lambda v: v.decode())),
            s._fields_[2][1](set_value("dbl", float)),
            s._fields_[3][1](set_value("int", int)),
            s._fields_[4][1](set_n("ptr", lambda v: v or 0)),
            s._fields_[5][1](set_n("str", lambda v: v.decode())),
            s._fields_[6][1](set_n("dbl", float)),
            s._fields_[7][1](set_n("int", int)),
            s._fields_[8][1](get_value("ptr", lambda out, p, k, i, v: out.__setitem__(0, v))),
            s._fields_[9][1](get_value("str", write_str)),
            s._fields_[10][1](get_value("dbl", lambda out, p, k, i, v: out.__setitem__(0, v))),
            s._fields_[11][1](get_value("int", lambda out, p, k, i, v: out.__setitem__(0, v))),
            s._fields_[12][1](get_n("ptr", write_at)),
            s._fields_[13][1](get_n("str", write_str_at)),
            s._fields_[14][1](get_n("dbl", write_at)),
            s._fields_[15][1](get_n("int", write_at)),
            s._fields_[16][1](g(reset)),
            s._fields_[17][1](g(dimension)),
        )

        def get_property_set(effect, out):
            obj = self._obj(effect)
            if not isinstance(obj, Effect):
                return ERR_BAD_HANDLE
            out[0] = self._handle_of(obj.props)
            return OK

        def get_param_set(effect, out):
            obj = self._obj(effect)
            if not isinstance(obj, Effect):
                return ERR_BAD_HANDLE
            out[0] = obj.param_set_handle
            return OK

        def clip_define(effect, name, out):
            obj = self._obj(effect)
            if not isinstance(obj, Effect):
                return ERR_BAD_HANDLE
            clip = Clip(name.decode(), PropertySet("clip", OfxPropName=name.decode()))
            obj.clips[clip.name] = clip
            out[0] = self._handle_of(clip.props)
            return OK

        def clip_get_handle(effect, name, out, props_out):
            obj = self._obj(effect)
            if not isinstance(obj, Effect) or obj.props.kind != "instance":
                return ERR_BAD_HANDLE
            clip = obj.clips.get(name.decode())
            if clip is None:
                return ERR_UNKNOWN
            out[0] = self._handle_of(clip)
            if props_out:
                props_out[0] = self._handle_of(clip.props)
            return OK

        def clip_get_props(clip, out):
            obj = self._obj(clip)
            if not isinstance(obj, Clip):
                return ERR_BAD_HANDLE
            out[0] = self._handle_of(obj.props)
            return OK

        def clip_get_rod(clip, time, out):
            obj = self._obj(clip)
            if not isinstance(obj, Clip) or obj.rod is None:
                return ERR_BAD_HANDLE
            out[0].x1, out[0].y1, out[0].x2, out[0].y2 = obj.rod
            return OK

        e = EFFECT_SUITE
        self._effect_suite = e(
            e._fields_[0][1](g(get_property_set)), e._fields_[1][1](g(get_param_set)),
            e._fields_[2][1](g(clip_define)), e._fields_[3][1](g(clip_get_handle)),
            e._fields_[4][1](g(clip_get_props)), e._fields_[5][1](g(self._clip_get_image)),
            e._fields_[6][1](g(self._clip_release_image)), e._fields_[7][1](g(clip_get_rod)),
            e._fields_[8][1](g(lambda effect: 0)),
            e._fields_[9][1](g(lambda *a: ERR_UNSUPPORTED)), e._fields_[10][1](g(lambda *a: ERR_UNSUPPORTED)),
            e._fields_[11][1](g(lambda *a: ERR_UNSUPPORTED)), e._fields_[12][1](g(lambda *a: ERR_UNSUPPORTED)),
        )

        def param_define(param_set, type_, name, out):
            obj = self._obj(param_set)
            if not (isinstance(obj, tuple) and obj[0] == "paramset"):
                return ERR_BAD_HANDLE
            effect = obj[1]
            key = name.decode()
            if key in effect.params:
                return 6  # kOfxStatErrExists
            param = Param(type_.decode(), key, PropertySet("param", OfxPropName=key, OfxParamPropType=type_.decode()))
            effect.params[key] = param
            if out:
                out[0] = self._handle_of(param.props)
            return OK

        def param_get_handle(param_set, name, out, props_out):
            obj = self._obj(param_set)
            if not (isinstance(obj, tuple) and obj[0] == "paramset"):
                return ERR_BAD_HANDLE
            param = obj[1].params.get(name.decode())
            if param is None:
                return ERR_UNKNOWN
            out[0] = self._handle_of(param)
            if props_out:
                props_out[0] = self._handle_of(param.props)
            return OK

        def param_set_props(param_set, out):
            obj = self._obj(param_set)
            if not (isinstance(obj, tuple) and obj[0] == "paramset"):
                return ERR_BAD_HANDLE
            out[0] = self._handle_of(obj[1].param_props)
            return OK

        def param_props(param, out):
            obj = self._obj(param)
            if not isinstance(obj, Param):
                return ERR_BAD_HANDLE
            out[0] = self._handle_of(obj.props)
            return OK

        def write_value(param, p1, p2, p3):
            obj = self._obj(param)
            if not isinstance(obj, Param):
                return ERR_BAD_HANDLE
            value = obj.value if obj.value is not None else obj.default()
            t = obj.type
            if t == "OfxParamTypeDouble":
                C.cast(p1, C.POINTER(C.c_double))[0] = float(value)
            elif t in ("OfxParamTypeInteger", "OfxParamTypeBoolean", "OfxParamTypeChoice"):
                C.cast(p1, C.POINTER(C.c_int))[0] = int(value)
            elif t == "OfxParamTypeRGB":
                for ptr, v in zip((p1, p2, p3), value):
                    C.cast(ptr, C.POINTER(C.c_double))[0] = float(v)
            elif t == "OfxParamTypeString":
                buf = C.create_string_buffer(str(value).encode())
                obj.props._strings[("value", 0)] = buf
                C.cast(p1, C.POINTER(C.c_void_p))[0] = C.addressof(buf)
            else:
                return ERR_UNSUPPORTED
            return OK

        p = PARAM_SUITE
        unsupported = g(lambda *a: ERR_UNSUPPORTED)
        self._param_suite = p(
            p._fields_[0][1](g(param_define)), p._fields_[1][1](g(param_get_handle)),
            p._fields_[2][1](g(param_set_props)), p._fields_[3][1](g(param_props)),
            p._fields_[4][1](g(write_value)),
            p._fields_[5][1](g(lambda param, time, a, b, c: write_value(param, a, b, c))),
            *[p._fields_[i][1](unsupported) for i in range(6, 18)],
        )

        def message(kind):
            def cb(handle, type_, id_, fmt, arg):
                fmt_text = fmt.decode() if fmt else ""
                text = arg.decode(errors="replace") if fmt_text == "%s" and arg else fmt_text
                with self._lock:
                    self.messages.append((kind, type_.decode() if type_ else "", text))
                return OK
            return g(cb)

        def clear(handle):
            with self._lock:
                self.messages.append(("clear", "", ""))
            return OK

        m = MESSAGE_SUITE
        self._message_suite = m(m._fields_[0][1](message("message")), m._fields_[1][1](message("persistent")),
                                m._fields_[2][1](g(clear)))

    def _handle_of(self, obj) -> int:
        with self._lock:
            h = self._handles.get(id(obj))
            if h is not None and self._objects.get(h) is obj:
                return h
        return self._register(obj)

    # -- images --------------------------------------------------------------------------
    def _clip_get_image(self, clip_handle, time, region, out):
        clip = self._obj(clip_handle)
        state = getattr(self._local, "render", None)
        if not isinstance(clip, Clip) or state is None:
            return ERR_BAD_HANDLE
        if clip.name == "Output":
            pixels, bounds = state["output"], state["output_bounds"]
            data, row_bytes = pixels.ctypes.data, pixels.strides[0]  # already bottom-up
        else:
            if clip.frames is None:
                return FAILED
            frame = np.ascontiguousarray(clip.frames(time))  # top-down, at the render scale
            h, w = frame.shape[:2]
            x1, y1, x2, y2 = state["rois"].get(clip.name, (0, 0, w, h))
            x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
            if x1 >= x2 or y1 >= y2:
                return FAILED
            top_down = frame[h - y2:h - y1, x1:x2]
            if state["negative_rows"]:  # rows as they are, walked upwards from the last one
                pixels = top_down
                data = pixels.ctypes.data + (pixels.shape[0] - 1) * pixels.strides[0]
                row_bytes = -pixels.strides[0]
            else:
                pixels = np.ascontiguousarray(top_down[::-1])
                data, row_bytes = pixels.ctypes.data, pixels.strides[0]
            bounds = (x1, y1, x2, y2)
        comps = pixels.shape[2] if pixels.ndim == 3 else 1
        image = PropertySet(
            "image", OfxPropType="OfxTypeImage", OfxImagePropBounds=list(bounds),
            OfxImagePropRegionOfDefinition=list(bounds), OfxImagePropRowBytes=int(row_bytes),
            OfxImageEffectPropPixelDepth=DEPTHS[pixels.dtype], OfxImageEffectPropComponents=COMPONENTS[comps],
            OfxImagePropPixelAspectRatio=1.0, OfxImageEffectPropRenderScale=list(map(float, state["scale"])),
            OfxImagePropField="OfxFieldNone", OfxImagePropUniqueIdentifier=f"{clip.name}-{time}",
            OfxImageEffectPropPreMultiplication="OfxImageAlphaPremultiplied" if comps == 4 else "OfxImageOpaque",
        )
        image.set("OfxImagePropData", data, "ptr")
        image._keep = pixels
        with self._lock:
            self.images_out += 1
        out[0] = self._register(image)
        return OK

    def _clip_release_image(self, handle):
        with self._lock:
            obj = self._objects.get(int(handle or 0))
            if not isinstance(obj, PropertySet) or obj.kind != "image":
                return ERR_BAD_HANDLE
            del self._objects[int(handle)]
            self._handles.pop(id(obj), None)
            self.images_out -= 1
        return OK


class Plugin:
    def __init__(self, host: OfxHost, struct: OfxPluginStruct):
        self.host, self.struct = host, struct
        self.identifier = struct.pluginIdentifier.decode()
        self.api = struct.pluginApi.decode()
        self.descriptor = None
        struct.setHost(C.pointer(host.struct))

    def action(self, name: str, handle=None, in_args: PropertySet | None = None,
               out_args: PropertySet | None = None) -> int:
        h = self.host._handle_of
        return self.struct.mainEntry(name.encode(), handle, h(in_args) if in_args else None,
                                     h(out_args) if out_args else None)

    def load(self) -> int:
        return self.action("OfxActionLoad")

    def unload(self) -> int:
        return self.action("OfxActionUnload")

    def describe(self) -> int:
        self.descriptor = Effect(self.host, "descriptor")
        return self.action("OfxActionDescribe", self.descriptor.handle)

    def describe_in_context(self, context: str) -> tuple:
        """(status, the context's descriptor: its clips and parameters)."""
        d = Effect(self.host, "descriptor", context)
        d.props.values.update(self.descriptor.props.values)
        d.props.set("OfxImageEffectPropContext", CONTEXTS[context])
        status = self.action("OfxImageEffectActionDescribeInContext", d.handle,
                             PropertySet("in", OfxImageEffectPropContext=CONTEXTS[context]))
        return status, d

    def create_instance(self, context: str, values: dict | None = None, project=(1920, 1080),
                        fps: float = 24.0) -> "Instance":
        status, d = self.describe_in_context(context)
        if status != OK:
            raise RuntimeError(f"describeInContext returned {status}")
        inst = Instance(self, d, context, values or {}, project, fps)
        status = self.action("OfxActionCreateInstance", inst.handle)
        if status != OK:
            raise RuntimeError(f"createInstance returned {status}")
        return inst


class Instance(Effect):
    def __init__(self, plugin: Plugin, descriptor: Effect, context: str, values: dict, project, fps):
        super().__init__(plugin.host, "instance", context)
        self.plugin = plugin
        w, h = project
        self.props.set("OfxPropType", "OfxTypeImageEffectInstance")
        self.props.set("OfxImageEffectPropProjectSize", [float(w), float(h)])
        self.props.set("OfxImageEffectPropProjectExtent", [float(w), float(h)])
        self.props.set("OfxImageEffectPropProjectOffset", [0.0, 0.0])
        self.props.set("OfxImageEffectPropPixelAspectRatio", 1.0)
        self.props.set("OfxImageEffectPropFrameRate", float(fps))
        self.props.set("OfxPropIsInteractive", 0)
        self.props.set("OfxPropInstanceData", 0, "ptr")
        for name, clip in descriptor.clips.items():
            c = Clip(name, PropertySet("clip", OfxPropName=name, OfxImageClipPropConnected=0,
                                       OfxImagePropPixelAspectRatio=1.0))
            c.props.values.update({k: v for k, v in clip.props.values.items() if k != "OfxImageClipPropConnected"})
            self.clips[name] = c
        for name, param in descriptor.params.items():
            p = Param(param.type, name, PropertySet("param"))
            p.props.values.update(param.props.values)
            if name in values:
                p.value = values[name]
            self.params[name] = p

    def set_param(self, name, value):
        self.params[name].value = value

    def begin_sequence(self, frame_range=(0, 0), scale=(1.0, 1.0)) -> int:
        return self.plugin.action("OfxImageEffectActionBeginSequenceRender", self.handle, PropertySet(
            "in", OfxImageEffectPropFrameRange=[float(frame_range[0]), float(frame_range[1])],
            OfxImageEffectPropFrameStep=1.0, OfxPropIsInteractive=0,
            OfxImageEffectPropRenderScale=[float(scale[0]), float(scale[1])],
            OfxImageEffectPropSequentialRenderStatus=0, OfxImageEffectPropInteractiveRenderStatus=0))

    def end_sequence(self, frame_range=(0, 0), scale=(1.0, 1.0)) -> int:
        return self.plugin.action("OfxImageEffectActionEndSequenceRender", self.handle, PropertySet(
            "in", OfxImageEffectPropFrameRange=[float(frame_range[0]), float(frame_range[1])],
            OfxImageEffectPropFrameStep=1.0, OfxPropIsInteractive=0,
            OfxImageEffectPropRenderScale=[float(scale[0]), float(scale[1])],
            OfxImageEffectPropSequentialRenderStatus=0, OfxImageEffectPropInteractiveRenderStatus=0))

    def destroy(self) -> int:
        return self.plugin.action("OfxActionDestroyInstance", self.handle)

    def connect(self, clip: str, frames, full_size=None):
        """Connect a clip: `frames` a top-down [H,W,C] array (every time) or a callable time -> array;
        `full_size` (w, h) its extent at render scale 1 (default: the array's)."""
        c = self.clips[clip]
        c.frames = frames if callable(frames) else (lambda t, f=frames: f)
        sample = c.frames(0.0)
        w, h = full_size or (sample.shape[1], sample.shape[0])
        c.rod = (0.0, 0.0, float(w), float(h))
        c.props.set("OfxImageClipPropConnected", 1)
        c.props.set("OfxImageEffectPropPixelDepth", DEPTHS[sample.dtype])
        c.props.set("OfxImageEffectPropComponents", COMPONENTS[sample.shape[2] if sample.ndim == 3 else 1])

    # -- actions ---------------------------------------------------------------------------
    def region_of_definition(self, time=0.0, scale=(1.0, 1.0)) -> tuple:
        """(status, canonical rect): the plug-in's answer, or the host default."""
        out = PropertySet("out", OfxImageEffectPropRegionOfDefinition=[0.0, 0.0, 0.0, 0.0])
        status = self.plugin.action("OfxImageEffectActionGetRegionOfDefinition", self.handle, PropertySet(
            "in", OfxPropTime=float(time), OfxImageEffectPropRenderScale=[float(s) for s in scale]), out)
        if status == OK:
            return status, tuple(out.get("OfxImageEffectPropRegionOfDefinition"))
        src = self.clips.get("Source")
        if src is not None and src.rod is not None:
            return status, src.rod
        w, h = self.props.get("OfxImageEffectPropProjectSize")
        return status, (0.0, 0.0, w, h)

    def regions_of_interest(self, time, window_canonical, scale) -> tuple:
        defaults = {f"OfxImageClipPropRoI_{name}": list(window_canonical) for name in self.clips if name != "Output"}
        out = PropertySet("out", **defaults)
        status = self.plugin.action("OfxImageEffectActionGetRegionsOfInterest", self.handle, PropertySet(
            "in", OfxPropTime=float(time), OfxImageEffectPropRenderScale=[float(s) for s in scale],
            OfxImageEffectPropRegionOfInterest=[float(v) for v in window_canonical]), out)
        return status, {k[len("OfxImageClipPropRoI_"):]: tuple(out.get(k)) for k in defaults}

    def is_identity(self, time, window, scale) -> tuple:
        out = PropertySet("out", OfxPropName="", OfxPropTime=float(time))
        status = self.plugin.action("OfxImageEffectActionIsIdentity", self.handle, PropertySet(
            "in", OfxPropTime=float(time), OfxImageEffectPropFieldToRender="OfxFieldNone",
            OfxImageEffectPropRenderWindow=list(window), OfxImageEffectPropRenderScale=[float(s) for s in scale]), out)
        return status, out.get("OfxPropName", 0), out.get("OfxPropTime", 0)

    def render(self, time=0.0, source=None, dtype=None, channels=4, scale=(1.0, 1.0), tiles=None,
               negative_rows=False, matte=None, statuses=None, identity=True) -> np.ndarray:
        """Render the frame: the host asks the region of definition, then per window (the whole frame,
        or each (x1, y1, x2, y2) of `tiles`, top-down pixel coordinates) identity, regions of interest
        and render. Returns the top-down [H,W,channels] frame; `statuses` collects each action's status."""
        if source is not None:
            self.connect("Source", source, getattr(source, "full_size", None))
        if matte is not None:
            self.connect("Matte", matte)
        statuses = statuses if statuses is not None else []
        _, rod = self.region_of_definition(time, scale)
        sx, sy = scale
        px = (int(np.floor(rod[0] * sx)), int(np.floor(rod[1] * sy)), int(np.ceil(rod[2] * sx)),
              int(np.ceil(rod[3] * sy)))
        w, h = px[2] - px[0], px[3] - px[1]
        src = self.clips.get("Source")
        if dtype is None:  # the Source's depth (no multiple clip depths), float for a generator
            dtype = src.frames(time).dtype if src is not None and src.frames is not None else np.float32
        output = np.zeros((h, w, channels), np.dtype(dtype))  # bottom-up rows
        self.clips["Output"].props.set("OfxImageEffectPropPixelDepth", DEPTHS[np.dtype(dtype)])
        self.clips["Output"].props.set("OfxImageEffectPropComponents", COMPONENTS[channels])
        windows = [(0, 0, w, h)] if tiles is None else list(tiles)
        state = {"output": output, "output_bounds": px, "scale": scale, "rois": {}, "negative_rows": negative_rows}
        self.host._local.render = state
        try:
            for x1, ty1, x2, ty2 in windows:
                window = [px[0] + x1, px[1] + (h - ty2), px[0] + x2, px[1] + (h - ty1)]  # bottom-up
                canonical = (window[0] / sx, window[1] / sy, window[2] / sx, window[3] / sy)
                if identity and self.clips.get("Source") is not None:
                    status, clip, _ = self.is_identity(time, window, scale)
                    statuses.append(("identity", status))
                    if status == OK and clip == "Source":
                        frame = self.clips["Source"].frames(time)
                        output[window[1] - px[1]:window[3] - px[1], window[0] - px[0]:window[2] - px[0]] = \
                            frame[::-1][window[1]:window[3], window[0]:window[2], :channels]
                        continue
                if self.clips.get("Source") is not None:
                    status, rois = self.regions_of_interest(time, canonical, scale)
                    statuses.append(("roi", status))
                    state["rois"] = {name: (int(np.floor(r[0] * sx)), int(np.floor(r[1] * sy)),
                                            int(np.ceil(r[2] * sx)), int(np.ceil(r[3] * sy)))
                                     for name, r in rois.items()}
                status = self.plugin.action("OfxImageEffectActionRender", self.handle, PropertySet(
                    "in", OfxPropTime=float(time), OfxImageEffectPropFieldToRender="OfxFieldNone",
                    OfxImageEffectPropRenderWindow=window, OfxImageEffectPropRenderScale=[float(s) for s in scale],
                    OfxImageEffectPropSequentialRenderStatus=0, OfxImageEffectPropInteractiveRenderStatus=0,
                    OfxImageEffectPropRenderQualityDraft=0))
                statuses.append(("render", status))
        finally:
            self.host._local.render = None
        return output[::-1]
