// metanas native addon: a thin Node-API binding over libtorch.
//
// Tensors live in a table on this side and JavaScript holds integer ids: wrapping every result
// in a Node object costs 3-5x more per call than handing out an id (see native/README.md).
// Every entry point catches libtorch errors and rethrows them as JavaScript errors, because a
// C++ exception that escapes a Node-API call aborts the process.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/version.h>
#include <napi.h>

#include "binding.h"
#include "kernels.h"

#include <malloc.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace {

// ---------------------------------------------------------------- allocator policy
// libtorch's CPU tensors come straight from glibc malloc. Activations of a few hundred KB to a few
// MB sit above glibc's (dynamic) mmap threshold, so a training step can map, fault in, zero and
// unmap fresh pages for most of its tensors, and whether it does differs from process to process
// (the same step measured at 40 ms in one process and 150 ms in the next). Keeping such buffers in
// the heap and never trimming it makes every process take the fast path: a freed activation's
// pages are reused by the next step. The cost is that the heap keeps its high-water mark, which a
// training loop reaches in its first step anyway. METANAS_MALLOC=system leaves glibc's defaults.
struct AllocatorPolicy {
  std::string name = "unset";
  bool applied = false;
};
AllocatorPolicy allocatorPolicy;

void applyAllocatorPolicy() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* choice = std::getenv("METANAS_MALLOC");
    if (choice && std::string(choice) == "system") {
      allocatorPolicy.name = "system";
      return;
    }
    constexpr int kMmapThreshold = 1 << 30;  // only buffers of 1 GiB or more are mapped on their own
    constexpr int kTrimThreshold = 1 << 30;  // the heap's top is not given back to the system
    constexpr int kTopPad = 64 << 20;        // grow the heap in 64 MiB steps, not one page at a time
    bool ok = mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1;
    ok = mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1 && ok;
    ok = mallopt(M_TOP_PAD, kTopPad) == 1 && ok;
    allocatorPolicy.name = ok ? "heap" : "system (mallopt refused)";
    allocatorPolicy.applied = ok;
  });
}

// ---------------------------------------------------------------- tensor table
// One table per thread: each worker_threads Worker runs its own Node environment on its own
// thread, and ids must not collide across them.
thread_local std::vector<at::Tensor> table;
thread_local std::vector<bool> occupied;
thread_local std::vector<int32_t> freeIds;
thread_local int64_t liveCount = 0;
thread_local at::Device defaultDevice(at::kCPU);

int32_t put(at::Tensor t) {
  int32_t id;
  if (!freeIds.empty()) {
    id = freeIds.back();
    freeIds.pop_back();
    table[id] = std::move(t);
    occupied[id] = true;
  } else {
    id = static_cast<int32_t>(table.size());
    table.push_back(std::move(t));
    occupied.push_back(true);
  }
  ++liveCount;
  return id;
}

// Bad arguments: the guard turns them into TypeErrors (binding.h).
struct ArgError : metanas::BindingArgError {
  using metanas::BindingArgError::BindingArgError;
};

const at::Tensor& get(int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= table.size() || !occupied[id]) {
    throw ArgError("tensor " + std::to_string(id) + " was disposed or never existed");
  }
  return table[id];
}

void release(int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= table.size() || !occupied[id]) return;
  table[id] = at::Tensor();
  occupied[id] = false;
  freeIds.push_back(id);
  --liveCount;
}

