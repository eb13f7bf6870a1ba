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
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <memory>
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
// Columns from phase planes (planes.h): each input plane is padded and split into its phase
// planes once, and then row (c, a, b) of the columns, filter tap (a, b) of channel c, reads one
// phase plane at a fixed offset: per output row one contiguous copy of wo values (compact), or
// the whole plane as one copy of ho * wq values at the phase planes' pitch (wide), whose wq - wo
// scratch columns per row the product computes and the output drops. Wide pays where rows are
// short and the columns have many rows, where a copy per row costs more than the product's extra
// columns (REPTILE's Omniglot Conv4, layers 2 and 3 with outputs 7 and 4 wide: 10-15% faster than
// compact; libtorch now runs those, see directConvolutionWins).
// Samples with fewer than kTargetColumns output pixels share one product, as many as have columns
// that fit in kMaxColumnBytes (in the caches): on one core oneDNN's sgemm runs [64 x 576] x
// [576 x 49] ten times at about 130 GFLOP/s and [576 x 490] once at about 170 (34 and 158 for 4
// columns per sample and 40). Larger samples go one by one, in place.
constexpr int64_t kTargetColumns = 128;
constexpr int64_t kMaxColumnBytes = 2 << 20;

// Outputs at most kGatherWidth wide (Conv4's last stride-2 layer: 2x2) take their columns
// straight from the image plane through a table of each (tap, output pixel)'s input pixel: on
// planes of 4x4 the phase split and the copies per output row cost more than the product.
constexpr int64_t kGatherWidth = 4;

struct DensePlan {
  Phases ph;
  bool wide, gather;
  int64_t taps, k, per, group;
  std::vector<int64_t> off;     // each tap's offset in the phase buffer
  std::vector<int32_t> source;  // gather: each (tap, output pixel)'s input pixel, or -1 (padding)
  DensePlan(const Geometry& g, size_t bytes) : ph(g) {
    taps = g.kh * g.kw, k = g.cin * taps;
    off.resize(taps);
    for (int64_t a = 0; a < g.kh; ++a)
      for (int64_t b = 0; b < g.kw; ++b) off[a * g.kw + b] = ph.tap(g, a, b);
    wide = wideColumns(g, ph, k);
    gather = !wide && g.wo <= kGatherWidth;
    per = wide ? ph.out(g) : g.ho * g.wo;
    if (gather) sourceTable(g);
    const int64_t fit = per >= kTargetColumns ? 1 : kMaxColumnBytes / static_cast<int64_t>(k * per * bytes);
    // Leave work for every thread: at least as many groups as threads.
    const int64_t threads = at::get_num_threads();
    group = std::clamp<int64_t>(std::min(fit, (g.n + threads - 1) / threads), 1, g.n);
  }
  // Wide saves a copy per output row for each of the k column rows, and costs one for each of the
  // cout output planes (compacting them) and the product's scratch columns.
  static bool wideColumns(const Geometry& g, const Phases& ph, int64_t k) {
    return g.wo < 16 && k > g.cout && (ph.wq - g.wo) * 4 <= g.wo;
  }
  void sourceTable(const Geometry& g) {
    source.resize(taps * per);
    for (int64_t a = 0; a < g.kh; ++a)
      for (int64_t b = 0; b < g.kw; ++b)
        for (int64_t oh = 0; oh < g.ho; ++oh)
          for (int64_t ow = 0; ow < g.wo; ++ow) {
            const int64_t ih = oh * g.strideH - g.padH + a * g.dilationH, iw = ow * g.strideW - g.padW + b * g.dilationW;
            const bool inside = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
            source[((a * g.kw + b) * g.ho + oh) * g.wo + ow] = inside ? static_cast<int32_t>(ih * g.w + iw) : -1;
          }
  }
  int64_t groups(const Geometry& g) const { return (g.n + group - 1) / group; }
  int64_t count(const Geometry& g, int64_t gi) const { return std::min(group, g.n - gi * group); }
  /** One sample per product, compact: the product reads and writes the image planes in place. */
  bool inPlace() const { return group == 1 && !wide; }
  int64_t columnsSize() const { return k * group * per; }
};

