// ganfx.ofx: one OpenFX image effect per ganfx model (docs/architecture.md, "The native OpenFX
// bundle"). Effect models are filters, texture models generators; each is described from its
// contract, and renders through ganfx_core.cpp, the C++ port of the Python runtime.
//
// Models: the .onnx files of the folders named by GANFX_OFX_MODELS (':' separated), then the
// bundle's own Contents/Resources/models; a name seen twice is taken from the first folder.
// OFX's bottom-left origin is turned into the runtime's top-left here: row 0 of a frame is its
// top row, at the top of the region of definition.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "ganfx_core.h"
#include "ofx_decls.h"
#include "ort_model.h"

#define GANFX_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

using ganfx::Depth;
using ganfx::Error;

constexpr size_t kMaxPlugins = 256;
constexpr const char* kModelsEnv = "GANFX_OFX_MODELS";
constexpr const char* kMatteClip = "Matte";

OfxHost* g_host = nullptr;
const OfxPropertySuiteV1* gProp = nullptr;
const OfxImageEffectSuiteV1* gEffect = nullptr;
const OfxParameterSuiteV1* gParam = nullptr;
const OfxMessageSuiteV1* gMessage = nullptr;
const OfxMessageSuiteV2* gMessage2 = nullptr;
std::mutex g_suites_mutex;

struct PluginEntry {
  std::string path, identifier, stem;
  OfxPlugin plugin{};
  std::mutex mutex;
  std::shared_ptr<ganfx::OnnxModel> model;  // from kOfxActionLoad to kOfxActionUnload
};

std::vector<std::unique_ptr<PluginEntry>> g_plugins;
std::once_flag g_scanned;

struct Instance {
  PluginEntry* entry = nullptr;
  std::shared_ptr<ganfx::OnnxModel> model;
  OfxImageEffectHandle effect = nullptr;
  bool filter = true;
  OfxImageClipHandle source = nullptr, output = nullptr, matte = nullptr;
  std::map<std::string, OfxParamHandle> params;
  std::atomic<bool> persistent{false};  // a persistent error message is showing
};

// ---- small helpers ----------------------------------------------------------------------
void ok(OfxStatus status, const char* what) {
  if (status != kOfxStatOK) throw Error(std::string("the host refused ") + what + " (status " + std::to_string(status) + ")");
}

std::string get_string(OfxPropertySetHandle props, const char* name, const std::string& fallback = "") {
  char* value = nullptr;
  if (gProp->propGetString(props, name, 0, &value) != kOfxStatOK || !value) return fallback;
  return value;
}

double get_double(OfxPropertySetHandle props, const char* name, int index, double fallback) {
  double v = fallback;
  if (gProp->propGetDouble(props, name, index, &v) != kOfxStatOK) return fallback;
  return v;
}

int get_int(OfxPropertySetHandle props, const char* name, int index, int fallback) {
  int v = fallback;
  if (gProp->propGetInt(props, name, index, &v) != kOfxStatOK) return fallback;
  return v;
}

OfxPropertySetHandle effect_props(OfxImageEffectHandle effect) {
  OfxPropertySetHandle props = nullptr;
  ok(gEffect->getPropertySet(effect, &props), "getPropertySet");
  return props;
}

OfxPropertySetHandle clip_props(OfxImageClipHandle clip) {
  OfxPropertySetHandle props = nullptr;
  ok(gEffect->clipGetPropertySet(clip, &props), "clipGetPropertySet");
  return props;
}

Instance* instance_of(OfxImageEffectHandle effect) {
  void* data = nullptr;
  if (gProp->propGetPointer(effect_props(effect), kOfxPropInstanceData, 0, &data) != kOfxStatOK || !data)
    throw Error("the host lost the plugin's instance data");
  return static_cast<Instance*>(data);
}

void post(void* handle, const std::string& text, bool persistent) {
  if (persistent && gMessage2 && handle) {
    gMessage2->setPersistentMessage(handle, kOfxMessageError, "", "%s", text.c_str());
  } else if (gMessage) {
    gMessage->message(handle, kOfxMessageError, "", "%s", text.c_str());
  }
}

bool fetch_suites() {
  std::lock_guard<std::mutex> lock(g_suites_mutex);
  if (gProp && gEffect && gParam) return true;
  if (!g_host || !g_host->fetchSuite) return false;
  gProp = static_cast<const OfxPropertySuiteV1*>(g_host->fetchSuite(g_host->host, kOfxPropertySuite, 1));
  gEffect = static_cast<const OfxImageEffectSuiteV1*>(g_host->fetchSuite(g_host->host, kOfxImageEffectSuite, 1));
  gParam = static_cast<const OfxParameterSuiteV1*>(g_host->fetchSuite(g_host->host, kOfxParameterSuite, 1));
  gMessage2 = static_cast<const OfxMessageSuiteV2*>(g_host->fetchSuite(g_host->host, kOfxMessageSuite, 2));
  gMessage = gMessage2 ? reinterpret_cast<const OfxMessageSuiteV1*>(gMessage2)
                       : static_cast<const OfxMessageSuiteV1*>(g_host->fetchSuite(g_host->host, kOfxMessageSuite, 1));
  return gProp && gEffect && gParam;
}

