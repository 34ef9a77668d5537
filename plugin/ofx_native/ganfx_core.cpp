// See ganfx_core.h: each function here follows the Python function it names, operation for
// operation where the result depends on the order (float32 arithmetic, float64 waves).
#include "ganfx_core.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace ganfx {

namespace {

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::string num_text(double v) {
  std::ostringstream os;
  os.precision(12);
  os << v;
  return os.str();
}

}  // namespace

// ---- JSON -------------------------------------------------------------------------------
const Json* Json::get(const std::string& key) const {
  if (type != Object) return nullptr;
  const Json* found = nullptr;
  for (const auto& f : fields)
    if (f.first == key) found = &f.second;  // the last one wins, as in Python's json
  return found;
}

namespace {

struct JsonReader {
  const std::string& s;
  size_t pos = 0;
  int depth = 0;

  [[noreturn]] void fail(const std::string& why) const {
    throw Error("invalid JSON (" + why + " at character " + std::to_string(pos) + ")");
  }
  void space() {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r')) ++pos;
  }
  bool literal(const char* word) {
    size_t n = std::strlen(word);
    if (s.compare(pos, n, word) == 0) {
      pos += n;
      return true;
    }
    return false;
  }
  static void utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  uint32_t hex4() {
    if (pos + 4 > s.size()) fail("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s[pos++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else fail("bad \\u escape");
    }
    return v;
  }
  std::string string_value() {
    ++pos;  // opening quote
    std::string out;
    while (true) {
      if (pos >= s.size()) fail("unterminated string");
      char c = s[pos++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos >= s.size()) fail("unterminated string");
      char e = s[pos++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && s.compare(pos, 2, "\\u") == 0) {  // a surrogate pair
            pos += 2;
            uint32_t low = hex4();
            if (low >= 0xDC00 && low < 0xE000) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else {  // a lone high surrogate, then another character
              utf8(out, cp);
              cp = low;
            }
          }
          utf8(out, cp);
          break;
        }
        default: fail("bad escape");
      }
    }
  }
  Json value() {
    if (++depth > 500) fail("nested too deeply");
    space();
    if (pos >= s.size()) fail("expecting value");
    Json v;
    char c = s[pos];
    if (c == '{') {
      v.type = Json::Object;
      ++pos;
      space();
      if (pos < s.size() && s[pos] == '}') {
        ++pos;
      } else {
        while (true) {
          space();
          if (pos >= s.size() || s[pos] != '"') fail("expecting property name");
          std::string key = string_value();
          space();
          if (pos >= s.size() || s[pos] != ':') fail("expecting ':'");
          ++pos;
          v.fields.emplace_back(key, value());
          space();
          if (pos < s.size() && s[pos] == ',') { ++pos; continue; }
          if (pos < s.size() && s[pos] == '}') { ++pos; break; }
          fail("expecting ',' or '}'");
        }
      }
    } else if (c == '[') {
      v.type = Json::Array;
      ++pos;
      space();
      if (pos < s.size() && s[pos] == ']') {
        ++pos;
      } else {
        while (true) {
          v.items.push_back(value());
          space();
          if (pos < s.size() && s[pos] == ',') { ++pos; continue; }
          if (pos < s.size() && s[pos] == ']') { ++pos; break; }
          fail("expecting ',' or ']'");
        }
      }
    } else if (c == '"') {
      v.type = Json::String;
      v.text = string_value();
    } else if (literal("true")) {
      v.type = Json::Bool;
      v.boolean = true;
    } else if (literal("false")) {
      v.type = Json::Bool;
    } else if (literal("null")) {
      v.type = Json::Null;
    } else if (literal("NaN")) {  // Python's json reads these too
      v.type = Json::Number;
      v.number = std::nan("");
    } else if (literal("Infinity")) {
      v.type = Json::Number;
      v.number = INFINITY;
    } else if (literal("-Infinity")) {
      v.type = Json::Number;
      v.number = -INFINITY;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      size_t start = pos;
      if (s[pos] == '-') ++pos;
      if (pos >= s.size() || !(s[pos] >= '0' && s[pos] <= '9')) fail("expecting value");
      if (s[pos] == '0') ++pos;
      else while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
      if (pos < s.size() && s[pos] == '.') {
        ++pos;
        if (pos >= s.size() || !(s[pos] >= '0' && s[pos] <= '9')) fail("expecting digits");
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
      }
      if (pos < s.size() && (s[pos] == 'e' || s[pos] == 'E')) {
        ++pos;
        if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) ++pos;
        if (pos >= s.size() || !(s[pos] >= '0' && s[pos] <= '9')) fail("expecting digits");
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
      }
      v.type = Json::Number;
      v.number = std::strtod(s.substr(start, pos - start).c_str(), nullptr);
    } else {
      fail("expecting value");
    }
    --depth;
    return v;
  }
};

}  // namespace

Json parse_json(const std::string& text) {
  JsonReader r{text};
  Json v = r.value();
  r.space();
  if (r.pos != text.size()) r.fail("extra data");
  return v;
}

// ---- the contract -----------------------------------------------------------------------
const ParamSpec* Contract::param(const std::string& name) const {
  for (const auto& p : params)
    if (p.name == name) return &p;
  return nullptr;
}

namespace {

const char* const kRequired[] = {"ganfx.schema", "ganfx.kind", "ganfx.name", "ganfx.version", "ganfx.description",
                                 "ganfx.license", "ganfx.io", "ganfx.halo", "ganfx.multiple", "ganfx.params",
                                 "ganfx.training", "ganfx.parity"};
const char* const kParamTypes[] = {"double", "int", "bool", "choice", "rgb", "string", "file", "seed"};

struct ContractReader {
  const std::string& file;

  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw Error(file + ": " + (key.empty() ? why : why + " in key " + quoted(key)));
  }

