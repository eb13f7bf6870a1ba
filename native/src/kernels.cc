// Entry points of the addon's own kernels (kernels.h). Each falls back to libtorch's op for the
// cases a kernel does not cover (other devices, dtypes or shapes). METANAS_KERNELS=aten sends every
// call to libtorch's op, to compare the two in one build.
#include "kernels.h"

#include <cstdlib>
#include <string>

#include "binding.h"
#include "gemm.h"

namespace metanas {

bool ownKernels() {
  static const bool on = [] {
    const char* choice = std::getenv("METANAS_KERNELS");
    return !(choice && std::string(choice) == "aten");
  }();
  return on;
}

namespace {

// conv2d(x, w, bias or -1, stride, padding, dilation, groups)
Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  const at::Tensor& x = tensorArgAt(info, 0);
  const at::Tensor& w = tensorArgAt(info, 1);
  c10::optional<at::Tensor> bias = optTensorArgAt(info, 2);
  auto stride = pairArgAt(info, 3), padding = pairArgAt(info, 4), dilation = pairArgAt(info, 5);
  int64_t groups = intArgAt(info, 6);
  Conv2dSpec s{stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1], groups};
  if (ownKernels() && !bias && conv2dHandles(x, w, s)) return tensorValue(info.Env(), conv2d(x, w, s));
  return tensorValue(info.Env(), at::conv2d(x, w, bias, stride, padding, dilation, groups));
}

// separableConv2d(x, dw, pw, stride, padding, dilation, reluFirst): the depthwise step's geometry.
Napi::Value SeparableConv2d(const Napi::CallbackInfo& info) {
  const at::Tensor& x = tensorArgAt(info, 0);
  const at::Tensor& dw = tensorArgAt(info, 1);
  const at::Tensor& pw = tensorArgAt(info, 2);
  auto stride = pairArgAt(info, 3), padding = pairArgAt(info, 4), dilation = pairArgAt(info, 5);
  const bool reluFirst = boolArgAt(info, 6);
  Conv2dSpec s{stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1], x.dim() > 1 ? x.size(1) : 1};
  if (ownKernels() && separableConv2dHandles(x, dw, pw, s))
    return tensorValue(info.Env(), separableConv2d(x, dw, pw, s, reluFirst));
  at::Tensor r = reluFirst ? at::relu(x) : x;
  at::Tensor d = at::conv2d(r, dw, {}, stride, padding, dilation, s.groups);
  return tensorValue(info.Env(), at::conv2d(d, pw));
}

PoolSpec poolArgs(const Napi::CallbackInfo& info) {
  auto kernel = pairArgAt(info, 1), stride = pairArgAt(info, 2), padding = pairArgAt(info, 3);
  return {kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1], false};
}

// maxPool2d(x, kernel, stride, padding)
Napi::Value MaxPool2d(const Napi::CallbackInfo& info) {
  const at::Tensor& x = tensorArgAt(info, 0);
  PoolSpec s = poolArgs(info);
  if (ownKernels() && poolHandles(x, s)) return tensorValue(info.Env(), maxPool2d(x, s));
  return tensorValue(info.Env(), at::max_pool2d(x, {s.kernelH, s.kernelW}, {s.strideH, s.strideW}, {s.padH, s.padW}));
}

// avgPool2d(x, kernel, stride, padding, countIncludePad)
Napi::Value AvgPool2d(const Napi::CallbackInfo& info) {
  const at::Tensor& x = tensorArgAt(info, 0);
  PoolSpec s = poolArgs(info);
  s.countIncludePad = boolArgAt(info, 4);
  if (ownKernels() && poolHandles(x, s)) return tensorValue(info.Env(), avgPool2d(x, s));
  return tensorValue(info.Env(), at::avg_pool2d(x, {s.kernelH, s.kernelW}, {s.strideH, s.strideW}, {s.padH, s.padW},
                                                false, s.countIncludePad));
}

// batchNorm(x, weight or -1, bias or -1, eps, relu): the batch's statistics, no running
// statistics; then a ReLU when relu.
Napi::Value BatchNorm(const Napi::CallbackInfo& info) {
  const at::Tensor& x = tensorArgAt(info, 0);
  at::Tensor w = optTensorArgAt(info, 1).value_or(at::Tensor()), b = optTensorArgAt(info, 2).value_or(at::Tensor());
  double eps = numArgAt(info, 3);
  const bool relu = boolArgAt(info, 4);
  if (ownKernels() && batchNormHandles(x, w, b)) return tensorValue(info.Env(), batchNorm(x, w, b, eps, relu));
  at::Tensor y = at::batch_norm(x, w, b, {}, {}, true, 0.1, eps, true);
  return tensorValue(info.Env(), relu ? at::relu(y) : y);
}

// batchNormAccumulate(acc or -1, z, scale or -1, eps) = acc + scale * batchNorm(z).
Napi::Value BatchNormAccumulate(const Napi::CallbackInfo& info) {
  const at::Tensor& z = tensorArgAt(info, 1);
  at::Tensor acc = optTensorArgAt(info, 0).value_or(at::Tensor()), scale = optTensorArgAt(info, 2).value_or(at::Tensor());
  double eps = numArgAt(info, 3);
  if (ownKernels() && batchNormAccumulateHandles(acc, z, scale))
    return tensorValue(info.Env(), batchNormAccumulate(acc, z, scale, eps));
  at::Tensor y = at::batch_norm(z, {}, {}, {}, {}, true, 0.1, eps, true);
  if (scale.defined()) y = y * scale;
  return tensorValue(info.Env(), acc.defined() ? acc + y : y);
}

// addcmul(a, b, c) = a + b * c (broadcasting) in one pass: a mixed edge's weighted sum.
Napi::Value Addcmul(const Napi::CallbackInfo& info) {
  return tensorValue(info.Env(), at::addcmul(tensorArgAt(info, 0), tensorArgAt(info, 1), tensorArgAt(info, 2)));
}

Napi::Value KernelInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto out = Napi::Object::New(env);
  out.Set("kernels", Napi::String::New(env, ownKernels() ? "metanas" : "aten"));
  out.Set("sgemm", Napi::String::New(env, fastSgemmAvailable() ? "onednn" : "aten"));
  return out;
}

}  // namespace

void registerKernels(Napi::Env env, Napi::Object exports) {
  exports.Set("conv2d", Napi::Function::New(env, guardedEntry<Conv2d>, "conv2d"));
  exports.Set("separableConv2d", Napi::Function::New(env, guardedEntry<SeparableConv2d>, "separableConv2d"));
  exports.Set("maxPool2d", Napi::Function::New(env, guardedEntry<MaxPool2d>, "maxPool2d"));
  exports.Set("avgPool2d", Napi::Function::New(env, guardedEntry<AvgPool2d>, "avgPool2d"));
  exports.Set("batchNorm", Napi::Function::New(env, guardedEntry<BatchNorm>, "batchNorm"));
  exports.Set("batchNormAccumulate",
              Napi::Function::New(env, guardedEntry<BatchNormAccumulate>, "batchNormAccumulate"));
  exports.Set("addcmul", Napi::Function::New(env, guardedEntry<Addcmul>, "addcmul"));
  exports.Set("kernelInfo", Napi::Function::New(env, guardedEntry<KernelInfo>, "kernelInfo"));
}

}  // namespace metanas
