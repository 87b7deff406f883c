#include "common/data/corruptions.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <functional>
#include <map>

namespace bt {
namespace {

namespace F = torch::nn::functional;
using Generator = at::Generator;

double Pick(const std::vector<double>& table, int severity) { return table.at(static_cast<size_t>(severity - 1)); }

// Depthwise 2-D filtering with reflect padding; `kernel` is (k, k) and sums to one.
torch::Tensor Filter(const torch::Tensor& x, const torch::Tensor& kernel) {
  const int64_t c = x.size(1), k = kernel.size(0);
  const int64_t pad = k / 2;
  torch::Tensor weight = kernel.to(x.dtype()).view({1, 1, k, k}).expand({c, 1, k, k}).contiguous();
  // Reflect padding needs pad < size; fall back to replicate for tiny images.
  F::PadFuncOptions options({pad, pad, pad, pad});
  if (pad < x.size(2) && pad < x.size(3)) {
    options.mode(torch::kReflect);
  } else {
    options.mode(torch::kReplicate);
  }
  torch::Tensor padded = F::pad(x, options);
  return F::conv2d(padded, weight, F::Conv2dFuncOptions().groups(c));
}

torch::Tensor GaussianKernel(double sigma) {
  const int64_t radius = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(3 * sigma)));
  torch::Tensor r = torch::arange(-radius, radius + 1, torch::kFloat64);
  torch::Tensor g = torch::exp(-(r * r) / (2 * sigma * sigma));
  torch::Tensor k = torch::outer(g, g);
  return (k / k.sum()).to(torch::kFloat32);
}

torch::Tensor DiskKernel(double radius) {
  const int64_t size = 2 * static_cast<int64_t>(std::ceil(radius)) + 1;
  torch::Tensor r = torch::arange(size, torch::kFloat32) - (size / 2);
  torch::Tensor d = torch::sqrt(r.view({-1, 1}).pow(2) + r.view({1, -1}).pow(2));
  // Anti-aliased edge: full weight inside, linear fall-off over the last pixel.
  torch::Tensor k = torch::clamp(radius + 0.5 - d, 0.0, 1.0);
  return k / k.sum();
}

// A line of `length` pixels through the centre at `angle_deg`.
torch::Tensor MotionKernel(int64_t length, double angle_deg) {
  const int64_t size = length % 2 == 1 ? length : length + 1;
  torch::Tensor k = torch::zeros({size, size});
  const double theta = angle_deg * M_PI / 180.0, c = size / 2;
  for (int64_t i = 0; i < length * 4; ++i) {
    double t = (static_cast<double>(i) / (length * 4 - 1) - 0.5) * (length - 1);
    int64_t x = static_cast<int64_t>(std::lround(c + t * std::cos(theta)));
    int64_t y = static_cast<int64_t>(std::lround(c - t * std::sin(theta)));
    if (x >= 0 && x < size && y >= 0 && y < size) k[y][x] = 1.0;
  }
  return k / k.sum();
}

double Uniform(Generator& gen, double lo, double hi) {
  return lo + (hi - lo) * torch::rand({1}, gen).item<double>();
}

// Smooth random field in [0, 1] built from octaves of upsampled noise (a plasma-like cloud).
torch::Tensor CloudField(int64_t n, int64_t h, int64_t w, double decay, Generator& gen) {
  torch::Tensor field = torch::zeros({n, 1, h, w});
  double amplitude = 1.0, total = 0.0;
  for (int64_t grid = 2; grid <= std::max(h, w); grid *= 2) {
    torch::Tensor coarse = torch::rand({n, 1, grid, grid}, gen);
    field += amplitude *
             F::interpolate(coarse, F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w})
                                        .mode(torch::kBilinear).align_corners(false));
    total += amplitude;
    amplitude /= decay;
  }
  field /= total;
  torch::Tensor lo = field.amin({2, 3}, true), hi = field.amax({2, 3}, true);
  return (field - lo) / (hi - lo + 1e-6);
}

torch::Tensor PerImageMax(const torch::Tensor& x) { return x.amax({1, 2, 3}, true); }

// 8×8 DCT-II basis, orthonormal.
torch::Tensor DctMatrix() {
  torch::Tensor m = torch::empty({8, 8});
  for (int k = 0; k < 8; ++k) {
    for (int n = 0; n < 8; ++n) {
      double scale = k == 0 ? std::sqrt(1.0 / 8) : std::sqrt(2.0 / 8);
      m[k][n] = scale * std::cos(M_PI * (2 * n + 1) * k / 16.0);
    }
  }
  return m;
}

