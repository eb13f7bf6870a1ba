// Convolutions of the search space on CPU, NCHW, with their backward passes:
//  - dense (groups 1): per sample, im2col (skipped for 1x1 stride-1 convolutions) and one matrix
//    product (gemm.h); the backward pass is two products per sample, col2im for the input's
//    gradient, and the columns recomputed from the saved input for the weight's gradient;
//  - depthwise (groups = channels, one filter per channel): direct loops over each image plane in
//    the phase-plane layout of planes.h (3x3 filters: all nine taps in one pass); this includes the
//    dilated case that libtorch 1.13 sends to a slow gemm fallback in the backward pass;
//  - depthwise then pointwise as one op that recomputes the depthwise output in its backward pass.
// The input's and the weight's gradients are computed only when autograd asks for them, so the
// task learner's architecture step does not pay for weight gradients.
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <vector>

#include "gemm.h"
#include "kernels.h"
#include "planes.h"

namespace metanas {
namespace {

struct Geometry : Window {
  int64_t n, cin, cout, groups;
  Geometry(const at::Tensor& x, const at::Tensor& weight, const Conv2dSpec& s) {
    n = x.size(0), cin = x.size(1), h = x.size(2), w = x.size(3);
    cout = weight.size(0), kh = weight.size(2), kw = weight.size(3);
    strideH = s.strideH, strideW = s.strideW, padH = s.padH, padW = s.padW;
    dilationH = s.dilationH, dilationW = s.dilationW, groups = s.groups;
    setOutput();
  }
  bool pointwise() const { return kh == 1 && kw == 1 && strideH == 1 && strideW == 1 && padH == 0 && padW == 0; }
};

// ---------------------------------------------------------------- dense
// im2col of one sample: row (c, a, b) of col holds, for every output pixel, the input pixel that
// filter tap (a, b) of channel c sees (zero in the padding). Rows are filled with block copies.
template <typename T>
METANAS_CLONES void im2colSample(const T* __restrict x, T* __restrict col, const Geometry& g) {
  const int64_t H = g.h, W = g.w, Ho = g.ho, Wo = g.wo, sh = g.strideH, sw = g.strideW;
  const int64_t P = Ho * Wo;
  for (int64_t c = 0; c < g.cin; ++c) {
    for (int64_t a = 0; a < g.kh; ++a) {
      for (int64_t b = 0; b < g.kw; ++b) {
        T* __restrict row = col + ((c * g.kh + a) * g.kw + b) * P;
        const int64_t off = b * g.dilationW - g.padW;
        int64_t lo, hi;
        validColumns(off, sw, W, Wo, lo, hi);
        for (int64_t oh = 0; oh < Ho; ++oh) {
          T* __restrict dst = row + oh * Wo;
          const int64_t ih = oh * sh - g.padH + a * g.dilationH;
          if (ih < 0 || ih >= H) {
            fillRow(dst, Wo, T(0));
            continue;
          }
          const T* __restrict src = x + (c * H + ih) * W + off;
          fillRow(dst, lo, T(0));
          if (sw == 1) {
            copyRow(src + lo, dst + lo, hi - lo);
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * sw];
          }
          fillRow(dst + hi, Wo - hi, T(0));
        }
      }
    }
  }
}

// The adjoint of im2colSample: adds every column entry back onto its input pixel (gx zeroed first).
template <typename T>
METANAS_CLONES void col2imSample(const T* __restrict col, T* __restrict gx, const Geometry& g) {
  const int64_t H = g.h, W = g.w, Ho = g.ho, Wo = g.wo, sh = g.strideH, sw = g.strideW;
  const int64_t P = Ho * Wo;
  std::fill(gx, gx + g.cin * H * W, T(0));
  for (int64_t c = 0; c < g.cin; ++c) {
    for (int64_t a = 0; a < g.kh; ++a) {
      for (int64_t b = 0; b < g.kw; ++b) {
        const T* __restrict row = col + ((c * g.kh + a) * g.kw + b) * P;
        const int64_t off = b * g.dilationW - g.padW;
        int64_t lo, hi;
        validColumns(off, sw, W, Wo, lo, hi);
        for (int64_t oh = 0; oh < Ho; ++oh) {
          const int64_t ih = oh * sh - g.padH + a * g.dilationH;
          if (ih < 0 || ih >= H) continue;
          const T* __restrict src = row + oh * Wo;
          T* __restrict dst = gx + (c * H + ih) * W + off;
          if (sw == 1) {
#pragma omp simd
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] += src[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow * sw] += src[ow];
          }
        }
      }
    }
  }
}