// Rows c * taps ... (c + 1) * taps - 1 of the columns (pitch ld) from channel c's phase buffer.
template <typename T>
METANAS_CLONES void columnsOf(const T* __restrict buf, T* __restrict col, int64_t ld, const Geometry& g,
                              const DensePlan& p) {
  for (int64_t t = 0; t < p.taps; ++t) {
    const T* __restrict src = buf + p.off[t];
    T* __restrict dst = col + t * ld;
    if (p.wide) {
      copyRow(src, dst, p.per);
    } else {
      for (int64_t oh = 0; oh < g.ho; ++oh) copyRow(src + oh * p.ph.wq, dst + oh * g.wo, g.wo);
    }
  }
}

// The adjoint of columnsOf: adds the rows back onto channel c's phase buffer (gbuf, zeroed first).
// Wide rows add their scratch columns too, which are zero (the product of zero gradients).
template <typename T>
METANAS_CLONES void addColumnsTo(const T* __restrict col, T* __restrict gbuf, int64_t ld, const Geometry& g,
                                 const DensePlan& p) {
  fillRow(gbuf, p.ph.size, T(0));
  for (int64_t t = 0; t < p.taps; ++t) {
    const T* __restrict src = col + t * ld;
    T* __restrict dst = gbuf + p.off[t];
    if (p.wide) {
#pragma omp simd
      for (int64_t j = 0; j < p.per; ++j) dst[j] += src[j];
    } else {
      for (int64_t oh = 0; oh < g.ho; ++oh) {
        T* __restrict d = dst + oh * p.ph.wq;
        const T* __restrict s = src + oh * g.wo;
#pragma omp simd
        for (int64_t j = 0; j < g.wo; ++j) d[j] += s[j];
      }
    }
  }
}

// Gather plans: the columns of one plane, and their adjoint (adds onto gx, zeroed first).
template <typename T>
void gatherColumns(const T* __restrict x, T* __restrict col, int64_t ld, const DensePlan& p) {
  const int32_t* src = p.source.data();
  for (int64_t t = 0; t < p.taps; ++t, src += p.per)
    for (int64_t j = 0; j < p.per; ++j) col[t * ld + j] = src[j] >= 0 ? x[src[j]] : T(0);
}
template <typename T>
void scatterColumns(const T* __restrict col, T* __restrict gx, int64_t ld, const Geometry& g, const DensePlan& p) {
  fillRow(gx, g.h * g.w, T(0));
  const int32_t* src = p.source.data();
  for (int64_t t = 0; t < p.taps; ++t, src += p.per)
    for (int64_t j = 0; j < p.per; ++j)
      if (src[j] >= 0) gx[src[j]] += col[t * ld + j];
}

// The columns [k, cnt * per] of samples i0 ... i0 + cnt - 1; buf: one phase buffer of scratch.
template <typename T>
void groupColumns(const T* x, T* col, T* buf, int64_t i0, int64_t cnt, const Geometry& g, const DensePlan& p) {
  const int64_t ld = cnt * p.per;
  for (int64_t i = 0; i < cnt; ++i) {
    for (int64_t c = 0; c < g.cin; ++c) {
      const T* plane = x + ((i0 + i) * g.cin + c) * g.h * g.w;
      T* dst = col + c * p.taps * ld + i * p.per;
      if (p.gather) {
        gatherColumns<T>(plane, dst, ld, p);
        continue;
      }
      toPhases<T>(plane, buf, g, p.ph, T(0));
      columnsOf<T>(buf, dst, ld, g, p);
    }
  }
}

// The input gradient of samples i0 ... i0 + cnt - 1 from the columns' gradient.
template <typename T>
void groupColumnsBack(const T* gcol, T* gx, T* buf, int64_t i0, int64_t cnt, const Geometry& g, const DensePlan& p) {
  const int64_t ld = cnt * p.per;
  for (int64_t i = 0; i < cnt; ++i)
    for (int64_t c = 0; c < g.cin; ++c) {
      const T* src = gcol + c * p.taps * ld + i * p.per;
      T* plane = gx + ((i0 + i) * g.cin + c) * g.h * g.w;
      if (p.gather) {
        scatterColumns<T>(src, plane, ld, g, p);
        continue;
      }
      addColumnsTo<T>(src, buf, ld, g, p);
      fromPhases<T>(buf, plane, g, p.ph);
    }
}

