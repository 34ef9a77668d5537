// The checks the Python runtime makes on a model file before onnxruntime opens it
// (runtime/onnxfile.py, runtime/contract.py check_weights): a readable ONNX protobuf with a
// graph, external data only inside the model's folder, and weights that match the contract's
// ganfx.digest. The contract itself is read through onnxruntime (ort_model.cpp).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace ganfx {

struct OnnxFile {
  std::string path, folder;
  std::string bytes;                                  // the whole file
  std::vector<std::pair<size_t, size_t>> tensors;     // (offset, length) of every weight TensorProto
  std::vector<std::string> external_locations;
};

// Reads and walks the file; Error("<path>: not an ONNX model (...)") and the external-data errors.
OnnxFile read_onnx_file(const std::string& path);
// "sha256:<hex>" of the weights, as onnxfile.weights_digest computes it.
std::string weights_digest(const OnnxFile& file);

}  // namespace ganfx
