// See onnx_check.h. The protobuf walk visits exactly the messages runtime/onnxfile.py visits, so
// a file it refuses is refused here with the same words, and the digest covers the same tensors.
#include "onnx_check.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "ganfx_core.h"

namespace ganfx {

namespace {

// ---- SHA-256 (FIPS 180-4) -----------------------------------------------------------------
// The round constants and initial hash are the first 32 bits of the fractional parts of the
// cube and square roots of the first primes, computed exactly with integer roots.
struct ShaConstants {
  uint32_t k[64], h0[8];
  ShaConstants() {
    int primes[64], n = 0;
    for (int c = 2; n < 64; ++c) {
      bool prime = true;
      for (int d = 2; d * d <= c; ++d) prime = prime && (c % d != 0);
      if (prime) primes[n++] = c;
    }
    for (int i = 0; i < 64; ++i) k[i] = root_fraction(primes[i], 3);
    for (int i = 0; i < 8; ++i) h0[i] = root_fraction(primes[i], 2);
  }
  // floor(frac(p^(1/r)) * 2^32): the integer r-th root of p * 2^(32r), minus the whole part
  static uint32_t root_fraction(int p, int r) {
    using u128 = unsigned __int128;
    const u128 target = static_cast<u128>(p) << (32 * r);
    uint64_t lo = 0, hi = uint64_t(1) << 40;
    while (hi - lo > 1) {
      uint64_t mid = lo + (hi - lo) / 2;
      u128 v = mid;
      for (int i = 1; i < r; ++i) v *= mid;
      (v <= target ? lo : hi) = mid;
    }
    return static_cast<uint32_t>(lo & 0xFFFFFFFFu);
  }
};

const ShaConstants& sha_constants() {
  static const ShaConstants c;
  return c;
}

class Sha256 {
 public:
  Sha256() { std::memcpy(h_, sha_constants().h0, sizeof h_); }
  void update(const void* data, size_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    total_ += n;
    while (n) {
      size_t take = std::min(n, size_t(64) - used_);
      std::memcpy(block_ + used_, p, take);
      used_ += take, p += take, n -= take;
      if (used_ == 64) {
        compress(block_);
        used_ = 0;
      }
    }
  }
  std::array<uint8_t, 32> digest() {
    uint64_t bits = total_ * 8;
    uint8_t pad = 0x80, zero = 0;
    update(&pad, 1);
    while (used_ != 56) update(&zero, 1);
    uint8_t length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(bits >> (56 - 8 * i));
    update(length, 8);
    std::array<uint8_t, 32> out;
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 4; ++j) out[4 * i + j] = static_cast<uint8_t>(h_[i] >> (24 - 8 * j));
    return out;
  }

 private:
  static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
  void compress(const uint8_t* b) {
    const uint32_t* k = sha_constants().k;
    uint32_t w[64];
    for (int i = 0; i < 16; ++i)
      w[i] = (uint32_t(b[4 * i]) << 24) | (uint32_t(b[4 * i + 1]) << 16) | (uint32_t(b[4 * i + 2]) << 8) | b[4 * i + 3];
    for (int i = 16; i < 64; ++i) {
      uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h_[0], bb = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
    for (int i = 0; i < 64; ++i) {
      uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & bb) ^ (a & c) ^ (bb & c));
      h = g, g = f, f = e, e = d + t1, d = c, c = bb, bb = a, a = t1 + t2;
    }
    h_[0] += a, h_[1] += bb, h_[2] += c, h_[3] += d, h_[4] += e, h_[5] += f, h_[6] += g, h_[7] += h;
  }
  uint32_t h_[8];
  uint8_t block_[64];
  size_t used_ = 0;
  uint64_t total_ = 0;
};

// ---- the protobuf wire format ---------------------------------------------------------------
struct WireError {
  std::string why;
};

struct Field {
  uint64_t number;
  int wire;
  uint64_t value;       // varint fields
  size_t start, size;   // length-delimited fields: where the bytes are (in the file)
};

// The fields of the message at [start, start+size) of `data`, as onnxfile._fields yields them.
std::vector<Field> fields(const std::string& data, size_t start, size_t size) {
  std::vector<Field> out;
  size_t pos = start;
  const size_t end = start + size;
  auto varint = [&](uint64_t* v) {
    uint64_t result = 0;
    int shift = 0;
    while (true) {
      if (pos >= end) throw WireError{"truncated varint"};
      uint8_t b = static_cast<uint8_t>(data[pos++]);
      if (shift < 64) result |= uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) break;
      shift += 7;
      if (shift > 70) throw WireError{"varint too long"};
    }
    *v = result;
  };
  while (pos < end) {
    uint64_t tag = 0;
    varint(&tag);
    Field f{tag >> 3, static_cast<int>(tag & 7), 0, 0, 0};
    if (f.number == 0) throw WireError{"field number 0"};
    if (f.wire == 0) {
      varint(&f.value);
    } else if (f.wire == 1) {
      pos += 8;
    } else if (f.wire == 2) {
      uint64_t length = 0;
      varint(&length);
      f.start = pos;
      f.size = static_cast<size_t>(std::min<uint64_t>(length, end - pos));
      if (length > end - pos) throw WireError{"truncated message"};
      pos += f.size;
    } else if (f.wire == 5) {
      pos += 4;
    } else {
      throw WireError{"unsupported wire type " + std::to_string(f.wire)};
    }
    if (pos > end) throw WireError{"truncated message"};
    out.push_back(f);
  }
  return out;
}

