#include "ort_model.h"

#include "onnx_check.h"

#include <dlfcn.h>
#include <sched.h>
#include <sys/stat.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

#ifndef GANFX_ORT_LIBRARY_NAME
#error "GANFX_ORT_LIBRARY_NAME (the onnxruntime library file shipped beside the plugin) must be defined"
#endif

namespace ganfx {

namespace {

struct Runtime {
  const OrtApi* api = nullptr;
  OrtEnv* env = nullptr;
  OrtAllocator* allocator = nullptr;
  std::string version;
};

std::mutex g_runtime_mutex;
Runtime g_runtime;
std::string g_runtime_error;

std::string first_line(const char* text) {
  std::string s = text ? text : "";
  size_t n = s.find('\n');
  if (n != std::string::npos) s = s.substr(0, n);
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s.empty() ? "unknown error" : s;
}

bool looks_like_memory(const std::string& message) {
  return message.find("bad_alloc") != std::string::npos || message.find("Failed to allocate") != std::string::npos ||
         message.find("out of memory") != std::string::npos;
}

// An onnxruntime status -> Error (one line, prefixed with what was being done); released here.
void check(const OrtApi* api, OrtStatus* status, const std::string& what) {
  if (!status) return;
  std::string message = first_line(api->GetErrorMessage(status));
  api->ReleaseStatus(status);
  throw Error(what + ": " + message, looks_like_memory(message));
}

int default_threads() {  // runtime/providers.py default_threads: GANFX_THREADS, else the usable CPUs
  if (const char* env = std::getenv("GANFX_THREADS")) {
    if (*env) {
      char* end = nullptr;
      long v = std::strtol(env, &end, 10);
      if (!end || *end != '\0' || v < 1 || v > 1024)
        throw Error(std::string("GANFX_THREADS must be a whole number from 1 to 1024, got '") + env + "'");
      return static_cast<int>(v);
    }
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return 0;  // onnxruntime's default
}

const Runtime& runtime() {
  std::lock_guard<std::mutex> lock(g_runtime_mutex);
  if (g_runtime.api) return g_runtime;
  if (!g_runtime_error.empty()) throw Error(g_runtime_error);
  std::string lib = plugin_binary_folder() + "/" + GANFX_ORT_LIBRARY_NAME;
  auto fail = [&](const std::string& why) -> const Runtime& {
    g_runtime_error = lib + ": " + why;
    throw Error(g_runtime_error);
  };
  // By absolute path and RTLD_LOCAL: our copy, whatever onnxruntime the host has loaded.
  void* handle = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) return fail(std::string("cannot load onnxruntime (") + first_line(dlerror()) + ")");
  auto get_base = reinterpret_cast<OrtGetApiBaseFunction>(dlsym(handle, GANFX_ORT_ENTRY_SYMBOL));
  if (!get_base) return fail("no " GANFX_ORT_ENTRY_SYMBOL " in it: not an onnxruntime library");
  const OrtApiBase* base = get_base();
  const OrtApi* api = base ? base->GetApi(GANFX_ORT_API_VERSION) : nullptr;
  if (!api) return fail("this onnxruntime does not offer C API version 5");
  Runtime rt;
  rt.api = api;
  rt.version = base->GetVersionString ? base->GetVersionString() : "?";
  OrtStatus* st = api->CreateEnv(ORT_LOGGING_LEVEL_ERROR, "ganfx", &rt.env);
  if (st) {
    std::string message = first_line(api->GetErrorMessage(st));
    api->ReleaseStatus(st);
    return fail("onnxruntime cannot start: " + message);
  }
  st = api->GetAllocatorWithDefaultOptions(&rt.allocator);
  if (st) {
    std::string message = first_line(api->GetErrorMessage(st));
    api->ReleaseStatus(st);
    return fail("onnxruntime has no allocator: " + message);
  }
  g_runtime = rt;  // never released: onnxruntime stays loaded with its threads for the process
  return g_runtime;
}

// float32 <-> IEEE half, rounding to nearest even (numpy's astype(float16))
uint16_t to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t mant = x & 0x7FFFFFu;
  int32_t exp = static_cast<int32_t>((x >> 23) & 0xFF);
  if (exp == 0xFF) return static_cast<uint16_t>(sign | 0x7C00u | (mant ? 0x200u : 0u));
  int32_t e = exp - 127 + 15;
  if (e >= 0x1F) return static_cast<uint16_t>(sign | 0x7C00u);
  if (e <= 0) {
    if (e < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    uint32_t shift = static_cast<uint32_t>(14 - e);
    uint32_t half = mant >> shift;
    uint32_t rest = mant & ((1u << shift) - 1u), mid = 1u << (shift - 1);
    if (rest > mid || (rest == mid && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;  // may carry into the exponent: right
  return static_cast<uint16_t>(sign | half);
}

float from_half(uint16_t h) {
  uint32_t sign = (static_cast<uint32_t>(h) & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
  uint32_t x;
  if (exp == 0) {
    if (mant == 0) {
      x = sign;
    } else {
      int e = -1;
      do { ++e; mant <<= 1; } while (!(mant & 0x400u));
      x = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3FFu) << 13);
    }
  } else if (exp == 0x1F) {
    x = sign | 0x7F800000u | (mant << 13);
  } else {
    x = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

struct TensorInfo {
  std::string name;
  ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
  std::vector<int64_t> dims;
};

TensorInfo tensor_info(const Runtime& rt, OrtSession* session, size_t index, bool input, const std::string& file) {
  const OrtApi* api = rt.api;
  TensorInfo info;
  char* name = nullptr;
  check(api, input ? api->SessionGetInputName(session, index, rt.allocator, &name)
                   : api->SessionGetOutputName(session, index, rt.allocator, &name),
        file);
  info.name = name ? name : "";
  if (name) {
    OrtStatus* st = api->AllocatorFree(rt.allocator, name);
    if (st) api->ReleaseStatus(st);
  }
  OrtTypeInfo* type = nullptr;
  check(api, input ? api->SessionGetInputTypeInfo(session, index, &type)
                   : api->SessionGetOutputTypeInfo(session, index, &type),
        file);
  const OrtTensorTypeAndShapeInfo* shape = nullptr;
  OrtStatus* st = api->CastTypeInfoToTensorInfo(type, &shape);
  if (st || !shape) {
    if (st) api->ReleaseStatus(st);
    api->ReleaseTypeInfo(type);
    throw Error(file + ": graph " + (input ? "input " : "output ") + "'" + info.name + "' is not a tensor");
  }
  size_t rank = 0;
  st = api->GetTensorElementType(shape, &info.type);
  if (!st) st = api->GetDimensionsCount(shape, &rank);
  if (!st) {
    info.dims.resize(rank);
    st = api->GetDimensions(shape, info.dims.data(), rank);
  }
  api->ReleaseTypeInfo(type);
  check(api, st, file);
  return info;
}

}  // namespace

std::string plugin_binary_folder() {
  Dl_info info;
  if (!dladdr(reinterpret_cast<void*>(&plugin_binary_folder), &info) || !info.dli_fname) return ".";
  std::string path = info.dli_fname;
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string onnxruntime_version() { return runtime().version; }

std::unique_ptr<OnnxModel> OnnxModel::open(const std::string& path) {
  std::unique_ptr<OnnxModel> model(new OnnxModel());
  model->path_ = path;
  model->file_ = path;
  const std::string& file = model->file_;
  struct stat st_file;
  if (stat(path.c_str(), &st_file) != 0) throw Error(file + ": model file not found");
  if (!S_ISREG(st_file.st_mode)) throw Error(file + ": is not a regular file");
  // what the runtime checks before onnxruntime sees the file: ONNX, external data inside its folder
  const OnnxFile onnx = read_onnx_file(path);
  const Runtime& rt = runtime();
  const OrtApi* api = rt.api;

  OrtSessionOptions* options = nullptr;
  check(api, api->CreateSessionOptions(&options), file);
  OrtStatus* st = nullptr;
  try {
    check(api, api->SetIntraOpNumThreads(options, default_threads()), file);
    check(api, api->SetInterOpNumThreads(options, 1), file);
    // failures come back as statuses (one line each); its own log would add lines in the host
    check(api, api->SetSessionLogSeverityLevel(options, 4), file);
    check(api, api->SetSessionGraphOptimizationLevel(options, ORT_ENABLE_ALL), file);
    // idle threads sleep: a host has its own work for the cores between renders
    check(api, api->AddSessionConfigEntry(options, "session.intra_op.allow_spinning", "0"), file);
    st = api->CreateSession(rt.env, path.c_str(), options, &model->session_);
    if (st) {
      std::string message = first_line(api->GetErrorMessage(st));
      api->ReleaseStatus(st);
      throw Error(file + ": onnxruntime cannot load it: " + message, looks_like_memory(message));
    }
  } catch (...) {
    api->ReleaseSessionOptions(options);
    throw;
  }
  api->ReleaseSessionOptions(options);

  // the contract, from the model's custom metadata map (ONNX metadata_props)
  OrtModelMetadata* metadata = nullptr;
  check(api, api->SessionGetModelMetadata(model->session_, &metadata), file);
  try {
    char** keys = nullptr;
    int64_t count = 0;
    bool has_ganfx = false;
    check(api, api->ModelMetadataGetCustomMetadataMapKeys(metadata, rt.allocator, &keys, &count), file);
    for (int64_t i = 0; i < count; ++i) {
      if (keys[i] && std::strncmp(keys[i], "ganfx.", 6) == 0) has_ganfx = true;
      OrtStatus* freed = api->AllocatorFree(rt.allocator, keys[i]);
      if (freed) api->ReleaseStatus(freed);
    }
    if (keys) {
      OrtStatus* freed = api->AllocatorFree(rt.allocator, keys);
      if (freed) api->ReleaseStatus(freed);
    }
    auto lookup = [&](const std::string& key, std::string* value) {
      char* text = nullptr;
      check(api, api->ModelMetadataLookupCustomMetadataMap(metadata, rt.allocator, key.c_str(), &text), file);
      if (!text) return false;
      *value = text;
      OrtStatus* freed = api->AllocatorFree(rt.allocator, text);
      if (freed) api->ReleaseStatus(freed);
      return true;
    };
    model->contract_ = parse_contract(lookup, has_ganfx, file);
  } catch (...) {
    api->ReleaseModelMetadata(metadata);
    throw;
  }
  api->ReleaseModelMetadata(metadata);

  const Contract& c = model->contract_;
  // the contract against the graph (ModelSpec.check_graph): names, rank 4, channels
  for (int role = 0; role < 2; ++role) {
    const bool input = role == 0;
    const TensorSpec& spec = input ? c.input : c.output;
    size_t count = 0;
    check(api, input ? api->SessionGetInputCount(model->session_, &count)
                     : api->SessionGetOutputCount(model->session_, &count),
          file);
    const char* what = input ? "input" : "output";
    if (count != 1) {
      throw Error(file + ": ganfx.io declares " + what + "s ['" + spec.name + "'] but the graph has " +
                  std::to_string(count));
    }
    TensorInfo info = tensor_info(rt, model->session_, 0, input, file);
    if (info.name != spec.name)
      throw Error(file + ": ganfx.io declares " + what + "s ['" + spec.name + "'] but the graph has ['" + info.name +
                  "']");
    if (info.dims.size() != 4)
      throw Error(file + ": graph " + what + " '" + info.name + "' has rank " + std::to_string(info.dims.size()) +
                  ", ganfx.io needs NCHW (rank 4)");
    if (info.dims[1] > 0 && info.dims[1] != spec.channels)
      throw Error(file + ": graph " + what + " '" + info.name + "' has " + std::to_string(info.dims[1]) +
                  " channels, ganfx.io declares " + std::to_string(spec.channels));
    if (info.type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT && info.type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16)
      throw Error(file + ": graph " + what + " '" + info.name + "' is neither float32 nor float16");
    if (input) model->input_half_ = info.type == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16;
  }
  // the weights against the contract's digest (contract.check_weights); a model without one loads
  if (!c.digest.empty()) {
    const std::string actual = weights_digest(onnx);
    if (actual != c.digest)
      throw Error(file + ": the weights do not match the contract's ganfx.digest (the file is damaged or was "
                  "changed after export): expected " + c.digest.substr(0, 19) + "..., found " + actual.substr(0, 19) +
                  "...");
  }
  check(api, api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &model->memory_), file);
  return model;
}

OnnxModel::~OnnxModel() {
  if (!g_runtime.api) return;
  if (memory_) g_runtime.api->ReleaseMemoryInfo(memory_);
  if (session_) g_runtime.api->ReleaseSession(session_);
}

void OnnxModel::run(const std::vector<float>& x, int c, int h, int w, std::vector<float>& y, int& yc, int& yh,
                    int& yw) const {
  const OrtApi* api = g_runtime.api;
  const size_t count = static_cast<size_t>(c) * h * w;
  const int64_t shape[4] = {1, c, h, w};
  std::vector<uint16_t> half;
  void* data = const_cast<float*>(x.data());
  size_t bytes = count * sizeof(float);
  ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  if (input_half_) {
    half.resize(count);
    for (size_t i = 0; i < count; ++i) half[i] = to_half(x[i]);
    data = half.data();
    bytes = count * sizeof(uint16_t);
    type = ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16;
  }
  OrtValue* input = nullptr;
  check(api, api->CreateTensorWithDataAsOrtValue(memory_, data, bytes, shape, 4, type, &input), file_);
  const char* in_names[1] = {contract_.input.name.c_str()};
  const char* out_names[1] = {contract_.output.name.c_str()};
  OrtValue* output = nullptr;
  OrtStatus* st = api->Run(session_, nullptr, in_names, &input, 1, out_names, 1, &output);
  api->ReleaseValue(input);
  if (st) {
    std::string message = first_line(api->GetErrorMessage(st));
    api->ReleaseStatus(st);
    throw Error(file_ + ": onnxruntime failed to run it: " + message, looks_like_memory(message));
  }
  try {
    OrtTensorTypeAndShapeInfo* info = nullptr;
    check(api, api->GetTensorTypeAndShape(output, &info), file_);
    size_t rank = 0;
    ONNXTensorElementDataType out_type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
    std::vector<int64_t> dims;
    OrtStatus* s2 = api->GetDimensionsCount(info, &rank);
    if (!s2) {
      dims.resize(rank);
      s2 = api->GetDimensions(info, dims.data(), rank);
    }
    if (!s2) s2 = api->GetTensorElementType(info, &out_type);
    api->ReleaseTensorTypeAndShapeInfo(info);
    check(api, s2, file_);
    if (rank != 4 || dims[0] != 1)
      throw Error(file_ + ": the network's output is not [1,C,H,W] for one frame");
    yc = static_cast<int>(dims[1]);
    yh = static_cast<int>(dims[2]);
    yw = static_cast<int>(dims[3]);
    void* out = nullptr;
    check(api, api->GetTensorMutableData(output, &out), file_);
    const size_t n = static_cast<size_t>(yc) * yh * yw;
    y.resize(n);
    if (out_type == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
      std::memcpy(y.data(), out, n * sizeof(float));
    } else if (out_type == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16) {
      const uint16_t* p = static_cast<const uint16_t*>(out);
      for (size_t i = 0; i < n; ++i) y[i] = from_half(p[i]);
    } else {
      throw Error(file_ + ": the network's output is neither float32 nor float16");
    }
  } catch (...) {
    api->ReleaseValue(output);
    throw;
  }
  api->ReleaseValue(output);
}

}  // namespace ganfx
