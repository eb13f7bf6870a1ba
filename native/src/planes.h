// Shared pieces of the addon's image kernels (conv.cc, pool.cc): the geometry of a sliding window
// over one image plane, and the phase-plane layout that turns every window tap into one long
// contiguous loop.
//
// An image plane is padded and split into stride x stride phase planes (the pixels whose padded
// row and column are congruent to (r, q) modulo the stride; one plane when the stride is 1). Then
// every tap of the window reads one phase plane at a fixed offset; computing the output at the
// phase planes' row pitch wq (the columns past wo are scratch) makes each tap one multiply-add,
// max or sum over the whole plane instead of one short, strided loop per output row.
#pragma once

#include <algorithm>
#include <cstdint>

// Inner loops are compiled for the baseline, AVX2+FMA and AVX-512 and picked when the addon loads.
#define METANAS_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))

namespace metanas {

inline int64_t outSize(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation) {
  return (in + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
}

/** True when the (dilated) window fits in the padded input, so that there is at least one output. */
inline bool windowFits(int64_t in, int64_t k, int64_t pad, int64_t dilation) {
  return in + 2 * pad >= dilation * (k - 1) + 1;
}

/** A kh x kw window sliding over an h x w plane, giving ho x wo outputs. */
struct Window {
  int64_t h = 0, w = 0, ho = 0, wo = 0, kh = 1, kw = 1;
  int64_t strideH = 1, strideW = 1, padH = 0, padW = 0, dilationH = 1, dilationW = 1;
  void setOutput() {
    ho = outSize(h, kh, strideH, padH, dilationH);
    wo = outSize(w, kw, strideW, padW, dilationW);
  }
};

// The output columns ow of an input row that tap offset `off` (= kw * dilation - pad) reaches
// inside the image: 0 <= ow * stride + off < w.
inline void validColumns(int64_t off, int64_t stride, int64_t w, int64_t wo, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  hi = off >= w ? 0 : std::min(wo, (w - 1 - off) / stride + 1);
  if (hi < lo) hi = lo;
}

struct Phases {
  int64_t sh, sw, hq, wq, phase, size;
  explicit Phases(const Window& g) : sh(g.strideH), sw(g.strideW) {
    const int64_t hp = g.h + 2 * g.padH, wp = g.w + 2 * g.padW;
    hq = (hp + sh - 1) / sh;
    wq = (wp + sw - 1) / sw;
    // A tap's reads overrun its phase plane by at most its column offset (scratch columns only).
    phase = hq * wq + ((g.kw - 1) * g.dilationW) / sw + 1;
    size = sh * sw * phase;
  }
  /** Length of an output plane at pitch wq. */
  int64_t out(const Window& g) const { return g.ho * wq; }
  /** Offset in the phase buffer of tap (a, b) for output pixel (0, 0). */
  int64_t tap(const Window& g, int64_t a, int64_t b) const {
    const int64_t dy = a * g.dilationH, dx = b * g.dilationW;
    return ((dy % sh) * sw + dx % sw) * phase + (dy / sh) * wq + dx / sw;
  }
  /** Offset of input pixel (i, j): that of its row (RowOffsets below) plus columnOffset(j). */
  int64_t columnOffset(const Window& g, int64_t j) const {
    const int64_t x = j + g.padW;
    return (x % sw) * phase + x / sw;
  }
};

// The offsets of the input rows in the phase buffer, in order: row i lies in phase row
// (i + padH) % sh at (i + padH) / sh, found without a division per row (the rows of Conv4's small
// planes are short enough for divisions to show).
class RowOffsets {
 public:
  RowOffsets(const Window& g, const Phases& ph) : ph_(ph), r_((g.padH) % ph.sh), q_(g.padH / ph.sh) {}
  int64_t operator*() const { return r_ * ph_.sw * ph_.phase + q_ * ph_.wq; }
  void operator++() {
    if (++r_ == ph_.sh) r_ = 0, ++q_;
  }

 private:
  const Phases& ph_;
  int64_t r_, q_;
};

// Short rows (28 values) are copied inline: a call to memcpy per row costs more than the copy.
template <typename T>
inline void copyRow(const T* __restrict src, T* __restrict dst, int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) dst[j] = src[j];
}
template <typename T>
inline void fillRow(T* __restrict dst, int64_t n, T v) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) dst[j] = v;
}

/** The phase-buffer offsets of the taps (row-major); returns the largest. */
inline int64_t tapOffsets(const Window& g, const Phases& ph, int64_t* off) {
  int64_t most = 0;
  for (int64_t a = 0; a < g.kh; ++a)
    for (int64_t b = 0; b < g.kw; ++b) most = std::max(most, off[a * g.kw + b] = ph.tap(g, a, b));
  return most;
}