// ---- the models folder ------------------------------------------------------------------
bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::vector<std::string> model_folders() {
  std::vector<std::string> out;
  if (const char* env = std::getenv(kModelsEnv)) {
    std::string list = env;
    size_t start = 0;
    while (start <= list.size()) {
      size_t colon = list.find(':', start);
      std::string folder = list.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
      if (!folder.empty()) {
        if (folder[0] == '~' && std::getenv("HOME")) folder = std::getenv("HOME") + folder.substr(1);
        out.push_back(folder);
      }
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
  }
  out.push_back(ganfx::plugin_binary_folder() + "/../Resources/models");
  return out;
}

std::string identifier_of(const std::string& stem) {
  std::string id = "org.ganfx.";
  for (char c : stem) id += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.') ? c : '_';
  return id;
}

OfxStatus main_entry_of(size_t index, const char* action, const void* handle, OfxPropertySetHandle in,
                        OfxPropertySetHandle out);

template <size_t I>
OfxStatus main_entry(const char* action, const void* handle, OfxPropertySetHandle in, OfxPropertySetHandle out) {
  return main_entry_of(I, action, handle, in, out);
}

template <size_t... I>
constexpr std::array<OfxPluginEntryPoint*, sizeof...(I)> entry_table(std::index_sequence<I...>) {
  return {{&main_entry<I>...}};
}

const std::array<OfxPluginEntryPoint*, kMaxPlugins> kEntries = entry_table(std::make_index_sequence<kMaxPlugins>{});

void set_host(OfxHost* host) { g_host = host; }

void scan_models() {
  std::vector<std::string> seen;
  for (const std::string& folder : model_folders()) {
    DIR* dir = opendir(folder.c_str());
    if (!dir) continue;
    std::vector<std::string> names;
    while (dirent* e = readdir(dir)) {
      std::string name = e->d_name;
      if (name.size() > 5 && ends_with(name, ".onnx") && !ends_with(name, ".fp16.onnx") && name[0] != '.')
        names.push_back(name);
    }
    closedir(dir);
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      std::string stem = name.substr(0, name.size() - 5);
      if (std::find(seen.begin(), seen.end(), stem) != seen.end() || g_plugins.size() >= kMaxPlugins) continue;
      seen.push_back(stem);
      auto entry = std::make_unique<PluginEntry>();
      entry->path = folder + "/" + name;
      entry->stem = stem;
      entry->identifier = identifier_of(stem);
      OfxPlugin& p = entry->plugin;
      p.pluginApi = kOfxImageEffectPluginApi;
      p.apiVersion = kOfxImageEffectPluginApiVersion;
      p.pluginIdentifier = entry->identifier.c_str();
      p.pluginVersionMajor = 1;
      p.pluginVersionMinor = 0;
      p.setHost = &set_host;
      p.mainEntry = kEntries[g_plugins.size()];
      g_plugins.push_back(std::move(entry));
    }
  }
}

// ---- describing ---------------------------------------------------------------------------
bool json_number(const ganfx::Json& v, double* out) {
  if (v.type == ganfx::Json::Number) { *out = v.number; return true; }
  if (v.type == ganfx::Json::Bool) { *out = v.boolean ? 1.0 : 0.0; return true; }
  if (v.type == ganfx::Json::String) {
    char* end = nullptr;
    *out = std::strtod(v.text.c_str(), &end);
    return end && end != v.text.c_str();
  }
  return false;
}

bool json_truth(const ganfx::Json& v) {
  if (v.type == ganfx::Json::Bool) return v.boolean;
  if (v.type == ganfx::Json::Number) return v.number != 0.0;
  if (v.type == ganfx::Json::String) {
    std::string t = v.text;
    std::transform(t.begin(), t.end(), t.begin(), ::tolower);
    return t == "1" || t == "true" || t == "yes" || t == "on";
  }
  return false;
}

std::string json_text(const ganfx::Json& v) {
  if (v.type == ganfx::Json::String) return v.text;
  if (v.type == ganfx::Json::Bool) return v.boolean ? "True" : "False";
  if (v.type == ganfx::Json::Number) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.12g", v.number);
    return buf;
  }
  return "";
}

const char* const kRetiredWhy = "it rendered a smaller image and enlarged it bicubically, a blur rather than larger features";

int clamp_int(double v) { return static_cast<int>(std::max(-2147483648.0, std::min(2147483647.0, std::trunc(v)))); }

void define_param(OfxParamSetHandle set, const ganfx::ParamSpec& p) {
  const std::string& t = p.type;
  const char* type = t == "double" ? kOfxParamTypeDouble
                     : (t == "int" || t == "seed") ? kOfxParamTypeInteger
                     : t == "bool" ? kOfxParamTypeBoolean
                     : t == "choice" ? kOfxParamTypeChoice
                     : t == "rgb" ? kOfxParamTypeRGB
                     : kOfxParamTypeString;
  OfxPropertySetHandle props = nullptr;
  ok(gParam->paramDefine(set, type, p.name.c_str(), &props), "paramDefine");
  std::string label = p.retired ? p.label + " (removed)" : p.label;
  std::string hint = p.help;
  if (p.retired) hint = "removed: only " + json_text(p.default_value) + " is accepted (" + kRetiredWhy + ")";
  gProp->propSetString(props, kOfxPropLabel, 0, label.c_str());
  gProp->propSetString(props, kOfxParamPropScriptName, 0, p.name.c_str());
  if (!hint.empty()) gProp->propSetString(props, kOfxParamPropHint, 0, hint.c_str());
  const bool ranged = !p.retired;
  double d = 0.0;
  if (t == "double") {
    json_number(p.default_value, &d);
    gProp->propSetDouble(props, kOfxParamPropDefault, 0, d);
    if (ranged && p.has_min) {
      gProp->propSetDouble(props, kOfxParamPropMin, 0, p.min);
      gProp->propSetDouble(props, kOfxParamPropDisplayMin, 0, p.min);
    }
    if (ranged && p.has_max) {
      gProp->propSetDouble(props, kOfxParamPropMax, 0, p.max);
      gProp->propSetDouble(props, kOfxParamPropDisplayMax, 0, p.max);
    }
    gProp->propSetInt(props, kOfxParamPropAnimates, 0, p.animatable && !p.retired ? 1 : 0);
  } else if (t == "int" || t == "seed") {
    json_number(p.default_value, &d);
    gProp->propSetInt(props, kOfxParamPropDefault, 0, clamp_int(d));
    if (ranged && p.has_min) {
      gProp->propSetInt(props, kOfxParamPropMin, 0, clamp_int(p.min));
      gProp->propSetInt(props, kOfxParamPropDisplayMin, 0, clamp_int(p.min));
    }
    if (ranged && p.has_max) {
      gProp->propSetInt(props, kOfxParamPropMax, 0, clamp_int(p.max));
      gProp->propSetInt(props, kOfxParamPropDisplayMax, 0, clamp_int(std::min(p.max, t == "seed" ? 1000.0 : p.max)));
    }
    gProp->propSetInt(props, kOfxParamPropAnimates, 0, p.animatable && !p.retired ? 1 : 0);
  } else if (t == "bool") {
    gProp->propSetInt(props, kOfxParamPropDefault, 0, json_truth(p.default_value) ? 1 : 0);
    gProp->propSetInt(props, kOfxParamPropAnimates, 0, 0);
  } else if (t == "choice") {
    int index = 0;
    for (size_t i = 0; i < p.choices.size(); ++i) {
      gProp->propSetString(props, kOfxParamPropChoiceOption, static_cast<int>(i), p.choices[i].c_str());
      if (p.choices[i] == json_text(p.default_value)) index = static_cast<int>(i);
    }
    gProp->propSetInt(props, kOfxParamPropDefault, 0, index);
    gProp->propSetInt(props, kOfxParamPropAnimates, 0, 0);
  } else if (t == "rgb") {
    double rgb[3] = {1.0, 1.0, 1.0};
    const ganfx::Json& v = p.default_value;
    if (v.type == ganfx::Json::Array && v.items.size() == 3)
      for (int i = 0; i < 3; ++i) json_number(v.items[i], &rgb[i]);
    for (int i = 0; i < 3; ++i) gProp->propSetDouble(props, kOfxParamPropDefault, i, rgb[i]);
    gProp->propSetInt(props, kOfxParamPropAnimates, 0, p.animatable ? 1 : 0);
  } else {
    gProp->propSetString(props, kOfxParamPropDefault, 0, json_text(p.default_value).c_str());
    gProp->propSetString(props, kOfxParamPropStringMode, 0,
                         t == "file" ? kOfxParamStringIsFilePath : kOfxParamStringIsSingleLine);
    gProp->propSetInt(props, kOfxParamPropAnimates, 0, 0);
  }
}

