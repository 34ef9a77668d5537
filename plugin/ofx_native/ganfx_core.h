// ganfx's rendering rules in C++, for the native OpenFX plugin: the model contract, tiling,
// noise, colour and pixel scaling, and the effect and texture renders, each a port of the one
// Python place that defines it (docs/architecture.md, "Where each rule lives"):
//
//   contract   runtime/contract.py   ModelSpec.from_metadata, check_graph
//   tiling     runtime/tiling.py     round_up, context_span, balanced_window, spans, TileGrid
//   noise      runtime/noise.py      NoiseField (hash, float32 Box-Muller, time weights, waves)
//   pixels     runtime/frames.py     to_unit, from_unit, srgb_to_linear, linear_to_srgb
//   effects    runtime/model.py      Model.apply (padding, strength/matte mix, tiles)
//   textures   runtime/model.py      Model.generate (noise-cell windows grown by the noise halo)
//   resize     plugin/gan_effect.py  the proxy-scale reduction (OpenCV INTER_AREA)
//
// Images here are top-down (row 0 is the top of the frame), as in the Python runtime; the OFX
// layer flips rows. Nothing here knows OpenFX or onnxruntime.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace ganfx {

// One-line error; `memory` marks an allocation failure (the OFX layer answers kOfxStatErrMemory).
struct Error : std::runtime_error {
  explicit Error(const std::string& message, bool memory = false) : std::runtime_error(message), memory(memory) {}
  bool memory;
};

// ---- JSON (what the contract's values hold) ---------------------------------------------
struct Json {
  enum Type { Null, Bool, Number, String, Array, Object } type = Null;
  bool boolean = false;
  double number = 0.0;
  std::string text;
  std::vector<Json> items;                            // Array
  std::vector<std::pair<std::string, Json>> fields;   // Object, in file order
  const Json* get(const std::string& key) const;     // Object field or nullptr
};
Json parse_json(const std::string& text);             // throws Error("invalid JSON (...)")

// ---- the contract -----------------------------------------------------------------------
struct TensorSpec {
  std::string name;
  int channels = 0;
  double lo = 0.0, hi = 1.0;  // values the network sees or makes for black..white
  std::string colorspace = "srgb";
  std::string dtype = "float32";
};

struct ParamSpec {
  std::string name, type, label, help;
  Json default_value;
  bool has_min = false, has_max = false;
  double min = 0.0, max = 0.0;
  std::vector<std::string> choices;
  bool animatable = false;
  bool retired = false;  // an old texture export's `scale`: kept, only its default accepted
};

struct NoiseSpec {
  int channels = 0, stride = 1, halo = 0;
  std::vector<std::pair<double, double>> waves;  // (ky, kx) radians per cell
  int still = 0;                                  // the first `still` channels keep their t=0 values
  int input_channels() const { return channels + 2 * static_cast<int>(waves.size()); }
};

struct Contract {
  std::string kind, name, version, description, license;
  TensorSpec input, output;
  int halo = 0, multiple = 1;
  std::vector<ParamSpec> params;
  NoiseSpec noise;  // textures
  std::string digest;  // ganfx.digest ("sha256:..."), empty for models exported before it
  const ParamSpec* param(const std::string& name) const;
};

// `lookup(key, &value)` reads one metadata_props entry (false: absent); `has_ganfx_key` says
// whether any key starts with "ganfx.". Errors name `file` and the key, as the Python runtime's.
Contract parse_contract(const std::function<bool(const std::string&, std::string*)>& lookup, bool has_ganfx_key,
                        const std::string& file);

// ---- pixels -----------------------------------------------------------------------------
enum class Depth { U8, U16, F32 };
float srgb_to_linear(float x);
float linear_to_srgb(float x);
float convert_colorspace(float x, const std::string& src, const std::string& dst);
float to_unit(float stored, Depth depth);    // integers scaled by 1/255 or 1/65535, floats as they are
float from_unit(float unit, Depth depth);    // rounded and clipped for integers (the stored value)