// ---------------------------------------------------------------- argument helpers
int32_t idArg(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsNumber()) throw ArgError("argument " + std::to_string(i) + ": expected a tensor id");
  return info[i].As<Napi::Number>().Int32Value();
}
const at::Tensor& tensorArg(const Napi::CallbackInfo& info, size_t i) { return get(idArg(info, i)); }
c10::optional<at::Tensor> optTensorArg(const Napi::CallbackInfo& info, size_t i) {
  int32_t id = idArg(info, i);
  if (id < 0) return c10::nullopt;
  return get(id);
}
int64_t intArg(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsNumber()) throw ArgError("argument " + std::to_string(i) + ": expected an integer");
  return info[i].As<Napi::Number>().Int64Value();
}
double numArg(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsNumber()) throw ArgError("argument " + std::to_string(i) + ": expected a number");
  return info[i].As<Napi::Number>().DoubleValue();
}
bool boolArg(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsBoolean()) throw ArgError("argument " + std::to_string(i) + ": expected a boolean");
  return info[i].As<Napi::Boolean>().Value();
}
std::vector<int64_t> intsArg(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsArray()) throw ArgError("argument " + std::to_string(i) + ": expected an array of integers");
  auto arr = info[i].As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr.Get(k);
    if (!v.IsNumber()) throw ArgError("argument " + std::to_string(i) + ": expected an array of integers");
    out[k] = v.As<Napi::Number>().Int64Value();
  }
  return out;
}
std::vector<at::Tensor> tensorsArg(const Napi::CallbackInfo& info, size_t i) {
  auto ids = intsArg(info, i);
  std::vector<at::Tensor> out;
  out.reserve(ids.size());
  for (auto id : ids) out.push_back(get(static_cast<int32_t>(id)));
  return out;
}

// dtype codes shared with src/engine/dtype.ts
at::ScalarType dtypeOf(int64_t code) {
  switch (code) {
    case 0: return at::kFloat;
    case 1: return at::kDouble;
    case 2: return at::kLong;
    case 3: return at::kBool;
    case 4: return at::kByte;
    case 5: return at::kInt;
  }
  throw ArgError("unknown dtype code " + std::to_string(code));
}
int64_t codeOf(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return 0;
    case at::kDouble: return 1;
    case at::kLong: return 2;
    case at::kBool: return 3;
    case at::kByte: return 4;
    case at::kInt: return 5;
    default: return -1;
  }
}
at::TensorOptions opts(int64_t dtypeCode) { return at::TensorOptions().dtype(dtypeOf(dtypeCode)).device(defaultDevice); }

Napi::Value idValue(Napi::Env env, at::Tensor t) { return Napi::Number::New(env, put(std::move(t))); }
Napi::Value idsValue(Napi::Env env, const std::vector<at::Tensor>& ts) {
  auto arr = Napi::Array::New(env, ts.size());
  for (size_t k = 0; k < ts.size(); ++k) arr.Set(k, Napi::Number::New(env, ts[k].defined() ? put(ts[k]) : -1));
  return arr;
}

// Every exported function goes through one guard (binding.h).
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  return metanas::guardedEntry<F>(info);
}

// ---------------------------------------------------------------- creation and data
Napi::Value FromTypedArray(const Napi::CallbackInfo& info) {
  if (!info[0].IsTypedArray()) throw ArgError("fromTypedArray: expected a typed array");
  auto ta = info[0].As<Napi::TypedArray>();
  auto shape = intsArg(info, 1);
  at::ScalarType st;
  switch (ta.TypedArrayType()) {
    case napi_float32_array: st = at::kFloat; break;
    case napi_float64_array: st = at::kDouble; break;
    case napi_int32_array: st = at::kInt; break;
    case napi_bigint64_array: st = at::kLong; break;
    case napi_uint8_array: st = at::kByte; break;
    default: throw ArgError("fromTypedArray: unsupported typed array type");
  }
  int64_t n = 1;
  for (auto d : shape) n *= d;
  if (n != static_cast<int64_t>(ta.ElementLength())) {
    throw ArgError("fromTypedArray: shape holds " + std::to_string(n) + " elements but the array has " + std::to_string(ta.ElementLength()));
  }
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(st));
  const uint8_t* src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  std::memcpy(t.data_ptr(), src, ta.ByteLength());
  if (info.Length() > 2 && info[2].IsNumber()) {
    int64_t want = intArg(info, 2);
    if (want >= 0) t = t.to(dtypeOf(want));
  }
  if (defaultDevice != at::kCPU) t = t.to(defaultDevice);
  return idValue(info.Env(), t);
}