void set_strings(OfxPropertySetHandle props, const char* name, std::initializer_list<const char*> values) {
  int i = 0;
  for (const char* v : values) gProp->propSetString(props, name, i++, v);
}

OfxStatus describe(PluginEntry& entry, OfxImageEffectHandle effect) {
  std::shared_ptr<ganfx::OnnxModel> model = entry.model;
  if (!model) throw Error(entry.path + ": the model could not be loaded");
  const ganfx::Contract& c = model->contract();
  OfxPropertySetHandle props = effect_props(effect);
  gProp->propSetString(props, kOfxPropLabel, 0, c.name.c_str());
  gProp->propSetString(props, kOfxPropShortLabel, 0, c.name.c_str());
  gProp->propSetString(props, kOfxPropLongLabel, 0, ("ganfx " + c.name).c_str());
  gProp->propSetString(props, kOfxImageEffectPluginPropGrouping, 0, "ganfx");
  std::string about = c.description;
  if (!c.license.empty()) about += (about.empty() ? "" : " ") + std::string("(licence: ") + c.license + ")";
  gProp->propSetString(props, kOfxPropPluginDescription, 0, about.c_str());
  int major = 1, minor = 0;
  std::sscanf(c.version.c_str(), "%d.%d", &major, &minor);
  gProp->propSetInt(props, kOfxPropVersion, 0, major);
  gProp->propSetInt(props, kOfxPropVersion, 1, minor);
  gProp->propSetString(props, kOfxPropVersionLabel, 0, c.version.c_str());
  gProp->propSetString(props, kOfxImageEffectPropSupportedContexts, 0,
                       c.kind == "effect" ? kOfxImageEffectContextFilter : kOfxImageEffectContextGenerator);
  set_strings(props, kOfxImageEffectPropSupportedPixelDepths, {kOfxBitDepthByte, kOfxBitDepthShort, kOfxBitDepthFloat});
  gProp->propSetInt(props, kOfxImageEffectPropSupportsTiles, 0, 1);
  gProp->propSetInt(props, kOfxImageEffectPropSupportsMultiResolution, 0, 1);
  gProp->propSetInt(props, kOfxImageEffectPropTemporalClipAccess, 0, 0);
  gProp->propSetInt(props, kOfxImageEffectPluginPropSingleInstance, 0, 0);
  gProp->propSetString(props, kOfxImageEffectPluginRenderThreadSafety, 0, kOfxImageEffectRenderFullySafe);
  gProp->propSetInt(props, kOfxImageEffectPluginPropHostFrameThreading, 0, 0);
  gProp->propSetInt(props, kOfxImageEffectPropSupportsMultipleClipDepths, 0, 0);
  gProp->propSetInt(props, kOfxImageEffectPropSupportsMultipleClipPARs, 0, 0);
  return kOfxStatOK;
}

OfxStatus describe_in_context(PluginEntry& entry, OfxImageEffectHandle effect, OfxPropertySetHandle in) {
  std::shared_ptr<ganfx::OnnxModel> model = entry.model;
  if (!model) throw Error(entry.path + ": the model could not be loaded");
  const ganfx::Contract& c = model->contract();
  std::string context = get_string(in, kOfxImageEffectPropContext);
  OfxPropertySetHandle clip = nullptr;
  if (context == kOfxImageEffectContextFilter || context == kOfxImageEffectContextGeneral) {
    ok(gEffect->clipDefine(effect, kOfxImageEffectSimpleSourceClipName, &clip), "clipDefine");
    set_strings(clip, kOfxImageEffectPropSupportedComponents, {kOfxImageComponentRGBA, kOfxImageComponentRGB});
    gProp->propSetInt(clip, kOfxImageEffectPropSupportsTiles, 0, 1);
    // As OpenFX effects have mask clips: optional, one channel, weighing the effect per pixel.
    ok(gEffect->clipDefine(effect, kMatteClip, &clip), "clipDefine");
    set_strings(clip, kOfxImageEffectPropSupportedComponents, {kOfxImageComponentAlpha});
    gProp->propSetInt(clip, kOfxImageClipPropOptional, 0, 1);
    gProp->propSetInt(clip, kOfxImageClipPropIsMask, 0, 1);
    gProp->propSetInt(clip, kOfxImageEffectPropSupportsTiles, 0, 1);
  }
  ok(gEffect->clipDefine(effect, kOfxImageEffectOutputClipName, &clip), "clipDefine");
  set_strings(clip, kOfxImageEffectPropSupportedComponents, {kOfxImageComponentRGBA, kOfxImageComponentRGB});
  gProp->propSetInt(clip, kOfxImageEffectPropSupportsTiles, 0, 1);
  OfxParamSetHandle params = nullptr;
  ok(gEffect->getParamSet(effect, &params), "getParamSet");
  for (const auto& p : c.params) define_param(params, p);
  return kOfxStatOK;
}