  static std::string strip(const std::string& s) {
    size_t a = s.find_first_not_of(" \t\r\n\f\v"), b = s.find_last_not_of(" \t\r\n\f\v");
    return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
  }

  int64_t integer(const std::string& text, const std::string& key, int64_t minimum) const {
    std::string t = strip(text);
    size_t i = (!t.empty() && (t[0] == '-' || t[0] == '+')) ? 1 : 0;
    bool ok = i < t.size();
    for (size_t k = i; k < t.size(); ++k) ok = ok && ((t[k] >= '0' && t[k] <= '9') || t[k] == '_');
    if (!ok || t.size() > 18) fail(key, "not an integer: " + quoted(text));
    t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
    int64_t v = std::strtoll(t.c_str(), nullptr, 10);
    if (v < minimum) fail(key, "must be >= " + std::to_string(minimum) + ", got " + std::to_string(v));
    return v;
  }

  Json json(const std::string& text, const std::string& key) const {
    try {
      return parse_json(text);
    } catch (const Error& e) {
      fail(key, e.what());
    }
  }

  // JSON 3 or 3.0, not 3.5, true or "3" (as runtime/contract.py _whole)
  static bool whole(const Json* v, int64_t* out) {
    if (!v || v->type != Json::Number || !std::isfinite(v->number) || v->number != std::floor(v->number) ||
        std::fabs(v->number) > 9.0e15)
      return false;
    *out = static_cast<int64_t>(v->number);
    return true;
  }

  static bool number(const Json& v, double* out) {  // Python float(): numbers, bools, numeric strings
    if (v.type == Json::Number) { *out = v.number; return true; }
    if (v.type == Json::Bool) { *out = v.boolean ? 1.0 : 0.0; return true; }
    if (v.type == Json::String) {
      std::string t = strip(v.text);
      if (t.empty()) return false;
      char* end = nullptr;
      *out = std::strtod(t.c_str(), &end);
      return end && *end == '\0';
    }
    return false;
  }

  TensorSpec tensor(const Json& d, const std::string& key) const {
    if (d.type != Json::Object) fail(key, "each tensor must be a JSON object");
    TensorSpec t;
    const Json* name = d.get("name");
    int64_t channels = 0;
    if (!name || !whole(d.get("channels"), &channels))
      fail(key, "tensor needs name and channels (integer channels)");
    t.name = name->type == Json::String ? name->text : std::string();
    if (name->type != Json::String) fail(key, "tensor needs name and channels (the name must be a string)");
    t.channels = static_cast<int>(channels);
    if (const Json* r = d.get("range")) {
      if (r->type != Json::Array || r->items.size() != 2 || !number(r->items[0], &t.lo) || !number(r->items[1], &t.hi))
        fail(key, "tensor " + quoted(t.name) + ": range must be [low, high] with finite low < high");
    }
    if (const Json* c = d.get("colorspace")) t.colorspace = c->type == Json::String ? c->text : "?";
    if (const Json* c = d.get("dtype")) t.dtype = c->type == Json::String ? c->text : "?";
    std::string layout = "NCHW";
    if (const Json* c = d.get("layout")) layout = c->type == Json::String ? c->text : "?";
    if (layout != "NCHW") fail(key, "tensor " + quoted(t.name) + ": layout " + quoted(layout) + " (only NCHW)");
    if (t.colorspace != "srgb" && t.colorspace != "linear" && t.colorspace != "none")
      fail(key, "tensor " + quoted(t.name) + ": colorspace " + quoted(t.colorspace) + " (expected srgb/linear/none)");
    if (t.dtype != "float32" && t.dtype != "float16")
      fail(key, "tensor " + quoted(t.name) + ": dtype " + quoted(t.dtype) + " (expected float32/float16)");
    if (!(t.lo < t.hi) || !std::isfinite(t.lo) || !std::isfinite(t.hi))
      fail(key, "tensor " + quoted(t.name) + ": range must be [low, high] with finite low < high");
    if (t.channels < 1) fail(key, "tensor " + quoted(t.name) + ": channels must be >= 1");
    return t;
  }

  static bool truthy(const Json& v) {
    switch (v.type) {
      case Json::Null: return false;
      case Json::Bool: return v.boolean;
      case Json::Number: return v.number != 0.0;
      case Json::String: return !v.text.empty();
      case Json::Array: return !v.items.empty();
      case Json::Object: return !v.fields.empty();
    }
    return false;
  }

  static std::string text_of(const Json& v) {  // Python str() of a JSON scalar
    switch (v.type) {
      case Json::String: return v.text;
      case Json::Bool: return v.boolean ? "True" : "False";
      case Json::Null: return "None";
      case Json::Number: return num_text(v.number);
      default: return "...";
    }
  }