Napi::Value ToTypedArray(const Napi::CallbackInfo& info) {
  at::Tensor t = tensorArg(info, 0).detach().to(at::kCPU).contiguous();
  Napi::Env env = info.Env();
  int64_t n = t.numel();
  switch (t.scalar_type()) {
    case at::kFloat: {
      auto out = Napi::Float32Array::New(env, n);
      std::memcpy(out.Data(), t.data_ptr(), n * sizeof(float));
      return out;
    }
    case at::kDouble: {
      auto out = Napi::Float64Array::New(env, n);
      std::memcpy(out.Data(), t.data_ptr(), n * sizeof(double));
      return out;
    }
    case at::kBool:
    case at::kByte: {
      auto out = Napi::Uint8Array::New(env, n);
      std::memcpy(out.Data(), t.data_ptr(), n);
      return out;
    }
    default: {
      // Integer tensors (labels, indices) come back as Int32Array: the values we index with fit.
      // Values that do not fit would wrap silently, so they are refused (toBytes gives raw bytes).
      if (t.scalar_type() == at::kLong && n > 0) {
        auto mm = at::aminmax(t);
        if (std::get<0>(mm).item<int64_t>() < INT32_MIN || std::get<1>(mm).item<int64_t>() > INT32_MAX) {
          throw ArgError("toTypedArray: this int64 tensor holds values outside the int32 range, which an Int32Array cannot carry");
        }
      }
      at::Tensor i = t.to(at::kInt).contiguous();
      auto out = Napi::Int32Array::New(env, n);
      std::memcpy(out.Data(), i.data_ptr(), n * sizeof(int32_t));
      return out;
    }
  }
}

// The raw bytes of a tensor (row-major, native little-endian), whatever its dtype: for saving.
Napi::Value ToBytes(const Napi::CallbackInfo& info) {
  at::Tensor t = tensorArg(info, 0).detach().to(at::kCPU).contiguous();
  size_t n = static_cast<size_t>(t.numel()) * t.element_size();
  auto out = Napi::Uint8Array::New(info.Env(), n);
  if (n > 0) std::memcpy(out.Data(), t.data_ptr(), n);
  return out;
}

Napi::Value Item(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), tensorArg(info, 0).item().toDouble());
}

Napi::Value Shape(const Napi::CallbackInfo& info) {
  auto sizes = tensorArg(info, 0).sizes();
  auto arr = Napi::Array::New(info.Env(), sizes.size());
  for (size_t k = 0; k < sizes.size(); ++k) arr.Set(k, Napi::Number::New(info.Env(), static_cast<double>(sizes[k])));
  return arr;
}
Napi::Value DType(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), codeOf(tensorArg(info, 0).scalar_type())); }
Napi::Value DeviceOf(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), tensorArg(info, 0).device().str()); }

Napi::Value Full(const Napi::CallbackInfo& info) {
  return idValue(info.Env(), at::full(intsArg(info, 0), numArg(info, 1), opts(intArg(info, 2))));
}
Napi::Value Randn(const Napi::CallbackInfo& info) { return idValue(info.Env(), at::randn(intsArg(info, 0), opts(intArg(info, 1)))); }
Napi::Value Rand(const Napi::CallbackInfo& info) { return idValue(info.Env(), at::rand(intsArg(info, 0), opts(intArg(info, 1)))); }
Napi::Value Bernoulli(const Napi::CallbackInfo& info) {
  // Each element 1 with probability p, else 0.
  at::Tensor t = at::empty(intsArg(info, 0), opts(intArg(info, 2)));
  t.bernoulli_(numArg(info, 1));
  return idValue(info.Env(), t);
}
Napi::Value Randint(const Napi::CallbackInfo& info) {
  return idValue(info.Env(), at::randint(intArg(info, 0), intArg(info, 1), intsArg(info, 2), opts(2)));
}
Napi::Value Randperm(const Napi::CallbackInfo& info) { return idValue(info.Env(), at::randperm(intArg(info, 0), opts(2))); }
Napi::Value Arange(const Napi::CallbackInfo& info) {
  return idValue(info.Env(), at::arange(intArg(info, 0), opts(intArg(info, 1))));
}