// ---- instances --------------------------------------------------------------------------
OfxStatus create_instance(PluginEntry& entry, OfxImageEffectHandle effect) {
  std::shared_ptr<ganfx::OnnxModel> model = entry.model;
  if (!model) throw Error(entry.path + ": the model could not be loaded");
  auto inst = std::make_unique<Instance>();
  inst->entry = &entry;
  inst->model = model;
  inst->effect = effect;
  inst->filter = model->contract().kind == "effect";
  OfxPropertySetHandle props = effect_props(effect);
  ok(gEffect->clipGetHandle(effect, kOfxImageEffectOutputClipName, &inst->output, nullptr), "the Output clip");
  if (inst->filter) {
    ok(gEffect->clipGetHandle(effect, kOfxImageEffectSimpleSourceClipName, &inst->source, nullptr), "the Source clip");
    if (gEffect->clipGetHandle(effect, kMatteClip, &inst->matte, nullptr) != kOfxStatOK) inst->matte = nullptr;
  }
  OfxParamSetHandle params = nullptr;
  ok(gEffect->getParamSet(effect, &params), "getParamSet");
  for (const auto& p : model->contract().params) {
    OfxParamHandle h = nullptr;
    if (gParam->paramGetHandle(params, p.name.c_str(), &h, nullptr) == kOfxStatOK && h) inst->params[p.name] = h;
  }
  ok(gProp->propSetPointer(props, kOfxPropInstanceData, 0, inst.get()), "setting the instance data");
  inst.release();
  return kOfxStatOK;
}

OfxStatus destroy_instance(OfxImageEffectHandle effect) {
  void* data = nullptr;
  OfxPropertySetHandle props = effect_props(effect);
  if (gProp->propGetPointer(props, kOfxPropInstanceData, 0, &data) == kOfxStatOK && data) {
    delete static_cast<Instance*>(data);
    gProp->propSetPointer(props, kOfxPropInstanceData, 0, nullptr);
  }
  return kOfxStatOK;
}

double param_double(const Instance& inst, const std::string& name, double time, double fallback) {
  auto it = inst.params.find(name);
  if (it == inst.params.end()) return fallback;
  double v = fallback;
  if (gParam->paramGetValueAtTime(it->second, time, &v) != kOfxStatOK) return fallback;
  return v;
}

int param_int(const Instance& inst, const std::string& name, double time, int fallback) {
  auto it = inst.params.find(name);
  if (it == inst.params.end()) return fallback;
  int v = fallback;
  if (gParam->paramGetValueAtTime(it->second, time, &v) != kOfxStatOK) return fallback;
  return v;
}

// Parameters a model exported by an older ganfx still lists but no longer honoured: only the
// default is accepted (plugin/gan_effect.py create_instance), anything else is one line.
void check_retired(const Instance& inst, double time) {
  for (const auto& p : inst.model->contract().params) {
    if (!p.retired) continue;
    double d = 0.0;
    json_number(p.default_value, &d);
    double v = p.type == "double" ? param_double(inst, p.name, time, d) : param_int(inst, p.name, time, clamp_int(d));
    if (v != d) {
      char value[64];
      std::snprintf(value, sizeof value, "%g", v);
      throw Error(inst.model->contract().name + ": parameter '" + p.name + "' was removed (" + kRetiredWhy +
                  "); this model was exported with it, but only " + p.name + "=" + json_text(p.default_value) +
                  " is accepted, got " + value + ": drop the parameter (for the old look, render smaller and "
                  "enlarge the result)");
    }
  }
}

// ---- geometry -----------------------------------------------------------------------------
struct PixelRect { int64_t x1, y1, x2, y2; };

// canonical -> pixel coordinates at `scale` (x also divided by the pixel aspect ratio), outward
PixelRect to_pixels(const OfxRectD& r, double sx, double sy, double par) {
  const double eps = 1e-6;
  auto lo = [&](double v) { return static_cast<int64_t>(std::floor(v + eps)); };
  auto hi = [&](double v) { return static_cast<int64_t>(std::ceil(v - eps)); };
  return PixelRect{lo(r.x1 * sx / par), lo(r.y1 * sy), hi(r.x2 * sx / par), hi(r.y2 * sy)};
}

double clip_par(OfxImageClipHandle clip) { return std::max(1e-6, get_double(clip_props(clip), kOfxImagePropPixelAspectRatio, 0, 1.0)); }

void render_scale(OfxPropertySetHandle in, double* sx, double* sy) {
  *sx = get_double(in, kOfxImageEffectPropRenderScale, 0, 1.0);
  *sy = get_double(in, kOfxImageEffectPropRenderScale, 1, 1.0);
  if (!(*sx > 0.0)) *sx = 1.0;
  if (!(*sy > 0.0)) *sy = 1.0;
}

// The frame a generator fills: the project's extent (canonical).
OfxRectD project_extent(OfxImageEffectHandle effect) {
  OfxPropertySetHandle props = effect_props(effect);
  double ox = get_double(props, kOfxImageEffectPropProjectOffset, 0, 0.0);
  double oy = get_double(props, kOfxImageEffectPropProjectOffset, 1, 0.0);
  double w = get_double(props, kOfxImageEffectPropProjectSize, 0, 1920.0);
  double h = get_double(props, kOfxImageEffectPropProjectSize, 1, 1080.0);
  return OfxRectD{ox, oy, ox + w, oy + h};
}

