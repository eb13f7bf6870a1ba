// Max and average pooling on CPU, NCHW, with their backward passes, in the phase-plane layout of
// planes.h: each window tap is one contiguous max or sum over the plane. libtorch 1.13 spends
// about 7 ms on a 3x3 stride-1 max pool of [20, 28, 28, 28] on one core, far above its memory
// traffic. Memory is saved too: the max pool keeps one byte per output (the winning tap) for its
// backward pass where libtorch keeps the input and an int64 index per output, and the average
// pool keeps nothing but shapes.
//
// Semantics follow libtorch exactly: a window's maximum is its first largest element in row-major
// order, or its last NaN; the average divides by the number of image pixels in the window
// (count_include_pad false) or by the window's size clipped to the padded image (true).
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <limits>
#include <vector>

#include "kernels.h"
#include "planes.h"

namespace metanas {
namespace {

struct PoolGeometry : Window {
  int64_t planes;
  bool countIncludePad;
  PoolGeometry(at::IntArrayRef inShape, const PoolSpec& s) {
    planes = inShape[0] * inShape[1], h = inShape[2], w = inShape[3];
    kh = s.kernelH, kw = s.kernelW, strideH = s.strideH, strideW = s.strideW, padH = s.padH, padW = s.padW;
    countIncludePad = s.countIncludePad;
    setOutput();
  }
};

// ---------------------------------------------------------------- max
// m, idx: scratch of the output plane at pitch wq.
template <typename T>
METANAS_CLONES void maxPlaneForward(const T* __restrict buf, T* __restrict m, T* __restrict idx,
                                    const PoolGeometry& g, const Phases& ph) {
  const int64_t n = ph.out(g);
  std::fill(m, m + n, -std::numeric_limits<T>::infinity());
  std::fill(idx, idx + n, T(0));
  for (int64_t a = 0; a < g.kh; ++a) {
    for (int64_t b = 0; b < g.kw; ++b) {
      const T t = static_cast<T>(a * g.kw + b);
      const T* __restrict src = buf + ph.tap(g, a, b);
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) {
        const T v = src[j];
        const bool take = v > m[j] || v != v;  // libtorch's rule: larger, or NaN
        m[j] = take ? v : m[j];
        idx[j] = take ? t : idx[j];
      }
    }
  }
}

// gq: the output's gradient at pitch wq (zero scratch); idx: the winning taps at pitch wq.
template <typename T>
METANAS_CLONES void maxPlaneBackward(const T* __restrict gq, const T* __restrict idx, T* __restrict gbuf,
                                     const PoolGeometry& g, const Phases& ph) {
  const int64_t n = ph.out(g);
  std::fill(gbuf, gbuf + ph.size, T(0));
  for (int64_t a = 0; a < g.kh; ++a) {
    for (int64_t b = 0; b < g.kw; ++b) {
      const T t = static_cast<T>(a * g.kw + b);
      T* __restrict dst = gbuf + ph.tap(g, a, b);
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) dst[j] += idx[j] == t ? gq[j] : T(0);
    }
  }
}

// 3x3 windows (planes.h, fusedNine): the nine taps in one pass; backward passes as gathers from
// output planes behind a margin of `margin` (the largest tap offset).
template <typename T>
METANAS_CLONES void max9Forward(const T* __restrict buf, const int64_t* off, T* __restrict m, T* __restrict idx,
                                int64_t n) {
  const T* __restrict p[9];
  for (int t = 0; t < 9; ++t) p[t] = buf + off[t];
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    T best = -std::numeric_limits<T>::infinity(), at = 0;
#pragma GCC unroll 9
    for (int t = 0; t < 9; ++t) {
      const T v = p[t][j];
      const bool take = v > best || v != v;  // libtorch's rule: larger, or NaN
      best = take ? v : best;
      at = take ? static_cast<T>(t) : at;
    }
    m[j] = best, idx[j] = at;
  }
}

template <typename T>
METANAS_CLONES void max9GatherBackward(const T* __restrict gpad, const T* __restrict ipad, T* __restrict gbuf,
                                       const int64_t* off, int64_t margin, int64_t size) {
  const T* __restrict g[9];
  const T* __restrict w[9];
  for (int t = 0; t < 9; ++t) g[t] = gpad + margin - off[t], w[t] = ipad + margin - off[t];
#pragma omp simd
  for (int64_t k = 0; k < size; ++k) {
    T acc = 0;
#pragma GCC unroll 9
    for (int t = 0; t < 9; ++t) acc += w[t][k] == static_cast<T>(t) ? g[t][k] : T(0);
    gbuf[k] = acc;
  }
}