// ---------------------------------------------------------------- elementwise
Napi::Value Unary(const Napi::CallbackInfo& info) {
  const at::Tensor& x = tensorArg(info, 0);
  at::Tensor y;
  switch (intArg(info, 1)) {
    case 0: y = at::neg(x); break;
    case 1: y = at::exp(x); break;
    case 2: y = at::log(x); break;
    case 3: y = at::sqrt(x); break;
    case 4: y = at::relu(x); break;
    case 5: y = at::sigmoid(x); break;
    case 6: y = at::tanh(x); break;
    case 7: y = at::abs(x); break;
    case 8: y = at::square(x); break;
    case 9: y = at::logical_not(x); break;
    default: throw ArgError("unknown unary op");
  }
  return idValue(info.Env(), y);
}

Napi::Value Binary(const Napi::CallbackInfo& info) {
  const at::Tensor& a = tensorArg(info, 0);
  const at::Tensor& b = tensorArg(info, 1);
  at::Tensor y;
  switch (intArg(info, 2)) {
    case 0: y = at::add(a, b); break;
    case 1: y = at::sub(a, b); break;
    case 2: y = at::mul(a, b); break;
    case 3: y = at::div(a, b); break;
    case 4: y = at::maximum(a, b); break;
    case 5: y = at::minimum(a, b); break;
    case 6: y = at::pow(a, b); break;
    case 7: y = at::eq(a, b); break;
    case 8: y = at::gt(a, b); break;
    case 9: y = at::lt(a, b); break;
    case 10: y = at::ge(a, b); break;
    case 11: y = at::le(a, b); break;
    default: throw ArgError("unknown binary op");
  }
  return idValue(info.Env(), y);
}

Napi::Value BinaryScalar(const Napi::CallbackInfo& info) {
  const at::Tensor& a = tensorArg(info, 0);
  at::Scalar s(numArg(info, 1));
  at::Tensor y;
  switch (intArg(info, 2)) {
    case 0: y = at::add(a, s); break;
    case 1: y = at::sub(a, s); break;
    case 2: y = at::mul(a, s); break;
    case 3: y = at::div(a, s); break;
    case 4: y = at::clamp_min(a, s); break;
    case 5: y = at::clamp_max(a, s); break;
    case 6: y = at::pow(a, s); break;
    case 7: y = at::eq(a, s); break;
    case 8: y = at::gt(a, s); break;
    case 9: y = at::lt(a, s); break;
    case 10: y = at::ge(a, s); break;
    case 11: y = at::le(a, s); break;
    case 12: y = at::rsub(a, s); break;  // s - a
    default: throw ArgError("unknown scalar op");
  }
  return idValue(info.Env(), y);
}

Napi::Value Where(const Napi::CallbackInfo& info) {
  return idValue(info.Env(), at::where(tensorArg(info, 0), tensorArg(info, 1), tensorArg(info, 2)));
}

// ---------------------------------------------------------------- reductions
Napi::Value Sum(const Napi::CallbackInfo& info) {
  auto dims = intsArg(info, 1);
  const at::Tensor& x = tensorArg(info, 0);
  return idValue(info.Env(), dims.empty() ? at::sum(x) : at::sum(x, dims, boolArg(info, 2)));
}
Napi::Value Mean(const Napi::CallbackInfo& info) {
  auto dims = intsArg(info, 1);
  const at::Tensor& x = tensorArg(info, 0);
  return idValue(info.Env(), dims.empty() ? at::mean(x) : at::mean(x, dims, boolArg(info, 2)));
}
Napi::Value MaxDim(const Napi::CallbackInfo& info) {
  auto r = at::max(tensorArg(info, 0), intArg(info, 1), boolArg(info, 2));
  return idsValue(info.Env(), {std::get<0>(r), std::get<1>(r)});
}
Napi::Value MaxAll(const Napi::CallbackInfo& info) { return idValue(info.Env(), at::max(tensorArg(info, 0))); }
Napi::Value Argmax(const Napi::CallbackInfo& info) {
  return idValue(info.Env(), at::argmax(tensorArg(info, 0), intArg(info, 1), boolArg(info, 2)));
}
Napi::Value Topk(const Napi::CallbackInfo& info) {
  auto r = at::topk(tensorArg(info, 0), intArg(info, 1), intArg(info, 2), boolArg(info, 3), true);
  return idsValue(info.Env(), {std::get<0>(r), std::get<1>(r)});
}