// ---- images -------------------------------------------------------------------------------
struct Image {
  OfxPropertySetHandle handle = nullptr;
  char* data = nullptr;
  OfxRectI bounds{0, 0, 0, 0};
  int row_bytes = 0, comps = 0, bytes = 0;
  Depth depth = Depth::F32;
  Image() = default;
  Image(const Image&) = delete;
  Image& operator=(const Image&) = delete;
  ~Image() {
    if (handle) gEffect->clipReleaseImage(handle);
  }
  bool contains(int64_t x, int64_t y) const { return x >= bounds.x1 && x < bounds.x2 && y >= bounds.y1 && y < bounds.y2; }
  char* pixel(int64_t x, int64_t y) const {
    return data + (y - bounds.y1) * static_cast<int64_t>(row_bytes) + (x - bounds.x1) * static_cast<int64_t>(comps) * bytes;
  }
  float get(int64_t x, int64_t y, int c) const {
    const char* p = pixel(x, y);
    if (depth == Depth::U8) return static_cast<float>(reinterpret_cast<const uint8_t*>(p)[c]);
    if (depth == Depth::U16) return static_cast<float>(reinterpret_cast<const uint16_t*>(p)[c]);
    return reinterpret_cast<const float*>(p)[c];
  }
  void set(int64_t x, int64_t y, int c, float v) const {
    char* p = pixel(x, y);
    if (depth == Depth::U8) reinterpret_cast<uint8_t*>(p)[c] = static_cast<uint8_t>(v);
    else if (depth == Depth::U16) reinterpret_cast<uint16_t*>(p)[c] = static_cast<uint16_t>(v);
    else reinterpret_cast<float*>(p)[c] = v;
  }
};

// false when the host has no image there (an unconnected or empty clip)
bool fetch_image(OfxImageClipHandle clip, double time, Image& img, const char* what) {
  if (gEffect->clipGetImage(clip, time, nullptr, &img.handle) != kOfxStatOK || !img.handle) {
    img.handle = nullptr;
    return false;
  }
  void* data = nullptr;
  gProp->propGetPointer(img.handle, kOfxImagePropData, 0, &data);
  img.data = static_cast<char*>(data);
  img.bounds.x1 = get_int(img.handle, kOfxImagePropBounds, 0, 0);
  img.bounds.y1 = get_int(img.handle, kOfxImagePropBounds, 1, 0);
  img.bounds.x2 = get_int(img.handle, kOfxImagePropBounds, 2, 0);
  img.bounds.y2 = get_int(img.handle, kOfxImagePropBounds, 3, 0);
  img.row_bytes = get_int(img.handle, kOfxImagePropRowBytes, 0, 0);
  std::string depth = get_string(img.handle, kOfxImageEffectPropPixelDepth);
  std::string comps = get_string(img.handle, kOfxImageEffectPropComponents);
  if (depth == kOfxBitDepthByte) { img.depth = Depth::U8; img.bytes = 1; }
  else if (depth == kOfxBitDepthShort) { img.depth = Depth::U16; img.bytes = 2; }
  else if (depth == kOfxBitDepthFloat) { img.depth = Depth::F32; img.bytes = 4; }
  else throw Error(std::string(what) + " image has pixel depth " + (depth.empty() ? "(none)" : depth) +
                   "; the plugin takes 8-bit, 16-bit and float");
  if (comps == kOfxImageComponentRGBA) img.comps = 4;
  else if (comps == kOfxImageComponentRGB) img.comps = 3;
  else if (comps == kOfxImageComponentAlpha) img.comps = 1;
  else throw Error(std::string(what) + " image has components " + (comps.empty() ? "(none)" : comps) +
                   "; the plugin takes RGBA, RGB and Alpha");
  if (!img.data && img.bounds.x2 > img.bounds.x1 && img.bounds.y2 > img.bounds.y1)
    throw Error(std::string(what) + " image has no pixel data");
  return true;
}

const char* colorspace_of(Depth d) { return d == Depth::F32 ? "linear" : "srgb"; }  // the media convention
float opaque(Depth d) { return d == Depth::U8 ? 255.0f : d == Depth::U16 ? 65535.0f : 1.0f; }

void clear_window(const Image& out, const OfxRectI& w) {
  for (int64_t y = std::max(w.y1, out.bounds.y1); y < std::min(w.y2, out.bounds.y2); ++y)
    for (int64_t x = std::max(w.x1, out.bounds.x1); x < std::min(w.x2, out.bounds.x2); ++x)
      for (int c = 0; c < out.comps; ++c) out.set(x, y, c, 0.0f);
}

// a matte pixel as frames.matte_of + as_matte make it: one channel (alpha, or luma of RGB), 0..1
float matte_value(const Image& m, int64_t x, int64_t y) {
  if (!m.contains(x, y)) return 0.0f;  // outside a clip: transparent black
  float v;
  if (m.comps == 1) v = m.get(x, y, 0);
  else if (m.comps == 4) v = m.get(x, y, 3);
  else {
    double luma = 0.2126 * m.get(x, y, 0) + 0.7152 * m.get(x, y, 1) + 0.0722 * m.get(x, y, 2);
    v = m.depth == Depth::F32 ? static_cast<float>(luma) : static_cast<float>(std::nearbyint(luma));
  }
  v = ganfx::to_unit(v, m.depth);
  return std::min(1.0f, std::max(0.0f, v));
}

// ---- actions ------------------------------------------------------------------------------
OfxStatus regions_of_interest(OfxImageEffectHandle effect, OfxPropertySetHandle in, OfxPropertySetHandle out) {
  Instance* inst = instance_of(effect);
  if (!inst->filter) return kOfxStatReplyDefault;
  const ganfx::Contract& c = inst->model->contract();
  double time = get_double(in, kOfxPropTime, 0, 0.0), sx, sy;
  render_scale(in, &sx, &sy);
  OfxRectD region{get_double(in, kOfxImageEffectPropRegionOfInterest, 0, 0.0),
                  get_double(in, kOfxImageEffectPropRegionOfInterest, 1, 0.0),
                  get_double(in, kOfxImageEffectPropRegionOfInterest, 2, 0.0),
                  get_double(in, kOfxImageEffectPropRegionOfInterest, 3, 0.0)};
  OfxRectD rod{0, 0, 0, 0};
  if (gEffect->clipGetRegionOfDefinition(inst->source, time, &rod) != kOfxStatOK)
    return kOfxStatReplyDefault;  // no source there yet: the host's default
  const double par = clip_par(inst->source);
  PixelRect f = to_pixels(rod, sx, sy, par), w = to_pixels(region, sx, sy, par);
  // top-down rows and columns of the frame, as the runtime counts them
  int64_t r0 = f.y2 - w.y2, r1 = f.y2 - w.y1, c0 = w.x1 - f.x1, c1 = w.x2 - f.x1;
  auto rows = ganfx::context_span(r0, r1, c.halo, c.multiple), cols = ganfx::context_span(c0, c1, c.halo, c.multiple);
  int64_t rr0 = std::max<int64_t>(rows.first, 0), rr1 = std::min<int64_t>(rows.second, f.y2 - f.y1);
  int64_t cc0 = std::max<int64_t>(cols.first, 0), cc1 = std::min<int64_t>(cols.second, f.x2 - f.x1);
  double roi[4];
  if (rr0 >= rr1 || cc0 >= cc1) {
    roi[0] = region.x1, roi[1] = region.y1, roi[2] = region.x2, roi[3] = region.y2;
  } else {
    roi[0] = (f.x1 + cc0) * par / sx;
    roi[1] = (f.y2 - rr1) / sy;
    roi[2] = (f.x1 + cc1) * par / sx;
    roi[3] = (f.y2 - rr0) / sy;
  }
  // the matte over the same pixels: tiles mix exactly as a whole frame
  for (const char* clip : {kOfxImageEffectSimpleSourceClipName, kMatteClip}) {
    std::string name = std::string(kGanfxRoIPrefix) + clip;
    gProp->propSetDoubleN(out, name.c_str(), 4, roi);
  }
  return kOfxStatOK;
}