  // ParamSpec.coerce of the default: "" when it is valid, else why not
  static std::string default_problem(const ParamSpec& p) {
    const Json& v = p.default_value;
    double x = 0.0;
    std::vector<double> numbers;
    if (p.type == "double" || p.type == "int" || p.type == "seed") {
      if (!number(v, &x) || !std::isfinite(x)) return "expected a " + p.type + ", got " + text_of(v);
      numbers.push_back(p.type == "double" ? x : std::trunc(x));
    } else if (p.type == "bool") {
      if (v.type == Json::String) {
        std::string low = strip(v.text);
        std::transform(low.begin(), low.end(), low.begin(), ::tolower);
        const char* ok[] = {"1", "0", "true", "false", "yes", "no", "on", "off"};
        if (std::none_of(std::begin(ok), std::end(ok), [&](const char* w) { return low == w; }))
          return "expected true/false, got " + quoted(v.text);
      }
    } else if (p.type == "choice") {
      if (std::find(p.choices.begin(), p.choices.end(), text_of(v)) == p.choices.end())
        return "expected one of the choices, got " + quoted(text_of(v));
    } else if (p.type == "rgb") {
      if (v.type == Json::Array && v.items.size() == 3) {
        for (const auto& c : v.items) {
          if (!number(c, &x) || !std::isfinite(x)) return "expected r,g,b";
        }
      } else if (v.type == Json::String) {
        std::stringstream ss(v.text);
        std::string part;
        int n = 0;
        while (std::getline(ss, part, ',')) {
          Json j;
          j.type = Json::String;
          j.text = part;
          if (!number(j, &x) || !std::isfinite(x)) return "expected r,g,b";
          ++n;
        }
        if (n != 3) return "expected r,g,b";
      } else {
        return "expected r,g,b";
      }
    }
    for (double n : numbers) {
      if (p.has_min && n < p.min) return num_text(n) + " is below the minimum " + num_text(p.min);
      if (p.has_max && n > p.max) return num_text(n) + " is above the maximum " + num_text(p.max);
    }
    return "";
  }

  ParamSpec param(const Json& d, bool texture) const {
    const std::string key = "ganfx.params";
    const Json* name = d.type == Json::Object ? d.get("name") : nullptr;
    const Json* type = d.type == Json::Object ? d.get("type") : nullptr;
    if (!name || !type) fail(key, "each parameter needs 'name' and 'type'");
    ParamSpec p;
    p.name = text_of(*name);
    p.type = type->type == Json::String ? type->text : text_of(*type);
    if (std::none_of(std::begin(kParamTypes), std::end(kParamTypes), [&](const char* t) { return p.type == t; }))
      fail(key, "parameter " + quoted(p.name) + ": type " + quoted(p.type) +
                    " (expected double/int/bool/choice/rgb/string/file/seed)");
    if (const Json* v = d.get("default")) p.default_value = *v;
    for (int which = 0; which < 2; ++which) {
      const Json* v = d.get(which == 0 ? "min" : "max");
      if (!v || v->type == Json::Null) continue;
      double x = 0.0;
      if (!number(*v, &x)) fail(key, "parameter " + quoted(p.name) + ": could not convert to float");
      (which == 0 ? p.has_min : p.has_max) = true;
      (which == 0 ? p.min : p.max) = x;
    }
    const Json* label = d.get("label");
    p.label = (label && truthy(*label)) ? text_of(*label) : p.name;
    if (const Json* c = d.get("choices")) {
      if (c->type == Json::Array)
        for (const auto& item : c->items) p.choices.push_back(text_of(item));
      else if (c->type == Json::String)
        for (char ch : c->text) p.choices.push_back(std::string(1, ch));  // Python iterates a string
    }
    if (const Json* a = d.get("animatable")) p.animatable = truthy(*a);
    if (const Json* h = d.get("help")) p.help = text_of(*h);
    if (p.type == "choice" && p.choices.empty()) fail(key, "parameter " + quoted(p.name) + ": choice needs 'choices'");
    if (p.default_value.type != Json::Null) {
      std::string why = default_problem(p);
      if (!why.empty()) fail(key, "default invalid (parameter " + p.name + ": " + why + ")");
    }
    p.retired = texture && p.name == "scale";  // plugin/gan_effect.py RETIRED_TEXTURE_PARAMS
    return p;
  }
};

}  // namespace