template <typename T>
void maxForward(const T* x, T* y, uint8_t* winner, const PoolGeometry& g) {
  const int64_t planeIn = g.h * g.w, planeOut = g.ho * g.wo;
  at::parallel_for(0, g.planes, 1, [&](int64_t begin, int64_t end) {
    Phases ph(g);
    std::vector<T> buf(ph.size), m(ph.out(g)), idx(ph.out(g));
    int64_t off[9];
    if (fusedNine(g)) tapOffsets(g, ph, off);
    for (int64_t i = begin; i < end; ++i) {
      toPhases<T>(x + i * planeIn, buf.data(), g, ph, -std::numeric_limits<T>::infinity());
      if (fusedNine(g))
        max9Forward<T>(buf.data(), off, m.data(), idx.data(), ph.out(g));
      else
        maxPlaneForward<T>(buf.data(), m.data(), idx.data(), g, ph);
      compactRows<T>(m.data(), y + i * planeOut, g, ph);
      uint8_t* wi = winner + i * planeOut;
      for (int64_t r = 0; r < g.ho; ++r)
        for (int64_t c = 0; c < g.wo; ++c) wi[r * g.wo + c] = static_cast<uint8_t>(idx[r * ph.wq + c]);
    }
  });
}

template <typename T>
void maxBackward(const T* gy, const uint8_t* winner, T* gx, const PoolGeometry& g) {
  const int64_t planeIn = g.h * g.w, planeOut = g.ho * g.wo;
  at::parallel_for(0, g.planes, 1, [&](int64_t begin, int64_t end) {
    Phases ph(g);
    int64_t off[9], margin = 0;
    if (fusedNine(g)) margin = tapOffsets(g, ph, off);
    const bool gather = fusedNineGather(g);
    // The output's gradient and winning taps at pitch wq behind a margin (winner -1: none).
    std::vector<T> gpad(margin + ph.size, T(0)), ipad(margin + ph.size, T(-1)), gbuf(ph.size);
    T* gq = gpad.data() + margin;
    T* idx = ipad.data() + margin;
    for (int64_t i = begin; i < end; ++i) {
      spreadRows<T>(gy + i * planeOut, gq, g, ph);
      const uint8_t* wi = winner + i * planeOut;
      for (int64_t r = 0; r < g.ho; ++r)
        for (int64_t c = 0; c < g.wo; ++c) idx[r * ph.wq + c] = static_cast<T>(wi[r * g.wo + c]);
      if (gather)
        max9GatherBackward<T>(gpad.data(), ipad.data(), gbuf.data(), off, margin, ph.size);
      else
        maxPlaneBackward<T>(gq, idx, gbuf.data(), g, ph);
      fromPhases<T>(gbuf.data(), gx + i * planeIn, g, ph);
    }
  });
}

// ---------------------------------------------------------------- average
// The divisor of each output at pitch wq (1 in the scratch columns), as libtorch's avg_pool2d.
template <typename T>
std::vector<T> divisors(const PoolGeometry& g, const Phases& ph) {
  std::vector<T> d(ph.out(g), T(1));
  for (int64_t oh = 0; oh < g.ho; ++oh) {
    int64_t hs = oh * g.strideH - g.padH, he = std::min(hs + g.kh, g.h + g.padH);
    const int64_t rowsPadded = he - hs;
    hs = std::max<int64_t>(hs, 0), he = std::min(he, g.h);
    for (int64_t ow = 0; ow < g.wo; ++ow) {
      int64_t ws = ow * g.strideW - g.padW, we = std::min(ws + g.kw, g.w + g.padW);
      const int64_t colsPadded = we - ws;
      ws = std::max<int64_t>(ws, 0), we = std::min(we, g.w);
      d[oh * ph.wq + ow] = static_cast<T>(g.countIncludePad ? rowsPadded * colsPadded : (he - hs) * (we - ws));
    }
  }
  return d;
}

