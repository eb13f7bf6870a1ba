// The addon's own CPU kernels for the search space's hot operations, each a differentiable
// libtorch op (a custom autograd function) so that they mix freely with libtorch's own ops.
// Why they exist: measured on the one-shot network (C = 28, batch 20, one thread), libtorch 1.13's
// convolutions spend most of their time outside oneDNN's convolution itself (layout reorders
// around every call; a gemm fallback for dilated depthwise backward), and its 3x3 pooling is far
// slower than its memory traffic. Each kernel is checked against libtorch's op in the tests
// (forward and gradients, float32 and float64) and by finite differences.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace metanas {

struct Conv2dSpec {
  int64_t strideH = 1, strideW = 1, padH = 0, padW = 0, dilationH = 1, dilationW = 1, groups = 1;
};

/** True when conv2d below handles the case (CPU, float or double, no bias, dense or depthwise). */
bool conv2dHandles(const at::Tensor& x, const at::Tensor& w, const Conv2dSpec& s);
/** x [N, Cin, H, W], w [Cout, Cin / groups, kh, kw]; groups 1 (im2col + gemm) or Cin (direct depthwise). */
at::Tensor conv2d(const at::Tensor& x, const at::Tensor& w, const Conv2dSpec& s);

/** True when separableConv2d handles the case: conv2dHandles for the depthwise step, pw [Cout, Cin, 1, 1]. */
bool separableConv2dHandles(const at::Tensor& x, const at::Tensor& dw, const at::Tensor& pw, const Conv2dSpec& s);
/**
 * pointwise(depthwise(x)), after a ReLU of x when reluFirst: one op that keeps only x and the
 * weights for its backward pass and recomputes the rest (s: the depthwise step's geometry).
 */
at::Tensor separableConv2d(const at::Tensor& x, const at::Tensor& dw, const at::Tensor& pw, const Conv2dSpec& s,
                           bool reluFirst);

struct PoolSpec {
  int64_t kernelH = 1, kernelW = 1, strideH = 1, strideW = 1, padH = 0, padW = 0;
  /** Average pooling: divide by the window's size including padding (else: by its image pixels). */
  bool countIncludePad = false;
};

/** True when the pooling kernels handle the case (CPU, float or double, 4-D, padding <= kernel / 2). */
bool poolHandles(const at::Tensor& x, const PoolSpec& s);
at::Tensor maxPool2d(const at::Tensor& x, const PoolSpec& s);
at::Tensor avgPool2d(const at::Tensor& x, const PoolSpec& s);

/** True when batchNorm handles the case (CPU, float or double, [N, C, ...], weight and bias both [C] or both undefined). */
bool batchNormHandles(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);
/** Batch norm with the batch's statistics; affine when weight or bias is defined; then a ReLU when `relu`. */
at::Tensor batchNorm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps, bool relu);

/** True when batchNormAccumulate handles the case (acc as z or undefined; scale of 1 or [N, 1, ...] values). */
bool batchNormAccumulateHandles(const at::Tensor& acc, const at::Tensor& z, const at::Tensor& scale);
/** acc + scale * batchNorm(z) (no affine transform) as one op; acc and scale may be undefined (0 and 1). */
at::Tensor batchNormAccumulate(const at::Tensor& acc, const at::Tensor& z, const at::Tensor& scale, double eps);

/** False when METANAS_KERNELS=aten sends every call to libtorch's ops (kernels.cc). */
bool ownKernels();

struct AdamStepSpec {
  double stepSize, bias2Sqrt, beta1, beta2, eps, weightDecay;
};
/** True when adamStep handles the tensors: CPU, contiguous, float or double, one dtype and size. */
bool adamStepHandles(const at::Tensor& p, const at::Tensor& g, const at::Tensor& m, const at::Tensor& v);
/** One Adam update of p, m and v in place, in one pass (optim.cc). */
void adamStep(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, const AdamStepSpec& s);

}  // namespace metanas