Contract parse_contract(const std::function<bool(const std::string&, std::string*)>& lookup, bool has_ganfx_key,
                        const std::string& file) {
  ContractReader r{file};
  if (!has_ganfx_key) r.fail("", "no ganfx contract in the ONNX metadata (not exported by ganfx, or metadata stripped)");
  std::map<std::string, std::string> md;
  for (const char* key : kRequired) {
    std::string value;
    if (!lookup(key, &value)) r.fail("", "missing key " + quoted(key));
    md[key] = value;
  }
  Contract c;
  if (md["ganfx.schema"] != "1")
    r.fail("ganfx.schema", "unsupported schema " + quoted(md["ganfx.schema"]) + " (this runtime reads '1')");
  c.kind = md["ganfx.kind"];
  if (c.kind == "sound")
    r.fail("ganfx.kind", "a sound model makes audio; the OFX plugin renders effect and texture models");
  if (c.kind != "effect" && c.kind != "texture")
    r.fail("ganfx.kind", "invalid value " + quoted(c.kind) + " (expected effect or texture)");
  for (const char* key : {"ganfx.name", "ganfx.version"})
    if (ContractReader::strip(md[key]).empty()) r.fail(key, "empty value");
  c.name = md["ganfx.name"];
  c.version = md["ganfx.version"];
  c.description = md["ganfx.description"];
  c.license = md["ganfx.license"];
  c.halo = static_cast<int>(r.integer(md["ganfx.halo"], "ganfx.halo", 0));
  c.multiple = static_cast<int>(r.integer(md["ganfx.multiple"], "ganfx.multiple", 1));
  if (c.halo > 100000 || c.multiple > 100000) r.fail("ganfx.halo", "halo and multiple must be at most 100000");

  Json io = r.json(md["ganfx.io"], "ganfx.io");
  const Json* ins = io.get("inputs");
  const Json* outs = io.get("outputs");
  if (!ins || !outs || ins->type != Json::Array || outs->type != Json::Array || ins->items.empty() ||
      outs->items.empty())
    r.fail("ganfx.io", "expected an object with non-empty 'inputs' and 'outputs' lists");
  std::vector<TensorSpec> inputs, outputs;
  for (const auto& t : ins->items) inputs.push_back(r.tensor(t, "ganfx.io"));
  for (const auto& t : outs->items) outputs.push_back(r.tensor(t, "ganfx.io"));
  c.input = inputs[0];
  c.output = outputs[0];
  if (inputs.size() != 1 || outputs.size() != 1)
    r.fail("ganfx.io", "the native plugin runs models with one input and one output");

  Json params = r.json(md["ganfx.params"], "ganfx.params");
  if (params.type != Json::Array) r.fail("ganfx.params", "expected a JSON list");
  for (const auto& p : params.items) {
    ParamSpec spec = r.param(p, c.kind == "texture");
    if (c.param(spec.name)) r.fail("ganfx.params", "duplicate parameter names");
    c.params.push_back(spec);
  }
  Json training = r.json(md["ganfx.training"], "ganfx.training");
  if (training.type != Json::Object) r.fail("ganfx.training", "expected a JSON object");
  std::string parity = ContractReader::strip(md["ganfx.parity"]);
  if (!parity.empty()) {
    char* end = nullptr;
    std::strtod(parity.c_str(), &end);
    if (!end || *end != '\0') r.fail("ganfx.parity", "not a number: " + quoted(md["ganfx.parity"]));
  }
  std::string digest;
  if (lookup("ganfx.digest", &digest)) {
    bool ok = digest.size() == 71 && digest.compare(0, 7, "sha256:") == 0;
    for (size_t i = 7; ok && i < digest.size(); ++i)
      ok = (digest[i] >= '0' && digest[i] <= '9') || (digest[i] >= 'a' && digest[i] <= 'f');
    if (!ok)
      r.fail("ganfx.digest", "expected 'sha256:' and 64 lowercase hex digits, got " + quoted(digest.substr(0, 80)));
    c.digest = digest;
  }
  if (c.kind == "texture") {
    std::string text;
    if (!lookup("ganfx.noise", &text)) r.fail("", "missing key 'ganfx.noise' (required for texture models)");
    Json n = r.json(text, "ganfx.noise");
    if (n.type != Json::Object) r.fail("ganfx.noise", "expected a JSON object");
    int64_t channels = 0, stride = 0, halo = 0;
    if (!ContractReader::whole(n.get("channels"), &channels) || !ContractReader::whole(n.get("stride"), &stride) ||
        !ContractReader::whole(n.get("halo"), &halo))
      r.fail("ganfx.noise", "needs integer channels, stride, halo");
    if (channels < 1 || stride < 1 || halo < 0) r.fail("ganfx.noise", "channels and stride must be >= 1 and halo >= 0");
    if (channels > 100000 || stride > 4096 || halo > 100000) r.fail("ganfx.noise", "channels, stride or halo too large");
    c.noise.channels = static_cast<int>(channels);
    c.noise.stride = static_cast<int>(stride);
    c.noise.halo = static_cast<int>(halo);
    if (const Json* waves = n.get("waves")) {
      if (waves->type != Json::Array) r.fail("ganfx.noise", "waves must be a list of [ky, kx] number pairs");
      for (const auto& k : waves->items) {
        double ky = 0, kx = 0;
        if (k.type != Json::Array || k.items.size() != 2 || !ContractReader::number(k.items[0], &ky) ||
            !ContractReader::number(k.items[1], &kx))
          r.fail("ganfx.noise", "waves must be a list of [ky, kx] number pairs");
        if (!std::isfinite(ky) || !std::isfinite(kx) || std::fabs(ky) > M_PI || std::fabs(kx) > M_PI)
          r.fail("ganfx.noise", "wave vectors must be finite, at most pi radians per cell");
        c.noise.waves.emplace_back(ky, kx);
      }
    }
    if (const Json* still = n.get("still")) {
      int64_t v = -1;
      if (!ContractReader::whole(still, &v) || v < 0 || v > channels)
        r.fail("ganfx.noise", "still must be a whole number of noise channels, 0.." + std::to_string(channels));
      c.noise.still = static_cast<int>(v);
    }
    if (c.input.channels != c.noise.input_channels())
      r.fail("ganfx.noise", std::to_string(c.noise.channels) + " noise channels and " +
                                std::to_string(c.noise.waves.size()) + " waves make " +
                                std::to_string(c.noise.input_channels()) + " input channels but the input has " +
                                std::to_string(c.input.channels));
  }
  return c;
}

// ---- pixels -----------------------------------------------------------------------------
float srgb_to_linear(float x) {
  // np.where(x <= 0.04045, x / 12.92, ((np.maximum(x, 0.04045) + 0.055) / 1.055) ** 2.4), float32
  if (x <= 0.04045f) return x / 12.92f;
  return std::pow((std::max(x, 0.04045f) + 0.055f) / 1.055f, 2.4f);
}

float linear_to_srgb(float x) {
  // np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(np.maximum(x, 0.0031308), 1.0 / 2.4) - 0.055)
  if (x <= 0.0031308f) return x * 12.92f;
  return 1.055f * std::pow(std::max(x, 0.0031308f), static_cast<float>(1.0 / 2.4)) - 0.055f;
}

float convert_colorspace(float x, const std::string& src, const std::string& dst) {
  if (src == dst || src == "none" || dst == "none") return x;
  return dst == "linear" ? srgb_to_linear(x) : linear_to_srgb(x);
}

float to_unit(float stored, Depth depth) {
  if (depth == Depth::U8) return stored * static_cast<float>(1.0 / 255.0);
  if (depth == Depth::U16) return stored * static_cast<float>(1.0 / 65535.0);
  return stored;
}

float from_unit(float unit, Depth depth) {
  if (depth == Depth::F32) return unit;
  float scale = depth == Depth::U8 ? 255.0f : 65535.0f;
  float v = std::nearbyint(unit * scale);  // np.rint: halves to even
  if (!(v >= 0.0f)) v = 0.0f;               // NaN too, as np.clip then astype gives 0 here
  return std::min(v, scale);
}