// Output planes [cnt, cout, ho, wo] <-> the product's layout [cout, cnt * per] (scratch columns
// zero when spread, so that they add nothing to the gradients).
template <typename T>
void fromProduct(const T* prod, T* y, int64_t cnt, const Geometry& g, const DensePlan& p) {
  const int64_t ld = cnt * p.per, plane = g.ho * g.wo;
  for (int64_t i = 0; i < cnt; ++i)
    for (int64_t c = 0; c < g.cout; ++c) {
      const T* src = prod + c * ld + i * p.per;
      T* dst = y + (i * g.cout + c) * plane;
      if (p.wide) compactRows<T>(src, dst, g, p.ph);
      else copyRow(src, dst, plane);
    }
}
template <typename T>
void toProduct(const T* y, T* prod, int64_t cnt, const Geometry& g, const DensePlan& p) {
  const int64_t ld = cnt * p.per, plane = g.ho * g.wo;
  for (int64_t i = 0; i < cnt; ++i)
    for (int64_t c = 0; c < g.cout; ++c) {
      const T* src = y + (i * g.cout + c) * plane;
      T* dst = prod + c * ld + i * p.per;
      if (p.wide) spreadRows<T>(src, dst, g, p.ph);
      else copyRow(src, dst, plane);
    }
}

template <typename T>
using Scratch = std::unique_ptr<T[]>;  // uninitialised: every value is written before it is read

// kept: where to leave the columns for the backward pass (one group only), or null.
template <typename T>
void denseForward(const T* x, const T* w, T* y, T* kept, const Geometry& g, const DensePlan& p) {
  const int64_t plane = g.ho * g.wo;
  at::parallel_for(0, p.groups(g), 1, [&](int64_t begin, int64_t end) {
    Scratch<T> col(kept ? nullptr : new T[p.columnsSize()]), buf(new T[p.ph.size]);
    Scratch<T> prod(p.inPlace() ? nullptr : new T[g.cout * p.group * p.per]);
    for (int64_t gi = begin; gi < end; ++gi) {
      const int64_t i0 = gi * p.group, cnt = p.count(g, gi), ld = cnt * p.per;
      T* cols = kept ? kept : col.get();
      groupColumns<T>(x, cols, buf.get(), i0, cnt, g, p);
      T* out = p.inPlace() ? y + i0 * g.cout * plane : prod.get();
      gemm<T>(false, false, g.cout, ld, p.k, T(1), w, p.k, cols, ld, T(0), out, ld);
      if (!p.inPlace()) fromProduct<T>(prod.get(), y + i0 * g.cout * plane, cnt, g, p);
    }
  });
}

// One group's gradients: gw (summed onto when `accumulate`) and gx, each when asked for (non-null).
// gw is [cout, k], or its transpose [k, cout] when `transposed`.
template <typename T>
void denseBackwardGroup(const T* gy, const T* x, const T* w, const T* kept, T* gx, T* gw, bool transposed,
                        bool accumulate, int64_t gi, T* col, T* buf, T* prod, const Geometry& g, const DensePlan& p) {
  const int64_t i0 = gi * p.group, cnt = p.count(g, gi), ld = cnt * p.per, plane = g.ho * g.wo;
  const T* gyg = gy + i0 * g.cout * plane;
  if (!p.inPlace()) {
    toProduct<T>(gyg, prod, cnt, g, p);
    gyg = prod;
  }
  if (gw) {
    const T* cols = kept;
    if (!cols) groupColumns<T>(x, col, buf, i0, cnt, g, p), cols = col;
    const T beta = accumulate ? T(1) : T(0);
    if (transposed)
      gemm<T>(false, true, p.k, g.cout, ld, T(1), cols, ld, gyg, ld, beta, gw, g.cout);
    else
      gemm<T>(false, true, g.cout, p.k, ld, T(1), gyg, ld, cols, ld, beta, gw, p.k);
  }
  if (gx) {
    gemm<T>(true, false, p.k, ld, g.cout, T(1), w, p.k, gyg, ld, T(0), col, ld);
    groupColumnsBack<T>(col, gx, buf, i0, cnt, g, p);
  }
}