template <typename T>
void denseForward(const T* x, const T* w, T* y, const Geometry& g) {
  const int64_t k = g.cin * g.kh * g.kw, p = g.ho * g.wo;
  at::parallel_for(0, g.n, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> col(g.pointwise() ? 0 : k * p);
    for (int64_t i = begin; i < end; ++i) {
      const T* xi = x + i * g.cin * g.h * g.w;
      const T* src = xi;
      if (!g.pointwise()) {
        im2colSample<T>(xi, col.data(), g);
        src = col.data();
      }
      gemm<T>(false, false, g.cout, p, k, T(1), w, k, src, p, T(0), y + i * g.cout * p, p);
    }
  });
}

template <typename T>
void denseBackwardInput(const T* gy, const T* w, T* gx, const Geometry& g) {
  const int64_t k = g.cin * g.kh * g.kw, p = g.ho * g.wo;
  at::parallel_for(0, g.n, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> col(g.pointwise() ? 0 : k * p);
    for (int64_t i = begin; i < end; ++i) {
      T* gxi = gx + i * g.cin * g.h * g.w;
      T* dst = g.pointwise() ? gxi : col.data();
      gemm<T>(true, false, k, p, g.cout, T(1), w, k, gy + i * g.cout * p, p, T(0), dst, p);
      if (!g.pointwise()) col2imSample<T>(col.data(), gxi, g);
    }
  });
}

template <typename T>
void denseBackwardWeight(const T* gy, const T* x, T* gw, const Geometry& g) {
  const int64_t k = g.cin * g.kh * g.kw, p = g.ho * g.wo;
  std::vector<T> col(g.pointwise() ? 0 : k * p);
  for (int64_t i = 0; i < g.n; ++i) {
    const T* xi = x + i * g.cin * g.h * g.w;
    const T* src = xi;
    if (!g.pointwise()) {
      im2colSample<T>(xi, col.data(), g);
      src = col.data();
    }
    gemm<T>(false, true, g.cout, k, p, T(1), gy + i * g.cout * p, p, src, p, i == 0 ? T(0) : T(1), gw, k);
  }
}

// ---------------------------------------------------------------- depthwise
// Direct loops over each image plane in the phase-plane layout of planes.h.

// y (ho x wo) from the phase buffer; yq: scratch of ho x wq.
template <typename T>
METANAS_CLONES void depthwisePlaneForward(const T* __restrict buf, const T* __restrict f, T* __restrict y,
                                          T* __restrict yq, const Geometry& g, const Phases& ph) {
  const int64_t n = ph.out(g);
  std::fill(yq, yq + n, T(0));
  for (int64_t a = 0; a < g.kh; ++a) {
    for (int64_t b = 0; b < g.kw; ++b) {
      const T v = f[a * g.kw + b];
      const T* __restrict src = buf + ph.tap(g, a, b);
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) yq[j] += v * src[j];
    }
  }
  compactRows<T>(yq, y, g, ph);
}

template <typename T>
METANAS_CLONES void depthwisePlaneBackwardInput(const T* __restrict gyq, const T* __restrict f, T* __restrict gx,
                                                T* __restrict gbuf, const Geometry& g, const Phases& ph) {
  const int64_t n = ph.out(g);
  std::fill(gbuf, gbuf + ph.size, T(0));
  for (int64_t a = 0; a < g.kh; ++a) {
    for (int64_t b = 0; b < g.kw; ++b) {
      const T v = f[a * g.kw + b];
      T* __restrict dst = gbuf + ph.tap(g, a, b);
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) dst[j] += v * gyq[j];
    }
  }
  fromPhases<T>(gbuf, gx, g, ph);
}

template <typename T>
METANAS_CLONES void depthwisePlaneBackwardWeight(const T* __restrict gyq, const T* __restrict buf, T* __restrict gf,
                                                 const Geometry& g, const Phases& ph) {
  const int64_t n = ph.out(g);
  for (int64_t a = 0; a < g.kh; ++a) {
    for (int64_t b = 0; b < g.kw; ++b) {
      const T* __restrict src = buf + ph.tap(g, a, b);
      T acc = 0;
#pragma omp simd reduction(+ : acc)
      for (int64_t j = 0; j < n; ++j) acc += gyq[j] * src[j];
      gf[a * g.kw + b] += acc;
    }
  }
}