// ---------------------------------------------------------------- neural network ops
Napi::Value Matmul(const Napi::CallbackInfo& info) { return idValue(info.Env(), at::matmul(tensorArg(info, 0), tensorArg(info, 1))); }
Napi::Value Linear(const Napi::CallbackInfo& info) {
  return idValue(info.Env(), at::linear(tensorArg(info, 0), tensorArg(info, 1), optTensorArg(info, 2)));
}
// conv2d, maxPool2d, avgPool2d and batchNorm: kernels.cc (own kernels, libtorch's ops as fallback).
Napi::Value Softmax(const Napi::CallbackInfo& info) { return idValue(info.Env(), at::softmax(tensorArg(info, 0), intArg(info, 1))); }
Napi::Value LogSoftmax(const Napi::CallbackInfo& info) {
  return idValue(info.Env(), at::log_softmax(tensorArg(info, 0), intArg(info, 1)));
}
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  return idValue(info.Env(), at::cross_entropy_loss(tensorArg(info, 0), tensorArg(info, 1), {}, intArg(info, 2)));
}

// ---------------------------------------------------------------- shape ops
Napi::Value Cat(const Napi::CallbackInfo& info) { return idValue(info.Env(), at::cat(tensorsArg(info, 0), intArg(info, 1))); }
Napi::Value Stack(const Napi::CallbackInfo& info) { return idValue(info.Env(), at::stack(tensorsArg(info, 0), intArg(info, 1))); }
Napi::Value Slice(const Napi::CallbackInfo& info) {
  return idValue(info.Env(), tensorArg(info, 0).slice(intArg(info, 1), intArg(info, 2), intArg(info, 3), intArg(info, 4)));
}
Napi::Value Pad(const Napi::CallbackInfo& info) {
  return idValue(info.Env(), at::constant_pad_nd(tensorArg(info, 0), intsArg(info, 1), numArg(info, 2)));
}
Napi::Value Reshape(const Napi::CallbackInfo& info) { return idValue(info.Env(), tensorArg(info, 0).reshape(intsArg(info, 1))); }
Napi::Value Permute(const Napi::CallbackInfo& info) { return idValue(info.Env(), tensorArg(info, 0).permute(intsArg(info, 1))); }
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  return idValue(info.Env(), tensorArg(info, 0).transpose(intArg(info, 1), intArg(info, 2)));
}
Napi::Value Contiguous(const Napi::CallbackInfo& info) { return idValue(info.Env(), tensorArg(info, 0).contiguous()); }
Napi::Value Clone(const Napi::CallbackInfo& info) { return idValue(info.Env(), tensorArg(info, 0).clone()); }
Napi::Value Detach(const Napi::CallbackInfo& info) { return idValue(info.Env(), tensorArg(info, 0).detach()); }
Napi::Value IndexSelect(const Napi::CallbackInfo& info) {
  return idValue(info.Env(), at::index_select(tensorArg(info, 0), intArg(info, 1), tensorArg(info, 2)));
}
Napi::Value Flip(const Napi::CallbackInfo& info) { return idValue(info.Env(), at::flip(tensorArg(info, 0), intsArg(info, 1))); }
Napi::Value Rot90(const Napi::CallbackInfo& info) {
  return idValue(info.Env(), at::rot90(tensorArg(info, 0), intArg(info, 1), intsArg(info, 2)));
}
Napi::Value ToDType(const Napi::CallbackInfo& info) { return idValue(info.Env(), tensorArg(info, 0).to(dtypeOf(intArg(info, 1)))); }
Napi::Value ToDevice(const Napi::CallbackInfo& info) {
  return idValue(info.Env(), tensorArg(info, 0).to(at::Device(info[1].As<Napi::String>().Utf8Value())));
}