std::pair<std::string, std::string> entry(const std::string& data, const Field& f) {
  std::string key, value;
  for (const Field& e : fields(data, f.start, f.size)) {
    if (e.wire != 2) continue;
    if (e.number == 1) key = data.substr(e.start, e.size);
    else if (e.number == 2) value = data.substr(e.start, e.size);
  }
  return {key, value};
}

void walk_graph(const std::string& data, const Field& graph, OnnxFile& out, bool top);

void walk_tensor(const std::string& data, const Field& t, OnnxFile& out) {
  out.tensors.emplace_back(t.start, t.size);
  for (const Field& f : fields(data, t.start, t.size))
    if (f.number == 13 && f.wire == 2) {
      auto kv = entry(data, f);
      if (kv.first == "location") out.external_locations.push_back(kv.second);
    }
}

void walk_sparse(const std::string& data, const Field& s, OnnxFile& out) {
  for (const Field& f : fields(data, s.start, s.size))
    if ((f.number == 1 || f.number == 2) && f.wire == 2) walk_tensor(data, f, out);
}

void walk_node(const std::string& data, const Field& node, OnnxFile& out) {
  for (const Field& attr : fields(data, node.start, node.size)) {
    if (attr.number != 5 || attr.wire != 2) continue;
    for (const Field& a : fields(data, attr.start, attr.size)) {
      if (a.wire != 2) continue;
      if (a.number == 5 || a.number == 10) walk_tensor(data, a, out);
      else if (a.number == 22 || a.number == 23) walk_sparse(data, a, out);
      else if (a.number == 6 || a.number == 11) walk_graph(data, a, out, false);
    }
  }
}

void walk_value_info(const std::string& data, const Field& vi) {  // parsed as the runtime parses it
  for (const Field& a : fields(data, vi.start, vi.size))
    if (a.number == 2 && a.wire == 2)
      for (const Field& b : fields(data, a.start, a.size))
        if (b.number == 1 && b.wire == 2)
          for (const Field& c : fields(data, b.start, b.size))
            if (c.number == 2 && c.wire == 2)
              for (const Field& d : fields(data, c.start, c.size))
                if (d.number == 1 && d.wire == 2) fields(data, d.start, d.size);
}

void walk_graph(const std::string& data, const Field& graph, OnnxFile& out, bool top) {
  for (const Field& f : fields(data, graph.start, graph.size)) {
    if (f.wire != 2) continue;
    if (f.number == 1) walk_node(data, f, out);
    else if (f.number == 5) walk_tensor(data, f, out);
    else if (f.number == 15) walk_sparse(data, f, out);
    else if (top && (f.number == 11 || f.number == 12)) walk_value_info(data, f);
  }
}

std::string real_path(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) ? std::string(buf) : path;
}

bool is_file(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

void put_u32(Sha256& h, uint32_t v) {
  uint8_t b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
  h.update(b, 4);
}

void put_u64(Sha256& h, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; ++i) b[i] = uint8_t(v >> (8 * i));
  h.update(b, 8);
}