// JPEG's lossy core on luma: 8×8 block DCT, quantisation with the standard table at `quality`, inverse DCT.
// (Entropy coding is lossless, so it changes nothing visible.)
torch::Tensor JpegLike(const torch::Tensor& x, int quality) {
  static const float kLuma[64] = {16, 11, 10, 16, 24,  40,  51,  61,  12, 12, 14, 19, 26,  58,  60,  55,
                                  14, 13, 16, 24, 40,  57,  69,  56,  14, 17, 22, 29, 51,  87,  80,  62,
                                  18, 22, 37, 56, 68,  109, 103, 77,  24, 35, 55, 64, 81,  104, 113, 92,
                                  49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99};
  const double scale = quality < 50 ? 5000.0 / quality : 200.0 - 2.0 * quality;
  torch::Tensor q = torch::from_blob(const_cast<float*>(kLuma), {8, 8}).clone();
  q = torch::clamp(torch::floor((q * scale + 50) / 100), 1, 255);
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t ph = (8 - h % 8) % 8, pw = (8 - w % 8) % 8;
  torch::Tensor p = F::pad(x * 255.0 - 128.0, F::PadFuncOptions({0, pw, 0, ph}).mode(torch::kReplicate));
  const int64_t bh = p.size(2) / 8, bw = p.size(3) / 8;
  // (n, c, bh, 8, bw, 8) -> (n, c, bh, bw, 8, 8)
  torch::Tensor blocks = p.view({n, c, bh, 8, bw, 8}).permute({0, 1, 2, 4, 3, 5});
  torch::Tensor d = DctMatrix();
  torch::Tensor coeff = torch::matmul(torch::matmul(d, blocks), d.t());
  coeff = torch::round(coeff / q) * q;
  torch::Tensor back = torch::matmul(torch::matmul(d.t(), coeff), d);
  back = back.permute({0, 1, 2, 4, 3, 5}).reshape({n, c, bh * 8, bw * 8});
  return ((back + 128.0) / 255.0).slice(2, 0, h).slice(3, 0, w);
}

// Resamples each image at base-grid + `offset` (in pixels, shape (n, h, w, 2) as x, y).
torch::Tensor Warp(const torch::Tensor& x, const torch::Tensor& grid) {
  return F::grid_sample(x, grid, F::GridSampleFuncOptions().mode(torch::kBilinear)
                                     .padding_mode(torch::kZeros).align_corners(false));
}

torch::Tensor IdentityGrid(int64_t n, int64_t h, int64_t w) {
  torch::Tensor theta = torch::tensor({1.0f, 0.0f, 0.0f, 0.0f, 1.0f, 0.0f}).view({1, 2, 3}).expand({n, 2, 3});
  return F::affine_grid(theta, {n, 1, h, w}, false);
}

using Corruption = std::function<torch::Tensor(const torch::Tensor&, const CorruptionSpec&, Generator&)>;