OfxStatus region_of_definition(OfxImageEffectHandle effect, OfxPropertySetHandle out) {
  Instance* inst = instance_of(effect);
  if (inst->filter) return kOfxStatReplyDefault;  // the source's extent
  OfxRectD r = project_extent(effect);
  double rod[4] = {r.x1, r.y1, r.x2, r.y2};
  gProp->propSetDoubleN(out, kOfxImageEffectPropRegionOfDefinition, 4, rod);
  return kOfxStatOK;
}

OfxStatus is_identity(OfxImageEffectHandle effect, OfxPropertySetHandle in, OfxPropertySetHandle out) {
  Instance* inst = instance_of(effect);
  if (!inst->filter) return kOfxStatReplyDefault;
  double time = get_double(in, kOfxPropTime, 0, 0.0);
  if (param_double(*inst, "strength", time, 1.0) > 0.0) return kOfxStatReplyDefault;
  gProp->propSetString(out, kOfxPropName, 0, kOfxImageEffectSimpleSourceClipName);  // strength 0: the source
  gProp->propSetDouble(out, kOfxPropTime, 0, time);
  return kOfxStatOK;
}

OfxStatus clip_preferences(OfxImageEffectHandle effect, OfxPropertySetHandle out) {
  Instance* inst = instance_of(effect);
  if (inst->filter) return kOfxStatReplyDefault;
  gProp->propSetInt(out, kOfxImageEffectFrameVarying, 0, 1);  // a texture moves with time
  gProp->propSetString(out, kOfxImageEffectPropPreMultiplication, 0, kOfxImageOpaque);
  return kOfxStatOK;
}

void render_effect_window(Instance& inst, double time, const OfxRectI& window, double sx, double sy, const Image& out) {
  const ganfx::Contract& c = inst.model->contract();
  Image src;
  if (!fetch_image(inst.source, time, src, "the Source")) throw Error(c.name + ": no Source image at frame " + std::to_string(time));
  OfxRectD rod{0, 0, 0, 0};
  ok(gEffect->clipGetRegionOfDefinition(inst.source, time, &rod), "the Source region of definition");
  const PixelRect f = to_pixels(rod, sx, sy, clip_par(inst.source));
  const int64_t H = f.y2 - f.y1, W = f.x2 - f.x1;
  clear_window(out, window);  // what lies outside the source stays transparent black
  const int64_t wx1 = std::max<int64_t>(window.x1, f.x1), wx2 = std::min<int64_t>(window.x2, f.x2);
  const int64_t wy1 = std::max<int64_t>(window.y1, f.y1), wy2 = std::min<int64_t>(window.y2, f.y2);
  if (wx1 >= wx2 || wy1 >= wy2) return;
  const int64_t r0 = f.y2 - wy2, r1 = f.y2 - wy1, c0 = wx1 - f.x1, c1 = wx2 - f.x1;
  auto rows = ganfx::context_span(r0, r1, c.halo, c.multiple), cols = ganfx::context_span(c0, c1, c.halo, c.multiple);
  const int64_t rr0 = std::max<int64_t>(rows.first, 0), rr1 = std::min<int64_t>(rows.second, H);
  const int64_t cc0 = std::max<int64_t>(cols.first, 0), cc1 = std::min<int64_t>(cols.second, W);
  ganfx::EffectPatch patch;
  patch.h = static_cast<int>(rr1 - rr0);
  patch.w = static_cast<int>(cc1 - cc0);
  patch.colorspace = colorspace_of(src.depth);
  patch.colour.resize(static_cast<size_t>(patch.h) * patch.w * 3);
  for (int i = 0; i < patch.h; ++i) {
    const int64_t y = f.y2 - 1 - (rr0 + i);
    for (int j = 0; j < patch.w; ++j) {
      const int64_t x = f.x1 + cc0 + j;
      float* p = &patch.colour[(static_cast<size_t>(i) * patch.w + j) * 3];
      if (!src.contains(x, y)) {
        p[0] = p[1] = p[2] = 0.0f;
      } else if (src.comps == 1) {
        p[0] = p[1] = p[2] = ganfx::to_unit(src.get(x, y, 0), src.depth);
      } else {
        for (int ch = 0; ch < 3; ++ch) p[ch] = ganfx::to_unit(src.get(x, y, ch), src.depth);
      }
    }
  }
  Image matte;
  bool connected = inst.matte && get_int(clip_props(inst.matte), kOfxImageClipPropConnected, 0, 0);
  if (connected && fetch_image(inst.matte, time, matte, "the Matte")) {
    patch.weight.resize(static_cast<size_t>(patch.h) * patch.w);
    for (int i = 0; i < patch.h; ++i)
      for (int j = 0; j < patch.w; ++j)
        patch.weight[static_cast<size_t>(i) * patch.w + j] = matte_value(matte, f.x1 + cc0 + j, f.y2 - 1 - (rr0 + i));
  }
  const float strength = static_cast<float>(param_double(inst, "strength", time, 1.0));
  const int tile = std::max(0, param_int(inst, "tile", time, 0));
  std::vector<float> rgb;
  ganfx::render_effect(c, *inst.model, patch, strength, tile, colorspace_of(out.depth), out.depth,
                       static_cast<int>(r0 - rr0), static_cast<int>(r1 - rr0), static_cast<int>(c0 - cc0),
                       static_cast<int>(c1 - cc0), rgb);
  const int64_t cols_n = c1 - c0;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t y = f.y2 - 1 - r;
    if (y < out.bounds.y1 || y >= out.bounds.y2) continue;
    for (int64_t q = c0; q < c1; ++q) {
      const int64_t x = f.x1 + q;
      if (x < out.bounds.x1 || x >= out.bounds.x2) continue;
      const float* v = &rgb[(static_cast<size_t>(r - r0) * cols_n + (q - c0)) * 3];
      if (out.comps == 1) {
        out.set(x, y, 0, src.comps == 4 && src.contains(x, y) ? src.get(x, y, 3) : opaque(out.depth));
        continue;
      }
      for (int ch = 0; ch < 3; ++ch) out.set(x, y, ch, v[ch]);
      if (out.comps == 4) {
        float a = opaque(out.depth);
        if (src.comps == 4 && src.contains(x, y)) {  // alpha passes through, never through the network
          a = src.get(x, y, 3);
          if (src.depth != out.depth) a = ganfx::from_unit(ganfx::to_unit(a, src.depth), out.depth);
        }
        out.set(x, y, 3, a);
      }
    }
  }
}