// ---------------------------------------------------------------- in-place updates (no autograd)
Napi::Value CopyInPlace(const Napi::CallbackInfo& info) {
  at::NoGradGuard guard;
  const_cast<at::Tensor&>(tensorArg(info, 0)).copy_(tensorArg(info, 1));
  return info.Env().Undefined();
}
// dst += alpha * src
Napi::Value AddInPlace(const Napi::CallbackInfo& info) {
  at::NoGradGuard guard;
  const_cast<at::Tensor&>(tensorArg(info, 0)).add_(tensorArg(info, 1), numArg(info, 2));
  return info.Env().Undefined();
}
Napi::Value MulScalarInPlace(const Napi::CallbackInfo& info) {
  at::NoGradGuard guard;
  const_cast<at::Tensor&>(tensorArg(info, 0)).mul_(numArg(info, 1));
  return info.Env().Undefined();
}
Napi::Value FillInPlace(const Napi::CallbackInfo& info) {
  at::NoGradGuard guard;
  const_cast<at::Tensor&>(tensorArg(info, 0)).fill_(numArg(info, 1));
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- autograd
Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  const_cast<at::Tensor&>(tensorArg(info, 0)).set_requires_grad(boolArg(info, 1));
  return info.Env().Undefined();
}
Napi::Value RequiresGrad(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), tensorArg(info, 0).requires_grad()); }
Napi::Value Grad(const Napi::CallbackInfo& info) {
  const at::Tensor& g = tensorArg(info, 0).grad();
  return Napi::Number::New(info.Env(), g.defined() ? put(g) : -1);
}
Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  at::Tensor& t = const_cast<at::Tensor&>(tensorArg(info, 0));
  int32_t gid = idArg(info, 1);
  if (gid >= 0) {
    // libtorch's mutable_grad() checks nothing; a mismatched gradient would surface much later.
    const at::Tensor& g = get(gid);
    if (g.sizes() != t.sizes() || g.scalar_type() != t.scalar_type() || g.device() != t.device()) {
      throw ArgError("setGrad: the gradient's shape, dtype or device differs from the tensor's");
    }
  }
  t.mutable_grad() = gid < 0 ? at::Tensor() : get(gid);
  return info.Env().Undefined();
}
Napi::Value Backward(const Napi::CallbackInfo& info) {
  tensorArg(info, 0).backward({}, boolArg(info, 1), false);
  return info.Env().Undefined();
}
// Gradients of outputs with respect to the given inputs only: an architecture step must not pay
// for weight gradients. Unused inputs get -1.
Napi::Value AutogradGrad(const Napi::CallbackInfo& info) {
  auto outputs = tensorsArg(info, 0);
  auto inputs = tensorsArg(info, 1);
  auto grads = torch::autograd::grad(outputs, inputs, {}, boolArg(info, 2), boolArg(info, 3), true);
  return idsValue(info.Env(), grads);
}
Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  bool previous = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(boolArg(info, 0));
  return Napi::Boolean::New(info.Env(), previous);
}
Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled()); }