const std::map<std::string, Corruption>& Table() {
  static const std::map<std::string, Corruption> kTable = {
      {"gaussian_noise",
       [](const torch::Tensor& x, const CorruptionSpec& s, Generator& g) {
         return x + torch::randn(x.sizes(), g) * Pick({0.08, 0.12, 0.18, 0.26, 0.38}, s.severity);
       }},
      {"shot_noise",
       [](const torch::Tensor& x, const CorruptionSpec& s, Generator& g) {
         double c = Pick({60, 25, 12, 5, 3}, s.severity);
         return torch::poisson(x * c, g) / c;
       }},
      {"speckle_noise",
       [](const torch::Tensor& x, const CorruptionSpec& s, Generator& g) {
         return x + x * torch::randn(x.sizes(), g) * Pick({0.15, 0.2, 0.35, 0.45, 0.6}, s.severity);
       }},
      {"impulse_noise",
       [](const torch::Tensor& x, const CorruptionSpec& s, Generator& g) {
         double amount = Pick({0.03, 0.06, 0.09, 0.17, 0.27}, s.severity);
         torch::Tensor r = torch::rand(x.sizes(), g);
         torch::Tensor salt = torch::rand(x.sizes(), g) < 0.5;
         torch::Tensor hit = r < amount;
         return torch::where(hit, salt.to(x.dtype()), x);
       }},
      {"gaussian_blur",
       [](const torch::Tensor& x, const CorruptionSpec& s, Generator&) {
         return Filter(x, GaussianKernel(Pick({0.6, 0.8, 1.0, 1.3, 1.6}, s.severity)));
       }},
      {"defocus_blur",
       [](const torch::Tensor& x, const CorruptionSpec& s, Generator&) {
         return Filter(x, DiskKernel(Pick({1.0, 1.5, 2.0, 2.5, 3.0}, s.severity)));
       }},
      {"motion_blur",
       [](const torch::Tensor& x, const CorruptionSpec& s, Generator& g) {
         const int64_t length = static_cast<int64_t>(Pick({3, 5, 7, 9, 11}, s.severity));
         std::vector<torch::Tensor> out;
         for (int64_t i = 0; i < x.size(0); ++i) {
           out.push_back(Filter(x.slice(0, i, i + 1), MotionKernel(length, Uniform(g, -45, 45))));
         }
         return torch::cat(out, 0);
       }},
      {"brightness",
       [](const torch::Tensor& x, const CorruptionSpec& s, Generator&) {
         if (s.direction == "down") return x * Pick({0.7, 0.55, 0.4, 0.25, 0.12}, s.severity);
         return x + Pick({0.1, 0.2, 0.3, 0.4, 0.5}, s.severity);
       }},
      {"contrast",
       [](const torch::Tensor& x, const CorruptionSpec& s, Generator&) {
         torch::Tensor mean = x.mean({1, 2, 3}, true);
         return (x - mean) * Pick({0.5, 0.4, 0.3, 0.2, 0.1}, s.severity) + mean;
       }},
      {"fog",
       [](const torch::Tensor& x, const CorruptionSpec& s, Generator& g) {
         double strength = Pick({0.8, 1.2, 1.6, 2.2, 3.0}, s.severity);
         double decay = Pick({2.0, 2.0, 1.7, 1.5, 1.4}, s.severity);
         torch::Tensor max = PerImageMax(x);
         torch::Tensor fog = CloudField(x.size(0), x.size(2), x.size(3), decay, g);
         return (x + strength * fog) * max / (max + strength);
       }},
      {"snow",
       [](const torch::Tensor& x, const CorruptionSpec& s, Generator& g) {
         double density = Pick({0.03, 0.05, 0.08, 0.11, 0.15}, s.severity);
         double keep = Pick({0.85, 0.75, 0.65, 0.6, 0.55}, s.severity);
         torch::Tensor flakes = (torch::rand({x.size(0), 1, x.size(2), x.size(3)}, g) < density).to(x.dtype());
         flakes = Filter(flakes, MotionKernel(static_cast<int64_t>(Pick({3, 3, 5, 5, 7}, s.severity)),
                                              Uniform(g, -120, -60)));
         flakes = torch::clamp(flakes * 2.5, 0, 1);
         torch::Tensor whitened = torch::maximum(x, x * 1.5 * 0.5 + 0.3);
         return keep * x + (1 - keep) * whitened + flakes;
       }},
      {"rain",
       [](const torch::Tensor& x, const CorruptionSpec& s, Generator& g) {
         double density = Pick({0.02, 0.035, 0.05, 0.07, 0.09}, s.severity);
         int64_t length = static_cast<int64_t>(Pick({5, 7, 9, 11, 13}, s.severity));
         torch::Tensor drops = (torch::rand({x.size(0), 1, x.size(2), x.size(3)}, g) < density).to(x.dtype());
         torch::Tensor streaks = Filter(drops, MotionKernel(length, Uniform(g, 75, 105))) * length * 0.6;
         return x * Pick({0.9, 0.85, 0.8, 0.75, 0.7}, s.severity) + torch::clamp(streaks, 0, 0.9);
       }},
      {"frost",
       [](const torch::Tensor& x, const CorruptionSpec& s, Generator& g) {
         static const double kA[] = {1.0, 0.8, 0.7, 0.65, 0.6};
         static const double kB[] = {0.4, 0.6, 0.7, 0.7, 0.75};
         // Ice-crystal texture: ridges of band-passed noise, brightest where fine structure is strong.
         torch::Tensor noise = torch::rand({x.size(0), 1, x.size(2), x.size(3)}, g);
         torch::Tensor band = Filter(noise, GaussianKernel(0.7)) - Filter(noise, GaussianKernel(2.0));
         torch::Tensor ice = torch::clamp(band.abs() * 6.0, 0, 1);
         ice = 0.5 * ice + 0.5 * CloudField(x.size(0), x.size(2), x.size(3), 1.6, g);
         return kA[s.severity - 1] * x + kB[s.severity - 1] * ice;
       }},
      {"jpeg",
       [](const torch::Tensor& x, const CorruptionSpec& s, Generator&) {
         return JpegLike(x, static_cast<int>(Pick({25, 18, 15, 10, 7}, s.severity)));
       }},
      {"pixelate",
       [](const torch::Tensor& x, const CorruptionSpec& s, Generator&) {
         // Output resolutions 14, 10, 7, 6, 4 pixels across for 28-pixel images.
         double c = Pick({0.5, 0.36, 0.25, 0.21, 0.15}, s.severity);
         int64_t h = std::max<int64_t>(2, std::lround(x.size(2) * c));
         int64_t w = std::max<int64_t>(2, std::lround(x.size(3) * c));
         torch::Tensor small = F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions({h, w}));
         return F::interpolate(small, F::InterpolateFuncOptions()
                                          .size(std::vector<int64_t>{x.size(2), x.size(3)})
                                          .mode(torch::kNearest));
       }},
      {"elastic",
       [](const torch::Tensor& x, const CorruptionSpec& s, Generator& g) {
         const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
         double alpha = Pick({1.0, 1.5, 2.0, 2.5, 3.0}, s.severity);  // peak displacement in pixels
         torch::Tensor field = Filter(torch::rand({n, 2, h, w}, g) * 2 - 1, GaussianKernel(2.5));
         field = field / (field.abs().amax({1, 2, 3}, true) + 1e-6) * alpha;
         // Pixels -> normalised grid units (align_corners=false: 2 units span the image).
         torch::Tensor offset = torch::stack({field.select(1, 0) * 2.0 / w, field.select(1, 1) * 2.0 / h}, -1);
         return Warp(x, IdentityGrid(n, h, w) + offset);
       }},
      {"occlusion",
       [](const torch::Tensor& x, const CorruptionSpec& s, Generator& g) {
         const int64_t count = s.severity;
         const double fraction = Pick({0.2, 0.25, 0.3, 0.35, 0.4}, s.severity);
         const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
         const int64_t ph = std::max<int64_t>(1, std::lround(h * fraction));
         const int64_t pw = std::max<int64_t>(1, std::lround(w * fraction));
         torch::Tensor out = x.clone();
         torch::Tensor ys = torch::randint(0, h - ph + 1, {n, count}, g, torch::kInt64);
         torch::Tensor xs = torch::randint(0, w - pw + 1, {n, count}, g, torch::kInt64);
         torch::Tensor shade = torch::rand({n, count}, g);
         auto ya = ys.accessor<int64_t, 2>();
         auto xa = xs.accessor<int64_t, 2>();
         auto sa = shade.accessor<float, 2>();
         for (int64_t i = 0; i < n; ++i) {
           for (int64_t k = 0; k < count; ++k) {
             out[i].slice(1, ya[i][k], ya[i][k] + ph).slice(2, xa[i][k], xa[i][k] + pw).fill_(sa[i][k]);
           }
         }
         return out;
       }},
      {"rotation",
       [](const torch::Tensor& x, const CorruptionSpec& s, Generator& g) {
         const int64_t n = x.size(0);
         double degrees = Pick({10, 20, 30, 40, 50}, s.severity);
         torch::Tensor sign = torch::where(torch::rand({n}, g) < 0.5, -1.0, 1.0);
         torch::Tensor angle = sign * (degrees * M_PI / 180.0);
         torch::Tensor c = torch::cos(angle), si = torch::sin(angle), z = torch::zeros({n});
         torch::Tensor theta = torch::stack({c, -si, z, si, c, z}, 1).view({n, 2, 3}).to(torch::kFloat32);
         return Warp(x, F::affine_grid(theta, {n, x.size(1), x.size(2), x.size(3)}, false));
       }},
  };
  return kTable;
}

}  // namespace

