// Batch normalisation with the current batch's statistics (the only mode metanas uses), on CPU,
// for [N, C, ...] tensors, with its backward pass. libtorch 1.13 spends about 0.8 ms on the
// forward pass of [20, 28, 28, 28] on one core, some 20 times an elementwise op over the same
// data; this kernel makes the three passes the forward needs (mean, centred sum of squares,
// normalisation) and the two the backward needs, each a plain loop over contiguous planes.
// Statistics as libtorch's: per-plane float sums accumulated in double, biased variance.
// Without an affine transform the output itself is kept for the backward pass (it is the
// normalised input), so that the input can be freed as soon as the next op has used it.
// With an affine transform a ReLU may follow in the same op (Conv4's blocks): the forward pass
// clamps as it writes, and the backward pass masks the gradient by the output as it reads it,
// instead of a ReLU op and its backward op, each a pass over the tensor and a node of the graph.
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <utility>
#include <vector>

#include "kernels.h"
#include "planes.h"

namespace metanas {
namespace {

struct Layout {
  int64_t n, c, inner;
  explicit Layout(at::IntArrayRef s) : n(s[0]), c(s[1]), inner(1) {
    for (size_t k = 2; k < s.size(); ++k) inner *= s[k];
  }
  int64_t count() const { return n * inner; }
};

template <typename T>
inline T planeSum(const T* __restrict x, int64_t m) {
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t j = 0; j < m; ++j) s += x[j];
  return s;
}

template <typename T>
inline T planeCentredSquares(const T* __restrict x, T mean, int64_t m) {
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t j = 0; j < m; ++j) s += (x[j] - mean) * (x[j] - mean);
  return s;
}

template <typename T>
inline void planeAffine(const T* __restrict x, T* __restrict y, T scale, T shift, int64_t m) {
#pragma omp simd
  for (int64_t j = 0; j < m; ++j) y[j] = x[j] * scale + shift;
}

// relu(x * scale + shift); NaN stays NaN, as in at::relu.
template <typename T>
inline void planeAffineRelu(const T* __restrict x, T* __restrict y, T scale, T shift, int64_t m) {
#pragma omp simd
  for (int64_t j = 0; j < m; ++j) {
    const T v = x[j] * scale + shift;
    y[j] = v < T(0) ? T(0) : v;
  }
}

// The upstream gradient, through the ReLU when Masked: gy where its output y is positive (as
// threshold_backward).
template <typename T, bool Masked>
inline T upstream(const T* __restrict gy, const T* __restrict y, int64_t j) {
  if constexpr (Masked) return y[j] > T(0) ? gy[j] : T(0);
  return gy[j];
}

// Sums of gy and of gy * xhat over one plane, xhat = (x - mean) * invstd (gy masked by the
// ReLU's output y when Masked).
template <typename T, bool Masked>
inline void planeGradSums(const T* __restrict gy, const T* __restrict x, const T* __restrict y, T mean,
                                  T invstd, int64_t m, T& sg, T& sgx) {
  T a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
  for (int64_t j = 0; j < m; ++j) {
    const T g = upstream<T, Masked>(gy, y, j);
    a += g;
    b += g * ((x[j] - mean) * invstd);
  }
  sg = a, sgx = b;
}

// gx = k * (gy - meanG - xhat * meanGX), xhat = (x - mean) * invstd; gy as above.
template <typename T, bool Masked>
inline void planeGradInput(const T* __restrict gy, const T* __restrict x, const T* __restrict y, T* __restrict gx,
                           T mean, T invstd, T k, T meanG, T meanGX, int64_t m) {
#pragma omp simd
  for (int64_t j = 0; j < m; ++j)
    gx[j] = k * (upstream<T, Masked>(gy, y, j) - meanG - (x[j] - mean) * invstd * meanGX);
}

// A channel's planes, one per sample, lie l.c * l.inner apart. The loops over them are compiled
// per CPU (one call per channel): Conv4's planes hold 4 to 196 values, where a call per plane
// (through the per-CPU dispatch) cost more than the plane's loop.
template <typename T>
METANAS_CLONES void channelSums(const T* __restrict x, const Layout& l, double& sum, double& sq, T& meanOut) {
  const int64_t stride = l.c * l.inner;
  sum = 0;
  for (int64_t i = 0; i < l.n; ++i) sum += planeSum<T>(x + i * stride, l.inner);
  const T mean = static_cast<T>(sum / l.count());
  sq = 0;
  for (int64_t i = 0; i < l.n; ++i) sq += planeCentredSquares<T>(x + i * stride, mean, l.inner);
  meanOut = mean;
}