void render_texture_window(Instance& inst, double time, const OfxRectI& window, double sx, double sy, const Image& out) {
  const ganfx::Contract& c = inst.model->contract();
  OfxPropertySetHandle props = effect_props(inst.effect);
  double fps = get_double(props, kOfxImageEffectPropFrameRate, 0, 24.0);
  if (!(fps > 0.0)) fps = 24.0;
  const PixelRect f = to_pixels(project_extent(inst.effect), sx, sy, clip_par(inst.output));
  const int64_t Wp = f.x2 - f.x1, Hp = f.y2 - f.y1;
  clear_window(out, window);
  const int64_t wx1 = std::max<int64_t>(window.x1, f.x1), wx2 = std::min<int64_t>(window.x2, f.x2);
  const int64_t wy1 = std::max<int64_t>(window.y1, f.y1), wy2 = std::min<int64_t>(window.y2, f.y2);
  if (wx1 >= wx2 || wy1 >= wy2 || Wp < 1 || Hp < 1) return;
  const int64_t r0 = f.y2 - wy2, r1 = f.y2 - wy1, c0 = wx1 - f.x1, c1 = wx2 - f.x1;
  // A proxy render (scale < 1) shows the same texture, smaller: the full-resolution frame,
  // reduced to the window (plugin/gan_effect.py _render_texture).
  const int64_t Wf = std::max<int64_t>(1, static_cast<int64_t>(std::nearbyint(Wp / sx)));
  const int64_t Hf = std::max<int64_t>(1, static_cast<int64_t>(std::nearbyint(Hp / sy)));
  ganfx::TextureArgs args;
  args.width = Wf;
  args.height = Hf;
  args.seed = param_int(inst, "seed", time, 0);
  const double speed = param_double(inst, "speed", time, 1.0);
  const int loop = param_int(inst, "loop", time, 0);
  args.t = (time / fps) * speed;
  args.loop = loop ? (loop / fps) * speed : 0.0;
  args.tileable = param_int(inst, "tileable", time, 0) != 0;
  args.colorspace = colorspace_of(out.depth);
  std::vector<float> px;
  int channels = 0;
  const int64_t rows_n = r1 - r0, cols_n = c1 - c0;
  if (Wf == Wp && Hf == Hp) {
    ganfx::render_texture(c, *inst.model, args, r0, r1, c0, c1, px, channels);
  } else {
    auto ty = ganfx::area_taps(Hf, Hp, r0, r1), tx = ganfx::area_taps(Wf, Wp, c0, c1);
    int64_t fr0 = Hf, fr1 = 0, fc0 = Wf, fc1 = 0;
    for (const auto& t : ty) for (const auto& a : t) fr0 = std::min(fr0, a.src), fr1 = std::max(fr1, a.src + 1);
    for (const auto& t : tx) for (const auto& a : t) fc0 = std::min(fc0, a.src), fc1 = std::max(fc1, a.src + 1);
    std::vector<float> full;
    ganfx::render_texture(c, *inst.model, args, fr0, fr1, fc0, fc1, full, channels);
    const int64_t fw = fc1 - fc0;
    px.assign(static_cast<size_t>(rows_n) * cols_n * channels, 0.0f);
    for (int64_t r = 0; r < rows_n; ++r)
      for (int64_t q = 0; q < cols_n; ++q)
        for (int ch = 0; ch < channels; ++ch) {
          double sum = 0.0;
          for (const auto& a : ty[r]) {
            double row = 0.0;
            for (const auto& b : tx[q]) row += b.weight * full[(static_cast<size_t>(a.src - fr0) * fw + (b.src - fc0)) * channels + ch];
            sum += a.weight * row;
          }
          px[(static_cast<size_t>(r) * cols_n + q) * channels + ch] = static_cast<float>(sum);
        }
  }
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t y = f.y2 - 1 - r;
    if (y < out.bounds.y1 || y >= out.bounds.y2) continue;
    for (int64_t q = c0; q < c1; ++q) {
      const int64_t x = f.x1 + q;
      if (x < out.bounds.x1 || x >= out.bounds.x2) continue;
      const float* v = &px[(static_cast<size_t>(r - r0) * cols_n + (q - c0)) * channels];
      if (out.comps == 1) {
        out.set(x, y, 0, opaque(out.depth));
        continue;
      }
      for (int ch = 0; ch < 3; ++ch) out.set(x, y, ch, ganfx::from_unit(v[channels == 3 ? ch : 0], out.depth));
      if (out.comps == 4) out.set(x, y, 3, opaque(out.depth));
    }
  }
}