absl::StatusOr<torch::Tensor> ApplyCorruption(const torch::Tensor& images, const CorruptionSpec& spec,
                                              uint64_t seed) {
  const auto& table = Table();
  auto it = table.find(spec.type);
  if (it == table.end()) return absl::InvalidArgumentError(absl::StrCat("unknown corruption '", spec.type, "'"));
  if (spec.severity < 1 || spec.severity > 5) {
    return absl::InvalidArgumentError(absl::StrCat(spec.type, ": severity ", spec.severity, " is outside 1-5"));
  }
  if (images.dim() != 4) return absl::InvalidArgumentError("corruptions take a (N, C, H, W) batch");
  try {
    torch::NoGradGuard no_grad;
    Generator gen = at::detail::createCPUGenerator(seed);
    torch::Tensor x = images.to(torch::kFloat32).contiguous();
    return torch::clamp(it->second(x, spec, gen), 0.0, 1.0).contiguous();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(spec.type, " failed: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<torch::Tensor> ApplyCorruptions(const torch::Tensor& images, const std::vector<CorruptionSpec>& chain,
                                               uint64_t seed) {
  torch::Tensor x = images.clone();
  for (size_t i = 0; i < chain.size(); ++i) {
    ASSIGN_OR_RETURN(x, ApplyCorruption(x, chain[i], seed * 1000003ull + i * 7919ull + 1));
  }
  return x;
}

}  // namespace bt