template <typename T>
METANAS_CLONES void channelAffine(const T* __restrict x, T* __restrict y, T scale, T shift, bool relu,
                                  const Layout& l) {
  const int64_t stride = l.c * l.inner;
  for (int64_t i = 0; i < l.n; ++i) {
    if (relu)
      planeAffineRelu<T>(x + i * stride, y + i * stride, scale, shift, l.inner);
    else
      planeAffine<T>(x + i * stride, y + i * stride, scale, shift, l.inner);
  }
}

template <typename T, bool Masked>
METANAS_CLONES void channelGradSums(const T* __restrict gy, const T* __restrict x, const T* __restrict y, T mean,
                                    T invstd, const Layout& l, double& sg, double& sgx) {
  const int64_t stride = l.c * l.inner;
  sg = 0, sgx = 0;
  for (int64_t i = 0; i < l.n; ++i) {
    T a, b;
    planeGradSums<T, Masked>(gy + i * stride, x + i * stride, Masked ? y + i * stride : nullptr, mean, invstd,
                             l.inner, a, b);
    sg += a, sgx += b;
  }
}

template <typename T, bool Masked>
METANAS_CLONES void channelGradInput(const T* __restrict gy, const T* __restrict x, const T* __restrict y,
                                     T* __restrict gx, T mean, T invstd, T k, T meanG, T meanGX, const Layout& l) {
  const int64_t stride = l.c * l.inner;
  for (int64_t i = 0; i < l.n; ++i)
    planeGradInput<T, Masked>(gy + i * stride, x + i * stride, Masked ? y + i * stride : nullptr, gx + i * stride,
                              mean, invstd, k, meanG, meanGX, l.inner);
}

// One plane's sums, compiled per CPU, for the normalise-and-accumulate op below (which needs each
// plane's own sum).
template <typename T>
METANAS_CLONES void planeGradSumsOf(const T* __restrict gy, const T* __restrict x, T mean, T invstd, int64_t m, T& sg,
                                    T& sgx) {
  planeGradSums<T, false>(gy, x, nullptr, mean, invstd, m, sg, sgx);
}

// Batch statistics of channel c: its mean and 1 / sqrt(variance + eps), in double where they sum.
template <typename T>
std::pair<T, T> channelStats(const T* x, int64_t c, const Layout& l, double eps) {
  double sum, sq;
  T mean;
  channelSums<T>(x + c * l.inner, l, sum, sq, mean);
  return {mean, static_cast<T>(1.0 / std::sqrt(sq / l.count() + eps))};
}

// y = normalise(x) per channel (then a ReLU when `relu`); mean and invstd [C] are returned for the
// backward pass.
template <typename T>
void forwardKernel(const T* x, const T* weight, const T* bias, T* y, T* meanOut, T* invstdOut, const Layout& l,
                   double eps, bool relu) {
  at::parallel_for(0, l.c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const auto [mean, invstd] = channelStats<T>(x, c, l, eps);
      const T scale = invstd * (weight ? weight[c] : T(1));
      const T shift = (bias ? bias[c] : T(0)) - mean * scale;
      channelAffine<T>(x + c * l.inner, y + c * l.inner, scale, shift, relu, l);
      meanOut[c] = mean, invstdOut[c] = invstd;
    }
  });
}

// xhat = (saved - mean[c]) * invstd[c]: the input with its statistics, or (mean null, without
// affine) the output itself. weight[c] * invstd[c] (weight null: 1) scales the input's gradient.
// y: the output of a ReLU that followed (gy is masked by it) when Masked.
template <typename T, bool Masked>
void backwardKernel(const T* gy, const T* saved, const T* y, const T* mean, const T* invstd, const T* weight, T* gx,
                    T* gw, T* gb, const Layout& l) {
  at::parallel_for(0, l.c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const T m = mean ? mean[c] : T(0), s = mean ? invstd[c] : T(1), k = (weight ? weight[c] : T(1)) * invstd[c];
      const int64_t o = c * l.inner;
      double sg, sgx;
      channelGradSums<T, Masked>(gy + o, saved + o, Masked ? y + o : nullptr, m, s, l, sg, sgx);
      if (gw) gw[c] = static_cast<T>(sgx);
      if (gb) gb[c] = static_cast<T>(sg);
      if (!gx) continue;
      const T meanG = static_cast<T>(sg / l.count()), meanGX = static_cast<T>(sgx / l.count());
      channelGradInput<T, Masked>(gy + o, saved + o, Masked ? y + o : nullptr, gx + o, m, s, k, meanG, meanGX, l);
    }
  });
}