// ---- tiling -----------------------------------------------------------------------------
int64_t floor_div(int64_t a, int64_t b);
int64_t round_up(int64_t value, int64_t multiple);
std::pair<int64_t, int64_t> context_span(int64_t start, int64_t stop, int64_t halo, int64_t multiple);

struct Span { int64_t start, stop, keep_start, keep_stop; };

struct TileGrid {
  TileGrid(int64_t height, int64_t width, int64_t tile, int64_t halo, int64_t multiple);  // throws Error
  int64_t halo, window, window_h, window_w;
  std::vector<Span> rows, cols;
};

// ---- noise ------------------------------------------------------------------------------
class NoiseField {
 public:
  NoiseField(int64_t seed, int channels, bool periodic, int64_t period_y, int64_t period_x, double loop,
             const std::vector<std::pair<double, double>>& waves, int still = 0, int terms = 2);
  int out_channels() const { return channels_ + 2 * static_cast<int>(waves_.size()); }
  // cells [y0, y0+h) x [x0, x0+w) at time t: the noise channels, then sin and cos of each wave.
  void window(int64_t y0, int64_t x0, int h, int w, double t, float* out) const;  // [C,h,w]

 private:
  // adds weight * key field `key` to channels [c0, c1) of out ([channels,h,w])
  void key_field_add(int key, float weight, int64_t y0, int64_t x0, int h, int w, int c0, int c1, float* out) const;
  void time_fields_add(double t, int64_t y0, int64_t x0, int h, int w, int c0, int c1, float* out) const;
  int64_t seed_;
  int channels_;
  int still_;
  bool periodic_;
  int64_t py_, px_;
  double loop_;  // 0: free-running
  int terms_;
  std::vector<std::pair<double, double>> waves_;
  std::vector<double> phases_;
};

// ---- the network, as the renders see it -------------------------------------------------
struct Network {
  virtual ~Network() = default;
  // x: [1,C,h,w] float32 -> y: [1,C',h',w'] float32 (a float16 graph is fed and read through float32)
  virtual void run(const std::vector<float>& x, int c, int h, int w, std::vector<float>& y, int& yc, int& yh,
                   int& yw) const = 0;
};

// ---- effects: Model.apply over one region of interest -----------------------------------
struct EffectPatch {
  int h = 0, w = 0;
  std::vector<float> colour;  // [h,w,3] 0..1 in `colorspace` (the stored values through to_unit)
  std::vector<float> weight;  // [h,w] strength x matte, 0..1; empty: `strength` everywhere
  std::string colorspace;     // "srgb" (integer pixels) or "linear" (float pixels)
};

// Renders rows [r0,r1) x cols [c0,c1) of the patch: -> out [rows,cols,3], stored values of
// `out_depth` in `out_colorspace`. `tile` 0: one window (or 1024 px windows above 2048x2048).
void render_effect(const Contract& contract, const Network& net, const EffectPatch& patch, float strength,
                   int64_t tile, const std::string& out_colorspace, Depth out_depth, int r0, int r1, int c0, int c1,
                   std::vector<float>& out);

// ---- textures: Model.generate over one region of a frame ---------------------------------
struct TextureArgs {
  int64_t width = 0, height = 0;  // the frame the texture fills (tileable: its period)
  int64_t seed = 0;
  double t = 0.0;     // noise time: seconds x speed
  double loop = 0.0;  // noise loop: loop seconds x speed; 0 = none
  bool tileable = false;
  std::string colorspace = "srgb";
};

// Renders rows [r0,r1) x cols [c0,c1) of the frame -> out [rows,cols,C'] float 0..1 in args.colorspace.
void render_texture(const Contract& contract, const Network& net, const TextureArgs& args, int64_t r0, int64_t r1,
                    int64_t c0, int64_t c1, std::vector<float>& out, int& channels);

// ---- proxy reduction: OpenCV's INTER_AREA weights ---------------------------------------
struct AreaTap { int64_t src; float weight; };
// For each destination index of [d0,d1): the source indices and weights (ssize -> dsize).
std::vector<std::vector<AreaTap>> area_taps(int64_t ssize, int64_t dsize, int64_t d0, int64_t d1);

}  // namespace ganfx