// ---------------------------------------------------------------- optimisers
// Adam exactly as torch.optim.Adam (L2 weight decay added to the gradient, bias-corrected moments).
// Updates every parameter in one call. grads[k] = -1 skips parameter k.
Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  at::NoGradGuard guard;
  auto params = intsArg(info, 0), grads = intsArg(info, 1), ms = intsArg(info, 2), vs = intsArg(info, 3);
  double step = numArg(info, 4), lr = numArg(info, 5), beta1 = numArg(info, 6), beta2 = numArg(info, 7);
  double eps = numArg(info, 8), weightDecay = numArg(info, 9);
  if (grads.size() != params.size() || ms.size() != params.size() || vs.size() != params.size()) {
    throw ArgError("adamStep: params, grads and moment lists differ in length");
  }
  double bias1 = 1.0 - std::pow(beta1, step), bias2 = 1.0 - std::pow(beta2, step);
  double stepSize = lr / bias1, bias2Sqrt = std::sqrt(bias2);
  for (size_t k = 0; k < params.size(); ++k) {
    if (grads[k] < 0) continue;
    at::Tensor p = get(static_cast<int32_t>(params[k]));
    at::Tensor g = get(static_cast<int32_t>(grads[k]));
    at::Tensor m = get(static_cast<int32_t>(ms[k]));
    at::Tensor v = get(static_cast<int32_t>(vs[k]));
    if (metanas::adamStepHandles(p, g, m, v)) {
      metanas::adamStep(p, g, m, v, {stepSize, bias2Sqrt, beta1, beta2, eps, weightDecay});
      continue;
    }
    if (weightDecay != 0) g = g.add(p, weightDecay);
    m.mul_(beta1).add_(g, 1.0 - beta1);
    v.mul_(beta2).addcmul_(g, g, 1.0 - beta2);
    at::Tensor denom = (v.sqrt() / bias2Sqrt).add_(eps);
    p.addcdiv_(m, denom, -stepSize);
  }
  return info.Env().Undefined();
}
// p -= lr * (g + weightDecay * p)
Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  at::NoGradGuard guard;
  auto params = intsArg(info, 0), grads = intsArg(info, 1);
  double lr = numArg(info, 2), weightDecay = numArg(info, 3);
  if (grads.size() != params.size()) throw ArgError("sgdStep: params and grads differ in length");
  for (size_t k = 0; k < params.size(); ++k) {
    if (grads[k] < 0) continue;
    at::Tensor p = get(static_cast<int32_t>(params[k]));
    at::Tensor g = get(static_cast<int32_t>(grads[k]));
    if (weightDecay != 0) g = g.add(p, weightDecay);
    p.add_(g, -lr);
  }
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- runtime
Napi::Value Dispose(const Napi::CallbackInfo& info) {
  if (info[0].IsArray()) {
    for (auto id : intsArg(info, 0)) release(static_cast<int32_t>(id));
  } else {
    release(idArg(info, 0));
  }
  return info.Env().Undefined();
}
Napi::Value LiveCount(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(liveCount)); }
Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  at::set_num_threads(static_cast<int>(intArg(info, 0)));
  return info.Env().Undefined();
}
Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), at::get_num_threads()); }
Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  at::manual_seed(static_cast<uint64_t>(intArg(info, 0)));
  return info.Env().Undefined();
}
Napi::Value GetRngState(const Napi::CallbackInfo& info) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return idValue(info.Env(), gen.get_state());
}
Napi::Value SetRngState(const Napi::CallbackInfo& info) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(tensorArg(info, 0));
  return info.Env().Undefined();
}
Napi::Value CudaAvailable(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), at::hasCUDA()); }
Napi::Value SetDefaultDevice(const Napi::CallbackInfo& info) {
  defaultDevice = at::Device(info[0].As<Napi::String>().Utf8Value());
  return info.Env().Undefined();
}
// The allocator policy in force and glibc's own counters, for tests and benchmarks.
Napi::Value AllocatorInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct mallinfo2 mi = mallinfo2();
  auto out = Napi::Object::New(env);
  out.Set("policy", Napi::String::New(env, allocatorPolicy.name));
  out.Set("applied", Napi::Boolean::New(env, allocatorPolicy.applied));
  out.Set("mmappedBlocks", Napi::Number::New(env, static_cast<double>(mi.hblks)));
  out.Set("mmappedBytes", Napi::Number::New(env, static_cast<double>(mi.hblkhd)));
  out.Set("heapBytes", Napi::Number::New(env, static_cast<double>(mi.arena)));
  out.Set("inUseBytes", Napi::Number::New(env, static_cast<double>(mi.uordblks + mi.hblkhd)));
  return out;
}
Napi::Value Version(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), TORCH_VERSION_MAJOR == 0 ? "0" : std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." + std::to_string(TORCH_VERSION_PATCH)); }