template <typename T>
T* ptrOrNull(const at::Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

// The forward pass; returns y and fills mean and invstd.
at::Tensor forwardImpl(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, double eps, at::Tensor& mean,
                       at::Tensor& invstd, bool relu = false) {
  Layout l(x.sizes());
  at::Tensor y = at::empty_like(x);
  mean = at::empty({l.c}, x.options()), invstd = at::empty({l.c}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "metanas batch_norm", [&] {
    forwardKernel<scalar_t>(x.data_ptr<scalar_t>(), ptrOrNull<scalar_t>(w), ptrOrNull<scalar_t>(b),
                            y.data_ptr<scalar_t>(), mean.data_ptr<scalar_t>(), invstd.data_ptr<scalar_t>(), l, eps,
                            relu);
  });
  return y;
}

// The backward pass; gx, gw, gb are computed when asked for (defined on entry). mean undefined:
// kept is the normalised input. reluOut: the output when a ReLU followed, else undefined.
void backwardImpl(const at::Tensor& gyIn, const at::Tensor& kept, const at::Tensor& mean, const at::Tensor& invstd,
                  const at::Tensor& weight, at::Tensor& gx, at::Tensor& gw, at::Tensor& gb,
                  const at::Tensor& reluOut = at::Tensor()) {
  at::Tensor gy = gyIn.contiguous();
  Layout l(kept.sizes());
  AT_DISPATCH_FLOATING_TYPES(kept.scalar_type(), "metanas batch_norm backward", [&] {
    auto kernel = reluOut.defined() ? backwardKernel<scalar_t, true> : backwardKernel<scalar_t, false>;
    kernel(gy.data_ptr<scalar_t>(), kept.data_ptr<scalar_t>(), ptrOrNull<scalar_t>(reluOut),
           ptrOrNull<scalar_t>(mean), invstd.data_ptr<scalar_t>(), ptrOrNull<scalar_t>(weight),
           ptrOrNull<scalar_t>(gx), ptrOrNull<scalar_t>(gw), ptrOrNull<scalar_t>(gb), l);
  });
}

// Without an affine transform the output is the normalised input: it is kept rather than the input.
struct PlainBatchNorm : public torch::autograd::Function<PlainBatchNorm> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, double eps) {
    RECORD_FUNCTION("metanas::batch_norm", std::vector<c10::IValue>());
    at::Tensor mean, invstd;
    at::Tensor y = forwardImpl(x.contiguous(), at::Tensor(), at::Tensor(), eps, mean, invstd);
    ctx->save_for_backward({y, invstd});
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    RECORD_FUNCTION("metanas::batch_norm_backward", std::vector<c10::IValue>());
    auto saved = ctx->get_saved_variables();
    at::Tensor y = saved[0], invstd = saved[1], gx, none;
    if (ctx->needs_input_grad(0)) gx = at::empty_like(y);
    backwardImpl(grads[0], y, none, invstd, none, gx, none, none);
    return {gx, at::Tensor()};
  }
};

// relu: y = relu(batchNorm(x)); the output is kept too, to mask the gradient.
struct AffineBatchNorm : public torch::autograd::Function<AffineBatchNorm> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& xIn, const at::Tensor& wIn,
                            const at::Tensor& bIn, double eps, bool relu) {
    RECORD_FUNCTION(relu ? "metanas::batch_norm_relu" : "metanas::batch_norm", std::vector<c10::IValue>());
    at::Tensor x = xIn.contiguous(), w = wIn.contiguous(), mean, invstd;
    at::Tensor y = forwardImpl(x, w, bIn.contiguous(), eps, mean, invstd, relu);
    ctx->save_for_backward({x, mean, invstd, w, relu ? y : at::Tensor()});
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    RECORD_FUNCTION("metanas::batch_norm_backward", std::vector<c10::IValue>());
    auto saved = ctx->get_saved_variables();
    at::Tensor x = saved[0], mean = saved[1], invstd = saved[2], w = saved[3], gx, gw, gb;
    if (ctx->needs_input_grad(0)) gx = at::empty_like(x);
    if (ctx->needs_input_grad(1)) gw = at::empty_like(mean);
    if (ctx->needs_input_grad(2)) gb = at::empty_like(mean);
    backwardImpl(grads[0], x, mean, invstd, w, gx, gw, gb, saved[4]);
    return {gx, gw, gb, at::Tensor(), at::Tensor()};
  }
};