// The weight's gradient sums the groups in order (oneDNN's sgemm may use the threads itself);
// without it the groups run in parallel. With fewer column rows than output channels (a first
// layer: 9 rows for 1 input channel) the weight's gradient is computed transposed, [k, cout], and
// transposed back at the end: Conv4's first layer on Omniglot ([64 x 196] x [196 x 9] per sample)
// took 20-30% less time that way in oneDNN's sgemm.
template <typename T>
void denseBackward(const T* gy, const T* x, const T* w, const T* kept, T* gx, T* gw, const Geometry& g,
                   const DensePlan& p) {
  const bool transposed = gw && p.k < g.cout;
  Scratch<T> gwT(transposed ? new T[p.k * g.cout] : nullptr);
  auto run = [&](int64_t begin, int64_t end) {
    Scratch<T> col(new T[p.columnsSize()]), buf(new T[p.ph.size]);
    Scratch<T> prod(p.inPlace() ? nullptr : new T[g.cout * p.group * p.per]);
    for (int64_t gi = begin; gi < end; ++gi)
      denseBackwardGroup<T>(gy, x, w, kept, gx, transposed ? gwT.get() : gw, transposed, gi > 0, gi, col.get(),
                            buf.get(), prod.get(), g, p);
  };
  if (gw) run(0, p.groups(g));
  else at::parallel_for(0, p.groups(g), 1, run);
  if (transposed)
    for (int64_t o = 0; o < g.cout; ++o)
      for (int64_t r = 0; r < p.k; ++r) gw[o * p.k + r] = gwT[r * g.cout + o];
}

// 1x1 convolutions at stride 1 without padding: the image planes are the columns.
template <typename T>
void pointwiseForward(const T* x, const T* w, T* y, const Geometry& g) {
  const int64_t p = g.h * g.w;
  at::parallel_for(0, g.n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      gemm<T>(false, false, g.cout, p, g.cin, T(1), w, g.cin, x + i * g.cin * p, p, T(0), y + i * g.cout * p, p);
  });
}
template <typename T>
void pointwiseBackward(const T* gy, const T* x, const T* w, T* gx, T* gw, const Geometry& g) {
  const int64_t p = g.h * g.w;
  if (gx)
    at::parallel_for(0, g.n, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        gemm<T>(true, false, g.cin, p, g.cout, T(1), w, g.cin, gy + i * g.cout * p, p, T(0), gx + i * g.cin * p, p);
    });
  if (gw)
    for (int64_t i = 0; i < g.n; ++i)
      gemm<T>(false, true, g.cout, g.cin, p, T(1), gy + i * g.cout * p, p, x + i * g.cin * p, p, i == 0 ? T(0) : T(1),
              gw, g.cin);
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

// keep: also return the columns for the backward pass in `kept` when they are computed for all
// samples at once (small layers; see kMaxColumnBytes), so that it need not compute them again.
at::Tensor forwardImpl(const at::Tensor& xIn, const at::Tensor& wIn, const Conv2dSpec& s, bool keep = false,
                       at::Tensor* kept = nullptr) {
  at::Tensor x = xIn.contiguous(), w = wIn.contiguous();
  Geometry g(x, w, s);
  at::Tensor y = at::empty({g.n, g.cout, g.ho, g.wo}, x.options());
  bool depthwise = isDepthwise(x, w, s);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "metanas conv2d", [&] {
    scalar_t *xp = x.data_ptr<scalar_t>(), *wp = w.data_ptr<scalar_t>(), *yp = y.data_ptr<scalar_t>();
    if (depthwise) return depthwiseForward<scalar_t>(xp, wp, yp, g);
    if (g.pointwise()) return pointwiseForward<scalar_t>(xp, wp, yp, g);
    const DensePlan p(g, sizeof(scalar_t));
    if (keep && kept && p.groups(g) == 1) *kept = at::empty({p.columnsSize()}, x.options());
    denseForward<scalar_t>(xp, wp, yp, kept && kept->defined() ? kept->data_ptr<scalar_t>() : nullptr, g, p);
  });
  return y;
}