// ---- tiling -----------------------------------------------------------------------------
int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t round_up(int64_t value, int64_t multiple) { return -floor_div(-value, multiple) * multiple; }

std::pair<int64_t, int64_t> context_span(int64_t start, int64_t stop, int64_t halo, int64_t multiple) {
  return {floor_div(start - halo, multiple) * multiple, stop + halo};
}

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

int64_t balanced_window(int64_t length, int64_t window, int64_t halo, int64_t multiple) {
  int64_t core = window - 2 * halo;
  if (length <= window || core <= 0) return window;
  int64_t count = ceil_div(length - 2 * halo, core);
  return std::min(window, round_up(ceil_div(length - 2 * halo, count) + 2 * halo, multiple));
}

std::vector<Span> spans(int64_t length, int64_t window, int64_t halo) {
  if (length <= window) return {Span{0, length, 0, length}};
  int64_t core = window - 2 * halo;
  if (core <= 0)
    throw Error("tile " + std::to_string(window) + " leaves no room inside a halo of " + std::to_string(halo) +
                " on each side");
  std::vector<Span> out;
  int64_t start = 0, kept = 0;
  while (true) {
    if (start + window >= length) {
      start = length - window;
      out.push_back(Span{start, length, kept, length});
      break;
    }
    int64_t stop = start + window - halo;
    out.push_back(Span{start, start + window, kept, stop});
    kept = stop;
    start += core;
  }
  return out;
}

}  // namespace

TileGrid::TileGrid(int64_t height, int64_t width, int64_t tile, int64_t halo_, int64_t multiple) {
  if (tile < 1) throw Error("tile must be >= 1");
  multiple = std::max<int64_t>(1, multiple);
  halo = round_up(halo_, multiple);
  window = round_up(tile, multiple);
  if (window - 2 * halo <= 0 && (height > window || width > window))
    throw Error("tile " + std::to_string(tile) + " is too small for a halo of " + std::to_string(halo) +
                "px on each side; use a tile above " + std::to_string(2 * halo));
  window_h = balanced_window(height, window, halo, multiple);
  window_w = balanced_window(width, window, halo, multiple);
  rows = spans(height, window_h, halo);
  cols = spans(width, window_w, halo);
}

// ---- noise ------------------------------------------------------------------------------
namespace {

inline uint32_t mix32(uint32_t x) {  // lowbias32 (Chris Wellons), as runtime/noise.py _mix32
  x ^= x >> 16;
  x *= 0x7FEB352Du;
  x ^= x >> 15;
  x *= 0x846CA68Bu;
  x ^= x >> 16;
  return x;
}

inline uint32_t u32(int64_t v) { return static_cast<uint32_t>(static_cast<uint64_t>(v) & 0xFFFFFFFFu); }

// np.mod / Python % on floats: the result takes the divisor's sign
inline double py_mod(double a, double b) {
  double m = std::fmod(a, b);
  if (m != 0.0) {
    if ((b < 0) != (m < 0)) m += b;
  } else {
    m = std::copysign(0.0, b);
  }
  return m;
}

inline int64_t py_mod_int(int64_t a, int64_t b) {
  int64_t m = a % b;
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  return m;
}

const double kFreeOmegas[3] = {1.0, 0.6180339887, 0.4142135624};
const int kLoopCycles[3] = {1, 2, 3};
const double kTwoPi = 2.0 * M_PI;

// snap_wave: the nearest wave vector that repeats every (py, px) cells (Python round: halves to even)
std::pair<double, double> snap_wave(std::pair<double, double> k, int64_t py, int64_t px) {
  double sy = 2.0 * M_PI / static_cast<double>(py), sx = 2.0 * M_PI / static_cast<double>(px);
  return {std::nearbyint(k.first / sy) * sy, std::nearbyint(k.second / sx) * sx};
}

}  // namespace

NoiseField::NoiseField(int64_t seed, int channels, bool periodic, int64_t period_y, int64_t period_x, double loop,
                       const std::vector<std::pair<double, double>>& waves, int still, int terms)
    : seed_(seed), channels_(channels), still_(still), periodic_(periodic), py_(period_y), px_(period_x), loop_(loop),
      terms_(terms), waves_(waves) {
  if (periodic_ && (py_ < 1 || px_ < 1)) throw Error("period must be >= 1 cell in each direction");
  if (still_ < 0 || still_ > channels_) throw Error("still must be 0..channels");
  if (terms_ < 1 || terms_ > 3) throw Error("terms must be 1, 2 or 3");
  if (periodic_)
    for (auto& k : waves_) k = snap_wave(k, py_, px_);
  phases_.resize(waves_.size());
  for (size_t j = 0; j < waves_.size(); ++j) {
    uint32_t h = mix32(mix32(u32(seed_) ^ 0x5BD1E995u) ^ mix32(u32(static_cast<int64_t>(j)) + 0x1B873593u));
    phases_[j] = static_cast<double>(h >> 8) * (2.0 * M_PI / 16777216.0);
  }
}