OfxStatus render(OfxImageEffectHandle effect, OfxPropertySetHandle in) {
  Instance* inst = instance_of(effect);
  double time = get_double(in, kOfxPropTime, 0, 0.0), sx, sy;
  render_scale(in, &sx, &sy);
  OfxRectI window{get_int(in, kOfxImageEffectPropRenderWindow, 0, 0), get_int(in, kOfxImageEffectPropRenderWindow, 1, 0),
                  get_int(in, kOfxImageEffectPropRenderWindow, 2, 0), get_int(in, kOfxImageEffectPropRenderWindow, 3, 0)};
  check_retired(*inst, time);
  Image out;
  if (!fetch_image(inst->output, time, out, "the Output"))
    throw Error(inst->model->contract().name + ": the host gave no Output image");
  if (inst->filter) render_effect_window(*inst, time, window, sx, sy, out);
  else render_texture_window(*inst, time, window, sx, sy, out);
  if (inst->persistent.exchange(false) && gMessage2) gMessage2->clearPersistentMessage(effect);
  return kOfxStatOK;
}

// ---- the entry point of every plug-in -------------------------------------------------------
OfxStatus load(PluginEntry& entry) {
  if (!fetch_suites()) return kOfxStatErrMissingHostFeature;
  std::lock_guard<std::mutex> lock(entry.mutex);
  if (!entry.model) entry.model = std::shared_ptr<ganfx::OnnxModel>(ganfx::OnnxModel::open(entry.path));
  return kOfxStatOK;
}

// One line to the host: on an instance a persistent message (cleared by the next good render),
// else a message. Never throws.
void report(OfxImageEffectHandle effect, const std::string& text, bool on_instance) {
  try {
    post(effect, text, on_instance);
    if (on_instance && gMessage2 && effect) instance_of(effect)->persistent = true;
  } catch (...) {
  }
}

OfxStatus dispatch(size_t index, const char* action, const void* handle, OfxPropertySetHandle in,
                   OfxPropertySetHandle out) {
  if (index >= g_plugins.size() || !action) return kOfxStatErrUnknown;
  PluginEntry& entry = *g_plugins[index];
  OfxImageEffectHandle effect = static_cast<OfxImageEffectHandle>(const_cast<void*>(handle));
  const std::string a = action;
  bool on_instance = false;
  try {
    if (a == kOfxActionLoad) return load(entry);
    if (!gProp || !gEffect || !gParam) return kOfxStatErrMissingHostFeature;
    if (a == kOfxActionUnload) {
      std::lock_guard<std::mutex> lock(entry.mutex);
      entry.model.reset();
      return kOfxStatOK;
    }
    if (a == kOfxActionDescribe) return describe(entry, effect);
    if (a == kOfxImageEffectActionDescribeInContext) return describe_in_context(entry, effect, in);
    if (a == kOfxActionCreateInstance) return create_instance(entry, effect);
    if (a == kOfxActionDestroyInstance) return destroy_instance(effect);
    on_instance = true;
    if (a == kOfxImageEffectActionRender) return render(effect, in);
    if (a == kOfxImageEffectActionGetRegionsOfInterest) return regions_of_interest(effect, in, out);
    if (a == kOfxImageEffectActionGetRegionOfDefinition) return region_of_definition(effect, out);
    if (a == kOfxImageEffectActionIsIdentity) return is_identity(effect, in, out);
    if (a == kOfxImageEffectActionGetClipPreferences) return clip_preferences(effect, out);
    if (a == kOfxImageEffectActionBeginSequenceRender || a == kOfxImageEffectActionEndSequenceRender) {
      instance_of(effect);  // a real instance of ours
      return kOfxStatOK;
    }
    return kOfxStatReplyDefault;
  } catch (const std::bad_alloc&) {
    report(effect, "ganfx " + entry.stem + ": out of memory", on_instance);
    return kOfxStatErrMemory;
  } catch (const Error& e) {
    report(effect, e.what(), on_instance);
    return e.memory ? kOfxStatErrMemory : kOfxStatFailed;
  } catch (const std::exception& e) {
    report(effect, "ganfx " + entry.stem + ": " + e.what(), on_instance);
    return kOfxStatFailed;
  } catch (...) {
    report(effect, "ganfx " + entry.stem + ": unexpected error", on_instance);
    return kOfxStatErrUnknown;
  }
}

// Nothing escapes into the host, not even an allocation failure while reporting one.
OfxStatus main_entry_of(size_t index, const char* action, const void* handle, OfxPropertySetHandle in,
                        OfxPropertySetHandle out) {
  try {
    return dispatch(index, action, handle, in, out);
  } catch (...) {
    return kOfxStatErrMemory;
  }
}

}  // namespace

// ---- what the binary exports ------------------------------------------------------------------
GANFX_EXPORT OfxStatus OfxSetHost(const OfxHost* host) {
  g_host = const_cast<OfxHost*>(host);
  return kOfxStatOK;
}

GANFX_EXPORT int OfxGetNumberOfPlugins(void) {
  try {
    std::call_once(g_scanned, scan_models);
  } catch (...) {
    return 0;
  }
  return static_cast<int>(g_plugins.size());
}

GANFX_EXPORT OfxPlugin* OfxGetPlugin(int nth) {
  OfxGetNumberOfPlugins();
  if (nth < 0 || static_cast<size_t>(nth) >= g_plugins.size()) return nullptr;
  return &g_plugins[nth]->plugin;
}

// Not OpenFX: the noise field a texture model reads, for checking it against runtime/noise.py.
// waves: n_waves (ky, kx) pairs; still: leading channels kept at t=0; out: [channels + 2 n_waves, h, w]
// float32. Returns 0, or 1 on error.
GANFX_EXPORT int ganfx_noise_window(int64_t seed, int channels, int periodic, int64_t period_y, int64_t period_x,
                                    double loop, const double* waves, int n_waves, int still, int64_t y0, int64_t x0,
                                    int h, int w, double t, float* out) {
  try {
    std::vector<std::pair<double, double>> k;
    for (int i = 0; i < n_waves; ++i) k.emplace_back(waves[2 * i], waves[2 * i + 1]);
    ganfx::NoiseField field(seed, channels, periodic != 0, period_y, period_x, loop, k, still);
    field.window(y0, x0, h, w, t, out);
    return 0;
  } catch (...) {
    return 1;
  }
}