template <typename T>
METANAS_CLONES void avgPlaneForward(const T* __restrict buf, const T* __restrict div, T* __restrict s,
                                    const PoolGeometry& g, const Phases& ph) {
  const int64_t n = ph.out(g);
  std::fill(s, s + n, T(0));
  for (int64_t a = 0; a < g.kh; ++a) {
    for (int64_t b = 0; b < g.kw; ++b) {
      const T* __restrict src = buf + ph.tap(g, a, b);
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) s[j] += src[j];
    }
  }
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) s[j] /= div[j];
}

// gq: the output's gradient at pitch wq (zero scratch), divided in place by the divisors.
template <typename T>
METANAS_CLONES void avgPlaneBackward(T* __restrict gq, const T* __restrict div, T* __restrict gbuf,
                                     const PoolGeometry& g, const Phases& ph) {
  const int64_t n = ph.out(g);
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) gq[j] /= div[j];
  std::fill(gbuf, gbuf + ph.size, T(0));
  for (int64_t a = 0; a < g.kh; ++a) {
    for (int64_t b = 0; b < g.kw; ++b) {
      T* __restrict dst = gbuf + ph.tap(g, a, b);
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) dst[j] += gq[j];
    }
  }
}

template <typename T>
METANAS_CLONES void avg9Forward(const T* __restrict buf, const int64_t* off, const T* __restrict div, T* __restrict s,
                                int64_t n) {
  const T* __restrict p[9];
  for (int t = 0; t < 9; ++t) p[t] = buf + off[t];
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    T acc = p[0][j];
#pragma GCC unroll 8
    for (int t = 1; t < 9; ++t) acc += p[t][j];
    s[j] = acc / div[j];
  }
}

// gpad: the output's gradient already divided by the divisors.
template <typename T>
METANAS_CLONES void avg9GatherBackward(const T* __restrict gpad, T* __restrict gbuf, const int64_t* off, int64_t margin,
                                       int64_t size) {
  const T* __restrict g[9];
  for (int t = 0; t < 9; ++t) g[t] = gpad + margin - off[t];
#pragma omp simd
  for (int64_t k = 0; k < size; ++k) {
    T acc = g[0][k];
#pragma GCC unroll 8
    for (int t = 1; t < 9; ++t) acc += g[t][k];
    gbuf[k] = acc;
  }
}

template <typename T>
void avgForward(const T* x, T* y, const PoolGeometry& g) {
  const int64_t planeIn = g.h * g.w, planeOut = g.ho * g.wo;
  at::parallel_for(0, g.planes, 1, [&](int64_t begin, int64_t end) {
    Phases ph(g);
    std::vector<T> buf(ph.size), s(ph.out(g)), div = divisors<T>(g, ph);
    int64_t off[9];
    if (fusedNine(g)) tapOffsets(g, ph, off);
    for (int64_t i = begin; i < end; ++i) {
      toPhases<T>(x + i * planeIn, buf.data(), g, ph, T(0));
      if (fusedNine(g))
        avg9Forward<T>(buf.data(), off, div.data(), s.data(), ph.out(g));
      else
        avgPlaneForward<T>(buf.data(), div.data(), s.data(), g, ph);
      compactRows<T>(s.data(), y + i * planeOut, g, ph);
    }
  });
}

template <typename T>
void avgBackward(const T* gy, T* gx, const PoolGeometry& g) {
  const int64_t planeIn = g.h * g.w, planeOut = g.ho * g.wo;
  at::parallel_for(0, g.planes, 1, [&](int64_t begin, int64_t end) {
    Phases ph(g);
    int64_t off[9], margin = 0;
    if (fusedNine(g)) margin = tapOffsets(g, ph, off);
    const bool gather = fusedNineGather(g);
    std::vector<T> gpad(margin + ph.size, T(0)), gbuf(ph.size), div = divisors<T>(g, ph);
    T* gq = gpad.data() + margin;
    const int64_t n = ph.out(g);
    for (int64_t i = begin; i < end; ++i) {
      spreadRows<T>(gy + i * planeOut, gq, g, ph);
      if (gather) {
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) gq[j] /= div[j];
        avg9GatherBackward<T>(gpad.data(), gbuf.data(), off, margin, ph.size);
      } else {
        avgPlaneBackward<T>(gq, div.data(), gbuf.data(), g, ph);
      }
      fromPhases<T>(gbuf.data(), gx + i * planeIn, g, ph);
    }
  });
}

