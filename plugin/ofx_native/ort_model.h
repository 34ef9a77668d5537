// A ganfx model opened with onnxruntime through its C API.
//
// onnxruntime is loaded by absolute path: the shared library that sits beside the plugin binary
// (found with dladdr), never by its soname, so a host that carries an onnxruntime of its own
// keeps it and the plugin gets the one it was built with. It is loaded once and stays loaded.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ganfx_core.h"
#include "ort_decls.h"

namespace ganfx {

class OnnxModel : public Network {
 public:
  // Opens `path`, reads and checks its contract (errors name the file). Throws Error.
  static std::unique_ptr<OnnxModel> open(const std::string& path);
  ~OnnxModel() override;

  const Contract& contract() const { return contract_; }
  const std::string& path() const { return path_; }
  // One network call; safe from several threads at once (onnxruntime sessions are).
  void run(const std::vector<float>& x, int c, int h, int w, std::vector<float>& y, int& yc, int& yh,
           int& yw) const override;

 private:
  OnnxModel() = default;
  std::string path_, file_;
  Contract contract_;
  OrtSession* session_ = nullptr;
  OrtMemoryInfo* memory_ = nullptr;
  bool input_half_ = false;
};

// The onnxruntime version string ("1.32.0"), loading the library if needed. Throws Error.
std::string onnxruntime_version();
// The folder of the plugin binary (where onnxruntime sits beside it).
std::string plugin_binary_folder();

}  // namespace ganfx