#define EXPORT(name, fn) exports.Set(name, Napi::Function::New(env, guarded<fn>, name))

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Every entry point (CLI, library import, worker threads, tests) loads the addon before its first
  // tensor, so this is the one place that covers them all.
  applyAllocatorPolicy();
  metanas::registerProfiler(env, exports);
  metanas::registerKernels(env, exports);
  EXPORT("fromTypedArray", FromTypedArray);
  EXPORT("toTypedArray", ToTypedArray);
  EXPORT("toBytes", ToBytes);
  EXPORT("item", Item);
  EXPORT("shape", Shape);
  EXPORT("dtype", DType);
  EXPORT("device", DeviceOf);
  EXPORT("full", Full);
  EXPORT("randn", Randn);
  EXPORT("rand", Rand);
  EXPORT("bernoulli", Bernoulli);
  EXPORT("randint", Randint);
  EXPORT("randperm", Randperm);
  EXPORT("arange", Arange);
  EXPORT("unary", Unary);
  EXPORT("binary", Binary);
  EXPORT("binaryScalar", BinaryScalar);
  EXPORT("where", Where);
  EXPORT("sum", Sum);
  EXPORT("mean", Mean);
  EXPORT("maxDim", MaxDim);
  EXPORT("maxAll", MaxAll);
  EXPORT("argmax", Argmax);
  EXPORT("topk", Topk);
  EXPORT("matmul", Matmul);
  EXPORT("linear", Linear);
  EXPORT("softmax", Softmax);
  EXPORT("logSoftmax", LogSoftmax);
  EXPORT("crossEntropy", CrossEntropy);
  EXPORT("cat", Cat);
  EXPORT("stack", Stack);
  EXPORT("slice", Slice);
  EXPORT("pad", Pad);
  EXPORT("reshape", Reshape);
  EXPORT("permute", Permute);
  EXPORT("transpose", Transpose);
  EXPORT("contiguous", Contiguous);
  EXPORT("clone", Clone);
  EXPORT("detach", Detach);
  EXPORT("indexSelect", IndexSelect);
  EXPORT("flip", Flip);
  EXPORT("rot90", Rot90);
  EXPORT("toDType", ToDType);
  EXPORT("toDevice", ToDevice);
  EXPORT("copyInPlace", CopyInPlace);
  EXPORT("addInPlace", AddInPlace);
  EXPORT("mulScalarInPlace", MulScalarInPlace);
  EXPORT("fillInPlace", FillInPlace);
  EXPORT("setRequiresGrad", SetRequiresGrad);
  EXPORT("requiresGrad", RequiresGrad);
  EXPORT("grad", Grad);
  EXPORT("setGrad", SetGrad);
  EXPORT("backward", Backward);
  EXPORT("autogradGrad", AutogradGrad);
  EXPORT("setGradEnabled", SetGradEnabled);
  EXPORT("isGradEnabled", IsGradEnabled);
  EXPORT("adamStep", AdamStep);
  EXPORT("sgdStep", SgdStep);
  EXPORT("dispose", Dispose);
  EXPORT("liveCount", LiveCount);
  EXPORT("setNumThreads", SetNumThreads);
  EXPORT("getNumThreads", GetNumThreads);
  EXPORT("manualSeed", ManualSeed);
  EXPORT("getRngState", GetRngState);
  EXPORT("setRngState", SetRngState);
  EXPORT("cudaAvailable", CudaAvailable);
  EXPORT("setDefaultDevice", SetDefaultDevice);
  EXPORT("allocatorInfo", AllocatorInfo);
  EXPORT("version", Version);
  metanas::registerDistributed(env, exports);
  return exports;
}

}  // namespace

// The tensor table as binding.h offers it to the other native files.
namespace metanas {
const at::Tensor& tensorAt(int32_t id) { return get(id); }
int32_t adoptTensor(at::Tensor t) { return put(std::move(t)); }
}  // namespace metanas

NODE_API_MODULE(metanas_native, Init)