// ---------------------------------------------------------------- normalise and accumulate
// out = acc + s_n * BN(z), BN without affine transform, s a factor per sample (a mixed op's weight
// times its drop-path mask): a node of the one-shot network sums its ops' outputs this way. One
// op instead of a batch norm, a product and a sum, and a backward pass that reads the gradient
// and z twice instead of writing three intermediates. z (not its normalisation) is kept.
template <typename T>
METANAS_CLONES void planeScaleAdd(const T* __restrict z, const T* __restrict acc, T* __restrict out, T a, T b,
                                  int64_t m) {
  if (acc) {
#pragma omp simd
    for (int64_t j = 0; j < m; ++j) out[j] = acc[j] + (z[j] * a + b);
  } else {
#pragma omp simd
    for (int64_t j = 0; j < m; ++j) out[j] = z[j] * a + b;
  }
}

// gz = invstd * (s * g - meanA - xhat * meanB), xhat = (z - mean) * invstd.
template <typename T>
METANAS_CLONES void planeGradScaled(const T* __restrict g, const T* __restrict z, T* __restrict gz, T mean, T invstd,
                                    T s, T meanA, T meanB, int64_t m) {
#pragma omp simd
  for (int64_t j = 0; j < m; ++j) gz[j] = invstd * (s * g[j] - meanA - (z[j] - mean) * invstd * meanB);
}

template <typename T>
void accumulateForward(const T* z, const T* acc, const T* s, T* out, T* meanOut, T* invstdOut, const Layout& l,
                       double eps) {
  at::parallel_for(0, l.c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const auto [mean, invstd] = channelStats<T>(z, c, l, eps);
      for (int64_t i = 0; i < l.n; ++i) {
        const int64_t o = (i * l.c + c) * l.inner;
        const T a = s[i] * invstd;
        planeScaleAdd<T>(z + o, acc ? acc + o : nullptr, out + o, a, -mean * a, l.inner);
      }
      meanOut[c] = mean, invstdOut[c] = invstd;
    }
  });
}

// gz (may be null) and, per sample and channel, t[n, c] = sum over the plane of g * xhat, from which
// the factors' gradient is summed.
template <typename T>
void accumulateBackward(const T* g, const T* z, const T* mean, const T* invstd, const T* s, T* gz, double* t,
                        const Layout& l) {
  at::parallel_for(0, l.c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      double a = 0, b = 0;
      for (int64_t i = 0; i < l.n; ++i) {
        T sg, sgx;
        planeGradSumsOf<T>(g + (i * l.c + c) * l.inner, z + (i * l.c + c) * l.inner, mean[c], invstd[c], l.inner, sg,
                           sgx);
        t[i * l.c + c] = sgx;
        a += s[i] * sg, b += s[i] * sgx;
      }
      if (!gz) continue;
      const T meanA = static_cast<T>(a / l.count()), meanB = static_cast<T>(b / l.count());
      for (int64_t i = 0; i < l.n; ++i) {
        const int64_t o = (i * l.c + c) * l.inner;
        planeGradScaled<T>(g + o, z + o, gz + o, mean[c], invstd[c], s[i], meanA, meanB, l.inner);
      }
    }
  });
}

// The factors as one value per sample.
at::Tensor perSample(const at::Tensor& scale, bool hasScale, int64_t n, const at::TensorOptions& o) {
  if (!hasScale) return at::ones({n}, o);
  return scale.reshape({-1}).expand({n}).contiguous();
}