void NoiseField::key_field_add(int key, float weight, int64_t y0, int64_t x0, int h, int w, int c0, int c1,
                               float* out) const {
  const uint32_t base = mix32(u32(seed_) ^ mix32(u32(key) + 0x9E3779B9u));
  std::vector<uint32_t> hy(h), hx(w);
  for (int i = 0; i < h; ++i) {
    int64_t y = y0 + i;
    if (periodic_) y = py_mod_int(y, py_);
    hy[i] = mix32(u32(y) * 0xC2B2AE35u + 0x27D4EB2Fu);
  }
  for (int j = 0; j < w; ++j) {
    int64_t x = x0 + j;
    if (periodic_) x = py_mod_int(x, px_);
    hx[j] = u32(x);
  }
  const float scale1 = static_cast<float>(1.0 / 16777216.0);
  const float scale2 = static_cast<float>(2.0 * M_PI / 16777216.0);
  for (int c = c0; c < c1; ++c) {
    const uint32_t hc = mix32(base ^ mix32(u32(c) * 0x85EBCA6Bu + 1u));
    float* plane = out + static_cast<size_t>(c) * h * w;
    for (int i = 0; i < h; ++i) {
      const uint32_t hrow = mix32(hc ^ hy[i]);
      float* row = plane + static_cast<size_t>(i) * w;
      for (int j = 0; j < w; ++j) {
        const uint32_t h1 = mix32(hrow + hx[j] * 0x165667B1u);
        const uint32_t h2 = mix32(h1 ^ 0x68E31DA4u);
        // Box-Muller on two 24-bit uniforms in (0, 1], float32 as numpy computes it; log and cos
        // are evaluated in double and rounded once (correctly rounded float32 results).
        const float u1 = (static_cast<float>(h1 >> 8) + 1.0f) * scale1;
        const float u2 = static_cast<float>(h2 >> 8) * scale2;
        const float lg = static_cast<float>(std::log(static_cast<double>(u1)));
        const float r = static_cast<float>(std::sqrt(static_cast<double>(-2.0f * lg)));
        const float cs = static_cast<float>(std::cos(static_cast<double>(u2)));
        const float value = r * cs;
        const float term = weight * value;
        row[j] = row[j] + term;
      }
    }
  }
}

void NoiseField::time_fields_add(double t, int64_t y0, int64_t x0, int h, int w, int c0, int c1, float* out) const {
  if (c1 <= c0) return;
  // the time weights: (key, weight) pairs, cos and sin of each term's angle over sqrt(terms)
  double angles[3];
  if (loop_ != 0.0) {
    double phase = 2.0 * M_PI * py_mod(t, loop_) / loop_;
    for (int j = 0; j < terms_; ++j) angles[j] = kLoopCycles[j] * phase;
  } else {
    for (int j = 0; j < terms_; ++j) angles[j] = kFreeOmegas[j] * t;
  }
  const double norm = 1.0 / std::sqrt(static_cast<double>(terms_));
  for (int j = 0; j < terms_; ++j) {
    const double wc = std::cos(angles[j]) * norm, ws = std::sin(angles[j]) * norm;
    if (wc != 0.0) key_field_add(2 * j, static_cast<float>(wc), y0, x0, h, w, c0, c1, out);
    if (ws != 0.0) key_field_add(2 * j + 1, static_cast<float>(ws), y0, x0, h, w, c0, c1, out);
  }
}

void NoiseField::window(int64_t y0, int64_t x0, int h, int w, double t, float* out) const {
  const size_t plane = static_cast<size_t>(h) * w;
  std::fill(out, out + plane * out_channels(), 0.0f);
  time_fields_add(0.0, y0, x0, h, w, 0, still_, out);  // still channels: their t=0 values
  time_fields_add(t, y0, x0, h, w, still_, channels_, out);
  // waves: float64 angles, each wrapped, so far cells get the same values as near ones
  for (size_t i = 0; i < waves_.size(); ++i) {
    const double ky = waves_[i].first, kx = waves_[i].second, phase = phases_[i];
    std::vector<double> ay(h), ax(w);
    for (int r = 0; r < h; ++r) {
      int64_t y = y0 + r;
      if (periodic_) y = py_mod_int(y, py_);
      ay[r] = py_mod(ky * static_cast<double>(y), kTwoPi);
    }
    for (int q = 0; q < w; ++q) {
      int64_t x = x0 + q;
      if (periodic_) x = py_mod_int(x, px_);
      ax[q] = py_mod(kx * static_cast<double>(x), kTwoPi);
    }
    float* s = out + (channels_ + 2 * i) * plane;
    float* c = s + plane;
    for (int r = 0; r < h; ++r)
      for (int q = 0; q < w; ++q) {
        const double a = (ay[r] + ax[q]) + phase;
        s[static_cast<size_t>(r) * w + q] = static_cast<float>(std::sin(a));
        c[static_cast<size_t>(r) * w + q] = static_cast<float>(std::cos(a));
      }
  }
}

// ---- effects ----------------------------------------------------------------------------
namespace {

const int64_t kMaxPixels = 2048LL * 2048LL;  // runtime/model.py DEFAULT_MAX_PIXELS
const int64_t kAutoTile = 1024;              // _auto_tile(DEFAULT_MAX_PIXELS)

bool unit_range(const TensorSpec& t) { return t.lo == 0.0 && t.hi == 1.0; }

// numpy's pad of the bottom/right edge: "reflect" (no edge repeat) or "edge"
inline int pad_index(int i, int n, bool reflect) {
  if (i < n) return i;
  return reflect ? 2 * n - 2 - i : n - 1;
}

}  // namespace