// ---------------------------------------------------------------- autograd
std::vector<int64_t> packSpec(const PoolSpec& s) {
  return {s.kernelH, s.kernelW, s.strideH, s.strideW, s.padH, s.padW, s.countIncludePad ? 1 : 0};
}
PoolSpec unpackSpec(const std::vector<int64_t>& v) { return {v[0], v[1], v[2], v[3], v[4], v[5], v[6] != 0}; }

struct MaxPool2dFunction : public torch::autograd::Function<MaxPool2dFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& xIn, std::vector<int64_t> spec) {
    RECORD_FUNCTION("metanas::max_pool2d", std::vector<c10::IValue>());
    at::Tensor x = xIn.contiguous();
    PoolGeometry g(x.sizes(), unpackSpec(spec));
    at::Tensor y = at::empty({x.size(0), x.size(1), g.ho, g.wo}, x.options());
    at::Tensor winner = at::empty({x.size(0), x.size(1), g.ho, g.wo}, x.options().dtype(at::kByte));
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "metanas max_pool2d", [&] {
      maxForward<scalar_t>(x.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), winner.data_ptr<uint8_t>(), g);
    });
    ctx->save_for_backward({winner});
    ctx->saved_data["spec"] = spec;
    ctx->saved_data["shape"] = x.sizes().vec();
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    RECORD_FUNCTION("metanas::max_pool2d_backward", std::vector<c10::IValue>());
    at::Tensor winner = ctx->get_saved_variables()[0];
    auto shape = ctx->saved_data["shape"].toIntVector();
    PoolGeometry g(shape, unpackSpec(ctx->saved_data["spec"].toIntVector()));
    at::Tensor gy = grads[0].contiguous();
    at::Tensor gx = at::empty(shape, gy.options());
    AT_DISPATCH_FLOATING_TYPES(gy.scalar_type(), "metanas max_pool2d backward", [&] {
      maxBackward<scalar_t>(gy.data_ptr<scalar_t>(), winner.data_ptr<uint8_t>(), gx.data_ptr<scalar_t>(), g);
    });
    return {gx, at::Tensor()};
  }
};

struct AvgPool2dFunction : public torch::autograd::Function<AvgPool2dFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& xIn, std::vector<int64_t> spec) {
    RECORD_FUNCTION("metanas::avg_pool2d", std::vector<c10::IValue>());
    at::Tensor x = xIn.contiguous();
    PoolGeometry g(x.sizes(), unpackSpec(spec));
    at::Tensor y = at::empty({x.size(0), x.size(1), g.ho, g.wo}, x.options());
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "metanas avg_pool2d",
                               [&] { avgForward<scalar_t>(x.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), g); });
    ctx->saved_data["spec"] = spec;
    ctx->saved_data["shape"] = x.sizes().vec();
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    RECORD_FUNCTION("metanas::avg_pool2d_backward", std::vector<c10::IValue>());
    auto shape = ctx->saved_data["shape"].toIntVector();
    PoolGeometry g(shape, unpackSpec(ctx->saved_data["spec"].toIntVector()));
    at::Tensor gy = grads[0].contiguous();
    at::Tensor gx = at::empty(shape, gy.options());
    AT_DISPATCH_FLOATING_TYPES(gy.scalar_type(), "metanas avg_pool2d backward",
                               [&] { avgBackward<scalar_t>(gy.data_ptr<scalar_t>(), gx.data_ptr<scalar_t>(), g); });
    return {gx, at::Tensor()};
  }
};

}  // namespace

bool poolHandles(const at::Tensor& x, const PoolSpec& s) {
  if (!x.device().is_cpu() || x.dim() != 4) return false;
  if (x.scalar_type() != at::kFloat && x.scalar_type() != at::kDouble) return false;
  if (s.kernelH < 1 || s.kernelW < 1 || s.kernelH * s.kernelW > 255 || s.strideH < 1 || s.strideW < 1) return false;
  // libtorch refuses padding above half the kernel; leave those errors to it.
  if (s.padH < 0 || s.padW < 0 || 2 * s.padH > s.kernelH || 2 * s.padW > s.kernelW) return false;
  return windowFits(x.size(2), s.kernelH, s.padH, 1) && windowFits(x.size(3), s.kernelW, s.padW, 1);
}

at::Tensor maxPool2d(const at::Tensor& x, const PoolSpec& s) { return MaxPool2dFunction::apply(x, packSpec(s)); }
at::Tensor avgPool2d(const at::Tensor& x, const PoolSpec& s) { return AvgPool2dFunction::apply(x, packSpec(s)); }

}  // namespace metanas