std::vector<int64_t> packSpec(const Conv2dSpec& s) {
  return {s.strideH, s.strideW, s.padH, s.padW, s.dilationH, s.dilationW, s.groups};
}
Conv2dSpec unpackSpec(const std::vector<int64_t>& v) {
  return {v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
}

// The gradients of y = conv(x, w) given gy; each computed when asked for. kept: the forward pass's
// columns, or undefined.
void backwardImpl(const at::Tensor& gyIn, const at::Tensor& xIn, const at::Tensor& wIn, const Conv2dSpec& s,
                  bool needX, bool needW, at::Tensor& gx, at::Tensor& gw, const at::Tensor& kept = at::Tensor()) {
  at::Tensor x = xIn.contiguous(), w = wIn.contiguous(), gy = gyIn.contiguous();
  Geometry g(x, w, s);
  const bool depthwise = isDepthwise(x, w, s);
  if (needX) gx = at::empty_like(x);
  if (needW) gw = at::empty_like(w);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "metanas conv2d backward", [&] {
    const scalar_t *gyp = gy.data_ptr<scalar_t>(), *xp = x.data_ptr<scalar_t>(), *wp = w.data_ptr<scalar_t>();
    scalar_t* gxp = needX ? gx.data_ptr<scalar_t>() : nullptr;
    scalar_t* gwp = needW ? gw.data_ptr<scalar_t>() : nullptr;
    if (depthwise) return depthwiseBackward<scalar_t>(gyp, xp, wp, gxp, gwp, g);
    if (g.pointwise()) return pointwiseBackward<scalar_t>(gyp, xp, wp, gxp, gwp, g);
    const DensePlan p(g, sizeof(scalar_t));
    // The columns were kept for a plan of one group; a different thread count may plan others.
    const bool useKept = kept.defined() && p.groups(g) == 1 && kept.numel() == p.columnsSize();
    denseBackward<scalar_t>(gyp, xp, wp, useKept ? kept.data_ptr<scalar_t>() : nullptr, gxp, gwp, g, p);
  });
}

struct Conv2dFunction : public torch::autograd::Function<Conv2dFunction> {
  // keepColumns: the weight's gradient may be asked for (grad mode on, the weight requires it).
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            std::vector<int64_t> spec, bool keepColumns) {
    RECORD_FUNCTION("metanas::conv2d", std::vector<c10::IValue>());
    at::Tensor kept;
    at::Tensor y = forwardImpl(x, w, unpackSpec(spec), keepColumns, &kept);
    ctx->save_for_backward({x, w});
    ctx->saved_data["spec"] = spec;
    if (kept.defined()) ctx->saved_data["columns"] = kept;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    RECORD_FUNCTION("metanas::conv2d_backward", std::vector<c10::IValue>());
    auto saved = ctx->get_saved_variables();
    auto columns = ctx->saved_data.find("columns");
    const at::Tensor kept = columns == ctx->saved_data.end() ? at::Tensor() : columns->second.toTensor();
    at::Tensor gx, gw;
    backwardImpl(grads[0], saved[0], saved[1], unpackSpec(ctx->saved_data["spec"].toIntVector()),
                 ctx->needs_input_grad(0), ctx->needs_input_grad(1), gx, gw, kept);
    return {gx, gw, at::Tensor(), at::Tensor()};
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

// Where libtorch's convolution (oneDNN's direct convolution, layout reorders included) beats the
// columns and products above, measured forward and backward on one core of a 2-core AVX-512 Xeon
// with libtorch 1.13: 3x3 float convolutions with at least 256 column rows (cin * 9) and 16
// output pixels per sample, such as REPTILE's Conv4 past its first layer ([10, 64, 14, 14] at
// stride 2: 0.89 ms against 1.10; [10, 64, 7, 7]: 0.35 against 0.42; MiniImagenet's
// [10, 32, 42, 42]: 7.0 against 9.6) and the one-shot network's 7x7 cells ([20, 112, 7, 7]: 4.1
// against 5.8). Below that the columns win (Conv4's first layer, 1 channel: 0.19 ms against
// 0.28; its last at stride 2, 2x2 outputs: 0.13 against 0.21). Only where libtorch would run
// oneDNN (not when its use is switched off).
bool directConvolutionWins(const at::Tensor& x, const at::Tensor& w, const Conv2dSpec& s) {
  if (x.scalar_type() != at::kFloat || !at::hasMKLDNN() || !at::globalContext().userEnabledMkldnn()) return false;
  if (w.size(2) != 3 || w.size(3) != 3 || s.dilationH != 1 || s.dilationW != 1) return false;
  const int64_t ho = outSize(x.size(2), 3, s.strideH, s.padH, 1), wo = outSize(x.size(3), 3, s.strideW, s.padW, 1);
  return x.size(1) * 9 >= 256 && ho * wo >= 16;
}

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
    if (directConvolutionWins(x, w, s)) return false;
  } else if (!isDepthwise(x, w, s)) {
    return false;
  }
  return windowFits(x.size(2), w.size(2), s.padH, s.dilationH) && windowFits(x.size(3), w.size(3), s.padW, s.dilationW);
}

at::Tensor conv2d(const at::Tensor& x, const at::Tensor& w, const Conv2dSpec& s) {
  return Conv2dFunction::apply(x, w, packSpec(s), c10::GradMode::is_enabled() && w.requires_grad());
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
