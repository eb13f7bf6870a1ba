// Row-major matrix products for the native kernels: C = alpha * op(A) op(B) + beta * C.
// float goes to oneDNN's JIT sgemm when libtorch's oneDNN library is loadable (Debian's libtorch
// links libdnnl.so.2): about 80-100 GFLOP/s on one core at the search network's sizes, where
// libtorch's own matmul would go to the reference BLAS. Everything else goes through at::mm.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace metanas {

/** True when float products run in oneDNN's sgemm (reported by kernelInfo for benchmarks). */
bool fastSgemmAvailable();

template <typename T>
void gemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc);

}  // namespace metanas
