// See gemm.h. oneDNN's C API is looked up at run time (dlopen of the library libtorch already
// loaded), so that the addon still builds and runs against a libtorch whose oneDNN is linked in
// statically (pytorch.org downloads): there the products fall back to at::mm.
#include "gemm.h"

#include <dlfcn.h>

#include <cstdlib>
#include <string>

namespace metanas {
namespace {

// dnnl_status_t dnnl_sgemm(char transa, char transb, dnnl_dim_t M, N, K, float alpha, const float* A,
//                          dnnl_dim_t lda, const float* B, dnnl_dim_t ldb, float beta, float* C, dnnl_dim_t ldc)
using SgemmFn = int (*)(char, char, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                        float, float*, int64_t);

SgemmFn findSgemm() {
  const char* choice = std::getenv("METANAS_GEMM");
  if (choice && std::string(choice) == "aten") return nullptr;  // for comparisons
  void* lib = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_NOLOAD);
  if (!lib) lib = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return nullptr;
  return reinterpret_cast<SgemmFn>(dlsym(lib, "dnnl_sgemm"));
}

SgemmFn sgemm() {
  static SgemmFn fn = findSgemm();
  return fn;
}

template <typename T>
void atenGemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
              int64_t ldb, T beta, T* c, int64_t ldc) {
  auto opts = at::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value);
  // op(A) is m x k: stored k x m when transposed.
  at::Tensor A = transA ? at::from_blob(const_cast<T*>(a), {k, m}, {lda, 1}, opts).t()
                        : at::from_blob(const_cast<T*>(a), {m, k}, {lda, 1}, opts);
  at::Tensor B = transB ? at::from_blob(const_cast<T*>(b), {n, k}, {ldb, 1}, opts).t()
                        : at::from_blob(const_cast<T*>(b), {k, n}, {ldb, 1}, opts);
  at::Tensor C = at::from_blob(c, {m, n}, {ldc, 1}, opts);
  if (beta == T(0)) {
    at::mm_out(C, A, B);
    if (alpha != T(1)) C.mul_(alpha);
  } else {
    C.addmm_(A, B, beta, alpha);
  }
}

}  // namespace

bool fastSgemmAvailable() { return sgemm() != nullptr; }

template <>
void gemm<float>(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (SgemmFn fn = sgemm()) {
    if (fn(transA ? 'T' : 'N', transB ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == 0) return;
  }
  atenGemm<float>(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template <>
void gemm<double>(bool transA, bool transB, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                  int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  atenGemm<double>(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace metanas