// 3x3 filters (planes.h, fusedNine): the nine taps in one pass.
template <typename T>
METANAS_CLONES void depthwise9Forward(const T* __restrict buf, const T* __restrict f, T* __restrict yq,
                                      const int64_t* off, int64_t n) {
  const T* __restrict p[9];
  T v[9];
  for (int t = 0; t < 9; ++t) p[t] = buf + off[t], v[t] = f[t];
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    T acc = v[0] * p[0][j];
#pragma GCC unroll 8
    for (int t = 1; t < 9; ++t) acc += v[t] * p[t][j];
    yq[j] = acc;
  }
}

// The input's gradient at stride 1 as a gather: gbuf[k] = sum of f[t] * gy[k - off[t]], from gpad,
// the output's gradient at pitch wq behind a zero margin of `margin` (the largest offset).
template <typename T>
METANAS_CLONES void depthwise9GatherInput(const T* __restrict gpad, const T* __restrict f, T* __restrict gbuf,
                                          const int64_t* off, int64_t margin, int64_t size) {
  const T* __restrict q[9];
  T v[9];
  for (int t = 0; t < 9; ++t) q[t] = gpad + margin - off[t], v[t] = f[t];
#pragma omp simd
  for (int64_t k = 0; k < size; ++k) {
    T acc = v[0] * q[0][k];
#pragma GCC unroll 8
    for (int t = 1; t < 9; ++t) acc += v[t] * q[t][k];
    gbuf[k] = acc;
  }
}

template <typename T>
METANAS_CLONES void depthwise9Weight(const T* __restrict gyq, const T* __restrict buf, T* __restrict gf,
                                     const int64_t* off, int64_t n) {
  const T* __restrict p0 = buf + off[0];
  const T* __restrict p1 = buf + off[1];
  const T* __restrict p2 = buf + off[2];
  const T* __restrict p3 = buf + off[3];
  const T* __restrict p4 = buf + off[4];
  const T* __restrict p5 = buf + off[5];
  const T* __restrict p6 = buf + off[6];
  const T* __restrict p7 = buf + off[7];
  const T* __restrict p8 = buf + off[8];
  T a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0, a8 = 0;
#pragma omp simd reduction(+ : a0, a1, a2, a3, a4, a5, a6, a7, a8)
  for (int64_t j = 0; j < n; ++j) {
    const T gj = gyq[j];
    a0 += gj * p0[j], a1 += gj * p1[j], a2 += gj * p2[j], a3 += gj * p3[j], a4 += gj * p4[j];
    a5 += gj * p5[j], a6 += gj * p6[j], a7 += gj * p7[j], a8 += gj * p8[j];
  }
  gf[0] += a0, gf[1] += a1, gf[2] += a2, gf[3] += a3, gf[4] += a4, gf[5] += a5, gf[6] += a6, gf[7] += a7, gf[8] += a8;
}

template <typename T>
void depthwiseForward(const T* x, const T* w, T* y, const Geometry& g) {
  const int64_t taps = g.kh * g.kw, planeIn = g.h * g.w, planeOut = g.ho * g.wo;
  at::parallel_for(0, g.n * g.cin, 1, [&](int64_t begin, int64_t end) {
    Phases ph(g);
    std::vector<T> buf(ph.size), yq(ph.out(g));
    int64_t off[9];
    if (fusedNine(g)) tapOffsets(g, ph, off);
    for (int64_t i = begin; i < end; ++i) {
      toPhases<T>(x + i * planeIn, buf.data(), g, ph, T(0));
      const T* f = w + (i % g.cin) * taps;
      if (fusedNine(g)) {
        depthwise9Forward<T>(buf.data(), f, yq.data(), off, ph.out(g));
        compactRows<T>(yq.data(), y + i * planeOut, g, ph);
      } else {
        depthwisePlaneForward<T>(buf.data(), f, y + i * planeOut, yq.data(), g, ph);
      }
    }
  });
}