/**
 * 3x3 windows at stride 1 run fused kernels: all nine taps in one pass over the plane, and the
 * backward passes as gathers (each input pixel sums what its nine outputs send it) from an output
 * plane with a zero margin in front, instead of nine scatter passes.
 */
inline bool fusedNine(const Window& g) { return g.kh == 3 && g.kw == 3; }
inline bool fusedNineGather(const Window& g) { return fusedNine(g) && g.strideH == 1 && g.strideW == 1; }

// Stride 2: a row's even and odd columns into two phase rows in one pass (a generic strided loop
// per phase cost three times as much on the short rows of Conv4's stride-2 layers).
template <typename T>
inline void splitRow2(const T* __restrict row, T* __restrict even, T* __restrict odd, int64_t w) {
  const int64_t half = w / 2;
  for (int64_t k = 0; k < half; ++k) {
    even[k] = row[2 * k];
    odd[k] = row[2 * k + 1];
  }
  if (w & 1) even[half] = row[w - 1];
}
template <typename T>
inline void joinRow2(const T* __restrict even, const T* __restrict odd, T* __restrict row, int64_t w) {
  const int64_t half = w / 2;
  for (int64_t k = 0; k < half; ++k) {
    row[2 * k] = even[k];
    row[2 * k + 1] = odd[k];
  }
  if (w & 1) row[w - 1] = even[half];
}

/** The plane x (h x w) into the phase buffer, the padding and scratch set to `fill`. */
template <typename T>
METANAS_CLONES void toPhases(const T* __restrict x, T* __restrict buf, const Window& g, const Phases& ph, T fill) {
  fillRow(buf, ph.size, fill);
  const int64_t c0 = ph.columnOffset(g, 0), c1 = ph.columnOffset(g, 1);
  RowOffsets at(g, ph);
  for (int64_t i = 0; i < g.h; ++i, ++at) {
    const T* __restrict row = x + i * g.w;
    T* __restrict base = buf + *at;
    if (ph.sw == 1) {
      copyRow(row, base + c0, g.w);
    } else if (ph.sw == 2 && g.w > 1) {
      splitRow2(row, base + c0, base + c1, g.w);
    } else {
      // columns j = q, q + sw, ... land consecutively in one phase plane
      for (int64_t q = 0; q < ph.sw && q < g.w; ++q) {
        T* __restrict dst = base + ph.columnOffset(g, q);
        int64_t k = 0;
        for (int64_t j = q; j < g.w; j += ph.sw) dst[k++] = row[j];
      }
    }
  }
}

/** The inverse of toPhases on the image pixels (padding and scratch are dropped). */
template <typename T>
METANAS_CLONES void fromPhases(const T* __restrict buf, T* __restrict x, const Window& g, const Phases& ph) {
  const int64_t c0 = ph.columnOffset(g, 0), c1 = ph.columnOffset(g, 1);
  RowOffsets at(g, ph);
  for (int64_t i = 0; i < g.h; ++i, ++at) {
    T* __restrict row = x + i * g.w;
    const T* __restrict base = buf + *at;
    if (ph.sw == 1) {
      copyRow(base + c0, row, g.w);
    } else if (ph.sw == 2 && g.w > 1) {
      joinRow2(base + c0, base + c1, row, g.w);
    } else {
      for (int64_t q = 0; q < ph.sw && q < g.w; ++q) {
        const T* __restrict src = base + ph.columnOffset(g, q);
        int64_t k = 0;
        for (int64_t j = q; j < g.w; j += ph.sw) row[j] = src[k++];
      }
    }
  }
}

/** An output plane (ho x wo) at pitch wq, scratch columns zero (so that they add nothing). */
template <typename T>
METANAS_CLONES void spreadRows(const T* __restrict y, T* __restrict yq, const Window& g, const Phases& ph) {
  for (int64_t i = 0; i < g.ho; ++i) {
    copyRow(y + i * g.wo, yq + i * ph.wq, g.wo);
    fillRow(yq + i * ph.wq + g.wo, ph.wq - g.wo, T(0));
  }
}

/** The inverse of spreadRows. */
template <typename T>
METANAS_CLONES void compactRows(const T* __restrict yq, T* __restrict y, const Window& g, const Phases& ph) {
  for (int64_t i = 0; i < g.ho; ++i) copyRow(yq + i * ph.wq, y + i * g.wo, g.wo);
}

}  // namespace metanas