// _tensor_hash: name, element type and shape, then the data bytes (raw, external or typed fields)
std::array<uint8_t, 32> tensor_hash(const OnnxFile& file, size_t start, size_t size) {
  const std::string& data = file.bytes;
  std::string name;
  uint64_t dtype = 0;
  std::vector<uint64_t> dims;
  bool has_raw = false;
  size_t raw_start = 0, raw_size = 0;
  std::map<std::string, std::string> external;
  std::vector<Field> typed;
  for (const Field& f : fields(data, start, size)) {
    if (f.number == 8 && f.wire == 2) {
      name = data.substr(f.start, f.size);
    } else if (f.number == 2 && f.wire == 0) {
      dtype = f.value;
    } else if (f.number == 1) {
      if (f.wire == 2) {
        size_t pos = f.start, end = f.start + f.size;
        while (pos < end) {  // packed varints
          uint64_t v = 0;
          int shift = 0;
          while (true) {
            if (pos >= end) throw WireError{"truncated varint"};
            uint8_t b = static_cast<uint8_t>(data[pos++]);
            if (shift < 64) v |= uint64_t(b & 0x7F) << shift;
            if (!(b & 0x80)) break;
            shift += 7;
            if (shift > 70) throw WireError{"varint too long"};
          }
          dims.push_back(v);
        }
      } else {
        dims.push_back(f.value);
      }
    } else if (f.number == 9 && f.wire == 2) {
      has_raw = true, raw_start = f.start, raw_size = f.size;
    } else if (f.number == 13 && f.wire == 2) {
      auto kv = entry(data, f);
      external[kv.first] = kv.second;
    } else if (f.number == 3 || f.number == 4 || f.number == 5 || f.number == 6 || f.number == 7 ||
               f.number == 10 || f.number == 11 || f.number == 12) {
      typed.push_back(f);
    }
  }
  Sha256 h;
  put_u32(h, static_cast<uint32_t>(name.size()));
  h.update(name.data(), name.size());
  put_u64(h, dtype);
  put_u32(h, static_cast<uint32_t>(dims.size()));
  for (uint64_t d : dims) put_u64(h, d);
  if (has_raw) {
    h.update(data.data() + raw_start, raw_size);
  } else if (!external["location"].empty()) {
    const std::string& location = external["location"];
    char* end = nullptr;
    long long offset = external["offset"].empty() ? 0 : std::strtoll(external["offset"].c_str(), &end, 10);
    bool bad = end && *end;
    long long length = -1;
    if (!external["length"].empty()) {
      length = std::strtoll(external["length"].c_str(), &end, 10);
      bad = bad || (end && *end);
    }
    if (bad) throw Error(file.path + ": external data of " + quoted(location) + " has an invalid offset or length");
    std::ifstream in(file.folder + "/" + location, std::ios::binary);
    if (!in) throw Error(file.path + ": cannot read external data " + quoted(location));
    in.seekg(offset);
    std::vector<char> chunk(1 << 20);
    long long remaining = length;
    while (remaining != 0) {
      size_t want = remaining < 0 ? chunk.size() : static_cast<size_t>(std::min<long long>(remaining, chunk.size()));
      in.read(chunk.data(), static_cast<std::streamsize>(want));
      std::streamsize got = in.gcount();
      if (got <= 0) break;
      h.update(chunk.data(), static_cast<size_t>(got));
      if (remaining > 0) remaining -= got;
    }
    if (remaining > 0)
      throw Error(file.path + ": external data " + quoted(location) + " ends " + std::to_string(remaining) +
                  " bytes early");
  } else {
    for (const Field& f : typed) {  // data stored in the typed fields (packed or not)
      put_u32(h, static_cast<uint32_t>(f.number));
      uint8_t wire = static_cast<uint8_t>(f.wire);
      h.update(&wire, 1);
      if (f.wire == 0) put_u64(h, f.value);
      else if (f.wire == 2) h.update(data.data() + f.start, f.size);
    }
  }
  return h.digest();
}

}  // namespace

OnnxFile read_onnx_file(const std::string& path) {
  OnnxFile file;
  file.path = path;
  size_t slash = path.rfind('/');
  file.folder = slash == std::string::npos ? "." : path.substr(0, slash);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot read model file");
  std::ostringstream ss;
  ss << in.rdbuf();
  file.bytes = ss.str();
  bool graph = false;
  try {
    for (const Field& f : fields(file.bytes, 0, file.bytes.size())) {
      if (f.number == 7 && f.wire == 2) {
        graph = true;
        walk_graph(file.bytes, f, file, true);
      } else if (f.number == 14 && f.wire == 2) {
        entry(file.bytes, f);
      } else if (f.number == 25 && f.wire == 2) {
        for (const Field& g : fields(file.bytes, f.start, f.size))
          if (g.number == 7 && g.wire == 2) walk_node(file.bytes, g, file);
      }
    }
  } catch (const WireError& e) {
    throw Error(path + ": not an ONNX model (unreadable protobuf: " + e.why + ")");
  }
  if (!graph) throw Error(path + ": not an ONNX model (no graph found)");
  // external data must stay inside the model's folder (check_external_data)
  const std::string folder = real_path(file.folder);
  for (const std::string& location : file.external_locations) {
    if (location.empty() || location[0] == '/' || location[0] == '\\')
      throw Error(path + ": external data location " + quoted(location) + " is not a relative path");
    const std::string target = real_path(file.folder + "/" + location);
    if (target.compare(0, folder.size() + 1, folder + "/") != 0)
      throw Error(path + ": external data location " + quoted(location) + " points outside the model's folder");
    if (!is_file(target)) throw Error(path + ": external data file " + quoted(location) + " is missing");
  }
  return file;
}

std::string weights_digest(const OnnxFile& file) {
  std::vector<std::array<uint8_t, 32>> hashes;
  try {
    for (const auto& t : file.tensors) hashes.push_back(tensor_hash(file, t.first, t.second));
  } catch (const WireError& e) {
    throw Error(file.path + ": not an ONNX model (unreadable protobuf: " + e.why + ")");
  }
  std::sort(hashes.begin(), hashes.end());
  Sha256 total;
  for (const auto& h : hashes) total.update(h.data(), h.size());
  auto d = total.digest();
  static const char* hex = "0123456789abcdef";
  std::string out = "sha256:";
  for (uint8_t b : d) out += hex[b >> 4], out += hex[b & 15];
  return out;
}

}  // namespace ganfx