// gx and gw may be null (not asked for). Parallel over channels: each sums its samples in order.
template <typename T>
void depthwiseBackward(const T* gy, const T* x, const T* w, T* gx, T* gw, const Geometry& g) {
  const int64_t taps = g.kh * g.kw, planeIn = g.h * g.w, planeOut = g.ho * g.wo;
  if (gw) std::fill(gw, gw + g.cin * taps, T(0));
  at::parallel_for(0, g.cin, 1, [&](int64_t begin, int64_t end) {
    Phases ph(g);
    int64_t off[9], margin = 0;
    if (fusedNine(g)) margin = tapOffsets(g, ph, off);
    const bool gather = fusedNineGather(g);
    // The output's gradient at pitch wq (gyq), behind a zero margin for the gather (gpad).
    std::vector<T> gpad(margin + ph.size, T(0)), buf(gw ? ph.size : 0), gbuf(gx ? ph.size : 0);
    T* gyq = gpad.data() + margin;
    for (int64_t c = begin; c < end; ++c) {
      const T* f = w + c * taps;
      for (int64_t i = 0; i < g.n; ++i) {
        const int64_t plane = i * g.cin + c;
        spreadRows<T>(gy + plane * planeOut, gyq, g, ph);
        if (gx && gather) {
          depthwise9GatherInput<T>(gpad.data(), f, gbuf.data(), off, margin, ph.size);
          fromPhases<T>(gbuf.data(), gx + plane * planeIn, g, ph);
        } else if (gx) {
          depthwisePlaneBackwardInput<T>(gyq, f, gx + plane * planeIn, gbuf.data(), g, ph);
        }
        if (gw) {
          toPhases<T>(x + plane * planeIn, buf.data(), g, ph, T(0));
          if (fusedNine(g))
            depthwise9Weight<T>(gyq, buf.data(), gw + c * taps, off, ph.out(g));
          else
            depthwisePlaneBackwardWeight<T>(gyq, buf.data(), gw + c * taps, g, ph);
        }
      }
    }
  });
}

// ---------------------------------------------------------------- dispatch and autograd
bool isDepthwise(const at::Tensor& x, const at::Tensor& w, const Conv2dSpec& s) {
  return s.groups > 1 && s.groups == x.size(1) && w.size(0) == x.size(1) && w.size(1) == 1;
}

at::Tensor forwardImpl(const at::Tensor& xIn, const at::Tensor& wIn, const Conv2dSpec& s) {
  at::Tensor x = xIn.contiguous(), w = wIn.contiguous();
  Geometry g(x, w, s);
  at::Tensor y = at::empty({g.n, g.cout, g.ho, g.wo}, x.options());
  bool depthwise = isDepthwise(x, w, s);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "metanas conv2d", [&] {
    if (depthwise)
      depthwiseForward<scalar_t>(x.data_ptr<scalar_t>(), w.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), g);
    else
      denseForward<scalar_t>(x.data_ptr<scalar_t>(), w.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), g);
  });
  return y;
}

std::vector<int64_t> packSpec(const Conv2dSpec& s) {
  return {s.strideH, s.strideW, s.padH, s.padW, s.dilationH, s.dilationW, s.groups};
}
Conv2dSpec unpackSpec(const std::vector<int64_t>& v) {
  return {v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
}

// The gradients of y = conv(x, w) given gy; each computed when asked for.
void backwardImpl(const at::Tensor& gyIn, const at::Tensor& xIn, const at::Tensor& wIn, const Conv2dSpec& s,
                  bool needX, bool needW, at::Tensor& gx, at::Tensor& gw) {
  at::Tensor x = xIn.contiguous(), w = wIn.contiguous(), gy = gyIn.contiguous();
  Geometry g(x, w, s);
  const bool depthwise = isDepthwise(x, w, s);
  if (needX) gx = at::empty_like(x);
  if (needW) gw = at::empty_like(w);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "metanas conv2d backward", [&] {
    const scalar_t* gyp = gy.data_ptr<scalar_t>();
    if (depthwise) {
      depthwiseBackward<scalar_t>(gyp, x.data_ptr<scalar_t>(), w.data_ptr<scalar_t>(),
                                  needX ? gx.data_ptr<scalar_t>() : nullptr, needW ? gw.data_ptr<scalar_t>() : nullptr,
                                  g);
      return;
    }
    if (needX) denseBackwardInput<scalar_t>(gyp, w.data_ptr<scalar_t>(), gx.data_ptr<scalar_t>(), g);
    if (needW) denseBackwardWeight<scalar_t>(gyp, x.data_ptr<scalar_t>(), gw.data_ptr<scalar_t>(), g);
  });
}

struct Conv2dFunction : public torch::autograd::Function<Conv2dFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            std::vector<int64_t> spec) {
    ctx->save_for_backward({x, w});
    ctx->saved_data["spec"] = spec;
    RECORD_FUNCTION("metanas::conv2d", std::vector<c10::IValue>());
    return forwardImpl(x, w, unpackSpec(spec));
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    RECORD_FUNCTION("metanas::conv2d_backward", std::vector<c10::IValue>());
    auto saved = ctx->get_saved_variables();
    at::Tensor gx, gw;
    backwardImpl(grads[0], saved[0], saved[1], unpackSpec(ctx->saved_data["spec"].toIntVector()),
                 ctx->needs_input_grad(0), ctx->needs_input_grad(1), gx, gw);
    return {gx, gw, at::Tensor()};
  }
};

