// Adam's update as one pass over each parameter, for contiguous CPU tensors of float or double.
// The task learner takes an Adam step after every inner step; done as libtorch ops (the mul_,
// add_, addcmul_, sqrt, div, add_ and addcdiv_ of torch.optim.Adam) that step cost about 0.4 ms
// of REPTILE's 2.8 ms Conv4 inner step on one core: eight passes and a temporary per parameter,
// and each op's dispatch for Conv4's 14 small tensors. This loop computes the same expressions
// per element in the same order, each rounded to the tensor's type as the ops round them
// (compiled without contracting a product and a sum into one fused multiply-add, see
// CMakeLists.txt).
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/variable.h>

#include <cmath>

#include "kernels.h"
#include "planes.h"

namespace metanas {
namespace {

template <typename T>
struct AdamScalars {
  T beta1, oneMinusBeta1, beta2, oneMinusBeta2, bias2Sqrt, eps, negStepSize, weightDecay;
  explicit AdamScalars(const AdamStepSpec& s)
      : beta1(static_cast<T>(s.beta1)),
        oneMinusBeta1(static_cast<T>(1.0 - s.beta1)),
        beta2(static_cast<T>(s.beta2)),
        oneMinusBeta2(static_cast<T>(1.0 - s.beta2)),
        bias2Sqrt(static_cast<T>(s.bias2Sqrt)),
        eps(static_cast<T>(s.eps)),
        negStepSize(static_cast<T>(-s.stepSize)),
        weightDecay(static_cast<T>(s.weightDecay)) {}
};

// As torch.optim.Adam: g += wd * p; m = m * beta1 + (1 - beta1) * g; v = v * beta2 + (1 - beta2) * g * g;
// p += -stepSize * m / (sqrt(v) / sqrt(bias2) + eps).
template <typename T, bool Decay>
METANAS_CLONES void adamLoop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, int64_t n,
                             const AdamScalars<T>& a) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    const T gj = Decay ? g[j] + a.weightDecay * p[j] : g[j];
    const T mj = m[j] * a.beta1 + a.oneMinusBeta1 * gj;
    const T vj = v[j] * a.beta2 + a.oneMinusBeta2 * gj * gj;
    m[j] = mj, v[j] = vj;
    const T denom = std::sqrt(vj) / a.bias2Sqrt + a.eps;
    p[j] = p[j] + a.negStepSize * mj / denom;
  }
}

bool fits(const at::Tensor& t, const at::Tensor& p) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == p.scalar_type() && t.is_contiguous() &&
         t.numel() == p.numel();
}

}  // namespace

bool adamStepHandles(const at::Tensor& p, const at::Tensor& g, const at::Tensor& m, const at::Tensor& v) {
  if (!ownKernels() || !p.device().is_cpu() || !p.is_contiguous()) return false;
  if (p.scalar_type() != at::kFloat && p.scalar_type() != at::kDouble) return false;
  return fits(g, p) && fits(m, p) && fits(v, p);
}

void adamStep(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, const AdamStepSpec& s) {
  AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "metanas adam step", [&] {
    const AdamScalars<scalar_t> a(s);
    scalar_t *pp = p.data_ptr<scalar_t>(), *mp = m.data_ptr<scalar_t>(), *vp = v.data_ptr<scalar_t>();
    const scalar_t* gp = g.data_ptr<scalar_t>();
    at::parallel_for(0, p.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
      if (s.weightDecay != 0)
        adamLoop<scalar_t, true>(pp + begin, gp + begin, mp + begin, vp + begin, end - begin, a);
      else
        adamLoop<scalar_t, false>(pp + begin, gp + begin, mp + begin, vp + begin, end - begin, a);
    });
  });
  // Written in place as libtorch's in-place ops would: autograd must see that they changed.
  for (at::Tensor* t : {&p, &m, &v}) torch::autograd::impl::bump_version(*t);
}

}  // namespace metanas