// Absent acc and scale are passed as the placeholder z (autograd takes only defined tensors).
struct NormAccumulate : public torch::autograd::Function<NormAccumulate> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& zIn, const at::Tensor& accIn,
                            const at::Tensor& scale, bool hasAcc, bool hasScale, double eps) {
    RECORD_FUNCTION("metanas::batch_norm_accumulate", std::vector<c10::IValue>());
    at::Tensor z = zIn.contiguous();
    at::Tensor acc = hasAcc ? accIn.contiguous() : at::Tensor();
    Layout l(z.sizes());
    at::Tensor s = perSample(scale, hasScale, l.n, z.options());
    at::Tensor out = at::empty_like(z), mean = at::empty({l.c}, z.options()), invstd = at::empty({l.c}, z.options());
    AT_DISPATCH_FLOATING_TYPES(z.scalar_type(), "metanas batch_norm_accumulate", [&] {
      accumulateForward<scalar_t>(z.data_ptr<scalar_t>(), hasAcc ? acc.data_ptr<scalar_t>() : nullptr,
                                  s.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), mean.data_ptr<scalar_t>(),
                                  invstd.data_ptr<scalar_t>(), l, eps);
    });
    ctx->save_for_backward({z, mean, invstd, s});
    ctx->saved_data["hasAcc"] = hasAcc;
    ctx->saved_data["hasScale"] = hasScale;
    ctx->saved_data["scaleShape"] = scale.sizes().vec();
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    RECORD_FUNCTION("metanas::batch_norm_accumulate_backward", std::vector<c10::IValue>());
    auto saved = ctx->get_saved_variables();
    at::Tensor z = saved[0], mean = saved[1], invstd = saved[2], s = saved[3];
    const bool hasAcc = ctx->saved_data["hasAcc"].toBool(), hasScale = ctx->saved_data["hasScale"].toBool();
    at::Tensor g = grads[0].contiguous();
    Layout l(z.sizes());
    const bool needZ = ctx->needs_input_grad(0), needScale = hasScale && ctx->needs_input_grad(2);
    at::Tensor gz = needZ ? at::empty_like(z) : at::Tensor();
    at::Tensor t = at::empty({l.n, l.c}, z.options().dtype(at::kDouble));
    AT_DISPATCH_FLOATING_TYPES(z.scalar_type(), "metanas batch_norm_accumulate backward", [&] {
      accumulateBackward<scalar_t>(g.data_ptr<scalar_t>(), z.data_ptr<scalar_t>(), mean.data_ptr<scalar_t>(),
                                   invstd.data_ptr<scalar_t>(), s.data_ptr<scalar_t>(),
                                   needZ ? gz.data_ptr<scalar_t>() : nullptr, t.data_ptr<double>(), l);
    });
    at::Tensor gs;
    if (needScale) {
      auto shape = ctx->saved_data["scaleShape"].toIntVector();
      int64_t numel = 1;
      for (auto d : shape) numel *= d;
      at::Tensor perSampleGrad = t.sum(1).to(z.scalar_type());  // [n]
      gs = (numel == 1 ? perSampleGrad.sum() : perSampleGrad).reshape(shape);
    }
    const bool needAcc = hasAcc && ctx->needs_input_grad(1);
    return {gz, needAcc ? grads[0] : at::Tensor(), gs, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

bool batchNormHandles(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (!x.device().is_cpu() || x.dim() < 2 || x.numel() == 0) return false;
  if (x.scalar_type() != at::kFloat && x.scalar_type() != at::kDouble) return false;
  if (weight.defined() != bias.defined()) return false;
  for (const at::Tensor* p : {&weight, &bias}) {
    if (!p->defined()) continue;
    if (p->scalar_type() != x.scalar_type() || !p->device().is_cpu() || p->dim() != 1 || p->size(0) != x.size(1))
      return false;
  }
  // libtorch refuses a batch of one value per channel; leave that error to it.
  return x.numel() / x.size(1) > 1;
}

at::Tensor batchNorm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps, bool relu) {
  if (!weight.defined() && !bias.defined()) {
    at::Tensor y = PlainBatchNorm::apply(x, eps);
    return relu ? at::relu(y) : y;  // its output is kept as the normalised input: the ReLU stays apart
  }
  return AffineBatchNorm::apply(x, weight, bias, eps, relu);
}

}  // namespace metanas

namespace metanas {

bool batchNormAccumulateHandles(const at::Tensor& acc, const at::Tensor& z, const at::Tensor& scale) {
  if (!batchNormHandles(z, at::Tensor(), at::Tensor())) return false;
  if (acc.defined() && (acc.sizes() != z.sizes() || acc.scalar_type() != z.scalar_type() || !acc.device().is_cpu()))
    return false;
  if (scale.defined()) {
    if (scale.scalar_type() != z.scalar_type() || !scale.device().is_cpu()) return false;
    if (scale.numel() != 1 && scale.numel() != z.size(0)) return false;
    // [n] factors must run along the first axis: [n, 1, 1, 1] as the drop-path masks are
    if (scale.numel() != 1 && (scale.dim() != z.dim() || scale.size(0) != z.size(0))) return false;
  }
  return true;
}

at::Tensor batchNormAccumulate(const at::Tensor& acc, const at::Tensor& z, const at::Tensor& scale, double eps) {
  return NormAccumulate::apply(z, acc.defined() ? acc : z, scale.defined() ? scale : z, acc.defined(),
                               scale.defined(), eps);
}

}  // namespace metanas