void render_effect(const Contract& contract, const Network& net, const EffectPatch& patch, float strength,
                   int64_t tile, const std::string& out_colorspace, Depth out_depth, int r0, int r1, int c0, int c1,
                   std::vector<float>& out) {
  const int h = patch.h, w = patch.w, m = contract.multiple;
  if (h < 1 || w < 1) throw Error(contract.name + ": empty region of interest");
  if (contract.input.channels != 3)
    throw Error(contract.name + ": model input " + quoted(contract.input.name) + " takes " +
                std::to_string(contract.input.channels) + " channels, frame has 3");
  const int hp = static_cast<int>(round_up(h, m)), wp = static_cast<int>(round_up(w, m));
  const bool reflect = (hp - h) < h && (wp - w) < w;
  // each pixel's share of the effect: strength times the matte, over the padded patch
  const float s = std::min(1.0f, std::max(0.0f, strength));
  std::vector<float> weight;
  bool mixing = s < 1.0f;
  if (!patch.weight.empty()) {
    weight.resize(static_cast<size_t>(hp) * wp);
    float lowest = 1.0f;
    for (int i = 0; i < hp; ++i)
      for (int j = 0; j < wp; ++j) {
        float v = s * patch.weight[static_cast<size_t>(pad_index(i, h, reflect)) * w + pad_index(j, w, reflect)];
        weight[static_cast<size_t>(i) * wp + j] = v;
        lowest = std::min(lowest, v);
      }
    mixing = lowest < 1.0f;
  }
  if (tile == 0 && static_cast<int64_t>(h) * w > kMaxPixels) tile = kAutoTile;
  TileGrid grid(hp, wp, tile ? tile : std::max(hp, wp), contract.halo, m);

  const TensorSpec& in = contract.input;
  const TensorSpec& o = contract.output;
  const float in_scale = static_cast<float>(in.hi - in.lo), in_lo = static_cast<float>(in.lo);
  const float out_lo = static_cast<float>(o.lo), out_scale = static_cast<float>(1.0 / (o.hi - o.lo));
  const std::string& y_space = mixing ? patch.colorspace : out_colorspace;
  const int rows = r1 - r0, cols = c1 - c0;
  out.assign(static_cast<size_t>(rows) * cols * 3, 0.0f);
  std::vector<float> x, y;
  for (const Span& sy : grid.rows) {
    const int k0 = std::max<int>(static_cast<int>(sy.keep_start), r0), k1 = std::min<int>(static_cast<int>(sy.keep_stop), r1);
    if (k0 >= k1) continue;
    for (const Span& sx : grid.cols) {
      const int q0 = std::max<int>(static_cast<int>(sx.keep_start), c0), q1 = std::min<int>(static_cast<int>(sx.keep_stop), c1);
      if (q0 >= q1) continue;
      const int th = static_cast<int>(sy.stop - sy.start), tw = static_cast<int>(sx.stop - sx.start);
      const size_t plane = static_cast<size_t>(th) * tw;
      x.assign(plane * 3, 0.0f);
      for (int i = 0; i < th; ++i) {
        const int py = pad_index(static_cast<int>(sy.start) + i, h, reflect);
        for (int j = 0; j < tw; ++j) {
          const int px = pad_index(static_cast<int>(sx.start) + j, w, reflect);
          const float* c = &patch.colour[(static_cast<size_t>(py) * w + px) * 3];
          for (int ch = 0; ch < 3; ++ch) {
            float v = convert_colorspace(c[ch], patch.colorspace, in.colorspace);
            if (!unit_range(in)) v = v * in_scale + in_lo;
            x[ch * plane + static_cast<size_t>(i) * tw + j] = v;
          }
        }
      }
      int yc = 0, yh = 0, yw = 0;
      net.run(x, 3, th, tw, y, yc, yh, yw);
      if (yh != th || yw != tw)
        throw Error(contract.name + ": effect output is " + std::to_string(yh) + "x" + std::to_string(yw) + " for a " +
                    std::to_string(th) + "x" + std::to_string(tw) + " input");
      if (yc != 3 && yc != 1)
        throw Error(contract.name + ": effect output has " + std::to_string(yc) + " channels; the plugin shows 1 or 3");
      const size_t yplane = static_cast<size_t>(yh) * yw;
      for (int r = k0; r < k1; ++r) {
        const int i = r - static_cast<int>(sy.start);
        const int py = pad_index(r, h, reflect);  // r < h: the patch pixel itself
        for (int q = q0; q < q1; ++q) {
          const int j = q - static_cast<int>(sx.start);
          float* dst = &out[(static_cast<size_t>(r - r0) * cols + (q - c0)) * 3];
          const float* base = &patch.colour[(static_cast<size_t>(py) * w + q) * 3];
          const float wt = weight.empty() ? s : weight[static_cast<size_t>(r) * wp + q];
          for (int ch = 0; ch < 3; ++ch) {
            float v = y[(yc == 3 ? ch : 0) * yplane + static_cast<size_t>(i) * yw + j];
            if (!unit_range(o)) v = (v - out_lo) * out_scale;
            v = convert_colorspace(v, o.colorspace, y_space);
            if (mixing) {
              // (1 - w) * source + w * effect: exact at both ends, in the source's colour space
              v = (1.0f - wt) * base[ch] + wt * v;
              v = convert_colorspace(v, patch.colorspace, out_colorspace);
            }
            dst[ch] = from_unit(v, out_depth);
          }
        }
      }
    }
  }
}