const Conv2dSpec kPointwise{};

// y = pointwise(depthwise(relu?(x))). Only x and the weights are kept: the ReLU and the depthwise
// output are recomputed in the backward pass (nine multiply-adds per value), so a pass does not
// keep one depthwise output per op alive.
struct SeparableConv2dFunction : public torch::autograd::Function<SeparableConv2dFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& dw,
                            const at::Tensor& pw, std::vector<int64_t> spec, bool reluFirst) {
    RECORD_FUNCTION("metanas::separable_conv2d", std::vector<c10::IValue>());
    ctx->save_for_backward({x, dw, pw});
    ctx->saved_data["spec"] = spec;
    ctx->saved_data["relu"] = reluFirst;
    at::Tensor d = forwardImpl(reluFirst ? at::relu(x) : x, dw, unpackSpec(spec));
    return forwardImpl(d, pw, kPointwise);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    RECORD_FUNCTION("metanas::separable_conv2d_backward", std::vector<c10::IValue>());
    auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &dw = saved[1], &pw = saved[2];
    const bool reluFirst = ctx->saved_data["relu"].toBool();
    const Conv2dSpec s = unpackSpec(ctx->saved_data["spec"].toIntVector());
    const bool needX = ctx->needs_input_grad(0), needDw = ctx->needs_input_grad(1), needPw = ctx->needs_input_grad(2);
    at::Tensor r = reluFirst ? at::relu(x) : x;
    at::Tensor d = forwardImpl(r, dw, s);
    at::Tensor gd, gpw, gr, gdw;
    backwardImpl(grads[0], d, pw, kPointwise, needX || needDw, needPw, gd, gpw);
    if (needX || needDw) backwardImpl(gd, r, dw, s, needX, needDw, gr, gdw);
    at::Tensor gx;
    if (needX) gx = reluFirst ? at::threshold_backward(gr, r, 0) : gr;
    return {gx, gdw, gpw, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

bool conv2dHandles(const at::Tensor& x, const at::Tensor& w, const Conv2dSpec& s) {
  if (!x.device().is_cpu() || !w.device().is_cpu() || x.dim() != 4 || w.dim() != 4) return false;
  if (x.scalar_type() != w.scalar_type()) return false;
  if (x.scalar_type() != at::kFloat && x.scalar_type() != at::kDouble) return false;
  if (s.strideH < 1 || s.strideW < 1 || s.dilationH < 1 || s.dilationW < 1 || s.padH < 0 || s.padW < 0) return false;
  if (s.groups == 1) {
    // Dense convolutions are matrix products: without oneDNN's sgemm, libtorch's own convolution
    // is faster than a product through libtorch's matmul (the reference BLAS on Debian).
    if (w.size(1) != x.size(1) || (x.scalar_type() == at::kFloat && !fastSgemmAvailable())) return false;
  } else if (!isDepthwise(x, w, s)) {
    return false;
  }
  return windowFits(x.size(2), w.size(2), s.padH, s.dilationH) && windowFits(x.size(3), w.size(3), s.padW, s.dilationW);
}

at::Tensor conv2d(const at::Tensor& x, const at::Tensor& w, const Conv2dSpec& s) {
  return Conv2dFunction::apply(x, w, packSpec(s));
}

bool separableConv2dHandles(const at::Tensor& x, const at::Tensor& dw, const at::Tensor& pw, const Conv2dSpec& s) {
  if (!conv2dHandles(x, dw, s) || !isDepthwise(x, dw, s) || pw.dim() != 4) return false;
  if (x.scalar_type() == at::kFloat && !fastSgemmAvailable()) return false;  // as for dense convolutions
  return pw.scalar_type() == x.scalar_type() && pw.device().is_cpu() && pw.size(1) == x.size(1) && pw.size(2) == 1 &&
         pw.size(3) == 1;
}

at::Tensor separableConv2d(const at::Tensor& x, const at::Tensor& dw, const at::Tensor& pw, const Conv2dSpec& s,
                           bool reluFirst) {
  return SeparableConv2dFunction::apply(x, dw, pw, packSpec(s), reluFirst);
}

}  // namespace metanas