// ---- textures ---------------------------------------------------------------------------
void render_texture(const Contract& contract, const Network& net, const TextureArgs& args, int64_t r0, int64_t r1,
                    int64_t c0, int64_t c1, std::vector<float>& out, int& channels) {
  const NoiseSpec& n = contract.noise;
  const int64_t s = n.stride, halo = n.halo, m = contract.multiple;
  if (args.width < 1 || args.height < 1)
    throw Error("size must be positive, got " + std::to_string(args.width) + "x" + std::to_string(args.height));
  const int64_t cells_y = ceil_div(args.height, s), cells_x = ceil_div(args.width, s);
  if (args.tileable && (args.height % s || args.width % s))
    throw Error(contract.name + ": tileable output needs width and height multiples of " + std::to_string(s) +
                ", got " + std::to_string(args.width) + "x" + std::to_string(args.height));
  NoiseField field(args.seed, n.channels, args.tileable, cells_y, cells_x, args.loop, n.waves, n.still);
  // the kept image cells and the span of the cell grid (grown by the noise halo) they need
  const int64_t ky0 = floor_div(r0, s), ky1 = ceil_div(r1, s), kx0 = floor_div(c0, s), kx1 = ceil_div(c1, s);
  const int64_t gy0 = context_span(ky0 + halo, ky1 + halo, halo, m).first;
  const int64_t gx0 = context_span(kx0 + halo, kx1 + halo, halo, m).first;
  const int64_t span_y = round_up(ky1 + 2 * halo - gy0, m), span_x = round_up(kx1 + 2 * halo - gx0, m);
  const int64_t win = (r1 - r0) * (c1 - c0) > kMaxPixels ? std::max(kAutoTile / s, 2 * round_up(halo, m) + m)
                                                         : std::max(span_y, span_x);
  TileGrid grid(span_y, span_x, win, halo, m);
  const TensorSpec& o = contract.output;
  const float out_lo = static_cast<float>(o.lo), out_scale = static_cast<float>(1.0 / (o.hi - o.lo));
  const int64_t rows = r1 - r0, cols = c1 - c0;
  channels = 0;
  std::vector<float> noise, y;
  for (const Span& sy : grid.rows) {
    // kept grid cells of this window that hold pixels of the region
    const int64_t a0 = std::max(gy0 + sy.keep_start, ky0 + halo), a1 = std::min(gy0 + sy.keep_stop, ky1 + halo);
    if (a0 >= a1) continue;
    for (const Span& sx : grid.cols) {
      const int64_t b0 = std::max(gx0 + sx.keep_start, kx0 + halo), b1 = std::min(gx0 + sx.keep_stop, kx1 + halo);
      if (b0 >= b1) continue;
      const int wy = static_cast<int>(sy.stop - sy.start), wx = static_cast<int>(sx.stop - sx.start);
      const int64_t oy = gy0 + sy.start - halo, ox = gx0 + sx.start - halo;  // image cell of the window's corner
      noise.resize(static_cast<size_t>(field.out_channels()) * wy * wx);
      field.window(oy, ox, wy, wx, args.t, noise.data());
      int yc = 0, yh = 0, yw = 0;
      net.run(noise, field.out_channels(), wy, wx, y, yc, yh, yw);
      if (yh != wy * s || yw != wx * s)
        throw Error(contract.name + ": texture output is " + std::to_string(yh) + "x" + std::to_string(yw) + " for " +
                    std::to_string(wy) + "x" + std::to_string(wx) + " noise cells, ganfx.noise stride " +
                    std::to_string(s) + " says " + std::to_string(wy * s) + "x" + std::to_string(wx * s));
      if (channels == 0) {
        channels = yc;
        out.assign(static_cast<size_t>(rows) * cols * channels, 0.0f);
      } else if (yc != channels) {
        throw Error(contract.name + ": texture output channels changed between windows");
      }
      const size_t yplane = static_cast<size_t>(yh) * yw;
      // pixels of the kept cells, clipped to the region
      const int64_t p0 = std::max((a0 - halo) * s, r0), p1 = std::min((a1 - halo) * s, r1);
      const int64_t q0 = std::max((b0 - halo) * s, c0), q1 = std::min((b1 - halo) * s, c1);
      for (int64_t R = p0; R < p1; ++R) {
        const int64_t i = R - oy * s;
        for (int64_t Q = q0; Q < q1; ++Q) {
          const int64_t j = Q - ox * s;
          float* dst = &out[(static_cast<size_t>(R - r0) * cols + (Q - c0)) * channels];
          for (int ch = 0; ch < channels; ++ch) {
            float v = y[ch * yplane + static_cast<size_t>(i) * yw + j];
            if (!unit_range(o)) v = (v - out_lo) * out_scale;
            dst[ch] = convert_colorspace(v, o.colorspace, args.colorspace);
          }
        }
      }
    }
  }
  if (channels == 0) throw Error(contract.name + ": empty texture region");
}

// ---- INTER_AREA -------------------------------------------------------------------------
std::vector<std::vector<AreaTap>> area_taps(int64_t ssize, int64_t dsize, int64_t d0, int64_t d1) {
  // OpenCV resize(INTER_AREA) when shrinking: each destination pixel averages the source cells
  // it covers, partial cells by their covered share (computeResizeAreaTab).
  const double scale = 1.0 / (static_cast<double>(dsize) / static_cast<double>(ssize));
  std::vector<std::vector<AreaTap>> taps;
  for (int64_t dx = d0; dx < d1; ++dx) {
    std::vector<AreaTap> t;
    if (ssize == dsize) {
      t.push_back(AreaTap{dx, 1.0f});
      taps.push_back(t);
      continue;
    }
    const double fsx1 = dx * scale, fsx2 = fsx1 + scale;
    const double cell = std::min(scale, static_cast<double>(ssize) - fsx1);
    int64_t sx1 = static_cast<int64_t>(std::ceil(fsx1)), sx2 = static_cast<int64_t>(std::floor(fsx2));
    sx2 = std::min(sx2, ssize - 1);
    sx1 = std::min(sx1, sx2);
    if (sx1 - fsx1 > 1e-3) t.push_back(AreaTap{sx1 - 1, static_cast<float>((sx1 - fsx1) / cell)});
    for (int64_t sx = sx1; sx < sx2; ++sx) t.push_back(AreaTap{sx, static_cast<float>(1.0 / cell)});
    if (fsx2 - sx2 > 1e-3)
      t.push_back(AreaTap{sx2, static_cast<float>(std::min(std::min(fsx2 - sx2, 1.0), cell) / cell)});
    taps.push_back(t);
  }
  return taps;
}

}  // namespace ganfx
