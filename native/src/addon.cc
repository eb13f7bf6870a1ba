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
#include <iterator>
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

// Argument helpers and the error guard come from binding.h, shared with the other native files;
// a BindingArgError becomes a TypeError.
using metanas::boolArgAt;
using metanas::BindingArgError;
using metanas::idArgAt;
using metanas::intArgAt;
using metanas::intsArgAt;
using metanas::numArgAt;
using metanas::optTensorArgAt;
using metanas::stringArgAt;
using metanas::tensorArgAt;
using metanas::tensorIdsValue;
using metanas::tensorsArgAt;
using metanas::tensorValue;

const at::Tensor& get(int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= table.size() || !occupied[id]) {
    throw BindingArgError("tensor " + std::to_string(id) + " was disposed or never existed");
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

// ---------------------------------------------------------------- named codes
// JavaScript names dtypes and ops by small integers. Each concept has one table here: an entry's
// index is its code, the addon looks codes up in the table, and exports every table as
// {name: code} (`constants`), which src/engine/constants.ts reads instead of declaring numbers.
template <class Entry, size_t N>
const Entry& entryAt(const Entry (&table)[N], int64_t code, const char* what) {
  if (code < 0 || static_cast<size_t>(code) >= N) throw BindingArgError(std::string("unknown ") + what + " " + std::to_string(code));
  return table[code];
}
template <class Entry, size_t N>
Napi::Object codesOf(Napi::Env env, const Entry (&table)[N]) {
  auto out = Napi::Object::New(env);
  for (size_t k = 0; k < N; ++k) out.Set(table[k].name, Napi::Number::New(env, static_cast<double>(k)));
  return out;
}

struct DTypeEntry {
  const char* name;
  at::ScalarType type;
};
constexpr DTypeEntry kDTypes[] = {
    {"float32", at::kFloat}, {"float64", at::kDouble}, {"int64", at::kLong},
    {"bool", at::kBool},     {"uint8", at::kByte},     {"int32", at::kInt},
};
at::ScalarType dtypeOf(int64_t code) { return entryAt(kDTypes, code, "dtype code").type; }
int64_t codeOf(at::ScalarType t) {
  for (size_t k = 0; k < std::size(kDTypes); ++k) {
    if (kDTypes[k].type == t) return static_cast<int64_t>(k);
  }
  return -1;
}
at::TensorOptions opts(at::ScalarType t) { return at::TensorOptions().dtype(t).device(defaultDevice); }
at::TensorOptions optsArgAt(const Napi::CallbackInfo& info, size_t i) { return opts(dtypeOf(intArgAt(info, i))); }
// ---------------------------------------------------------------- creation and data
Napi::Value FromTypedArray(const Napi::CallbackInfo& info) {
  if (!info[0].IsTypedArray()) throw BindingArgError("fromTypedArray: expected a typed array");
  auto ta = info[0].As<Napi::TypedArray>();
  auto shape = intsArgAt(info, 1);
  at::ScalarType st;
  switch (ta.TypedArrayType()) {
    case napi_float32_array: st = at::kFloat; break;
    case napi_float64_array: st = at::kDouble; break;
    case napi_int32_array: st = at::kInt; break;
    case napi_bigint64_array: st = at::kLong; break;
    case napi_uint8_array: st = at::kByte; break;
    default: throw BindingArgError("fromTypedArray: unsupported typed array type");
  }
  int64_t n = 1;
  for (auto d : shape) n *= d;
  if (n != static_cast<int64_t>(ta.ElementLength())) {
    throw BindingArgError("fromTypedArray: shape holds " + std::to_string(n) + " elements but the array has " + std::to_string(ta.ElementLength()));
  }
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(st));
  const uint8_t* src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  std::memcpy(t.data_ptr(), src, ta.ByteLength());
  if (info.Length() > 2 && info[2].IsNumber()) {
    int64_t want = intArgAt(info, 2);
    if (want >= 0) t = t.to(dtypeOf(want));
  }
  if (defaultDevice != at::kCPU) t = t.to(defaultDevice);
  return tensorValue(info.Env(), t);
}

Napi::Value ToTypedArray(const Napi::CallbackInfo& info) {
  at::Tensor t = tensorArgAt(info, 0).detach().to(at::kCPU).contiguous();
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
          throw BindingArgError("toTypedArray: this int64 tensor holds values outside the int32 range, which an Int32Array cannot carry");
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
  at::Tensor t = tensorArgAt(info, 0).detach().to(at::kCPU).contiguous();
  size_t n = static_cast<size_t>(t.numel()) * t.element_size();
  auto out = Napi::Uint8Array::New(info.Env(), n);
  if (n > 0) std::memcpy(out.Data(), t.data_ptr(), n);
  return out;
}

Napi::Value Item(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), tensorArgAt(info, 0).item().toDouble());
}

Napi::Value Shape(const Napi::CallbackInfo& info) {
  auto sizes = tensorArgAt(info, 0).sizes();
  auto arr = Napi::Array::New(info.Env(), sizes.size());
  for (size_t k = 0; k < sizes.size(); ++k) arr.Set(k, Napi::Number::New(info.Env(), static_cast<double>(sizes[k])));
  return arr;
}
Napi::Value DType(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), codeOf(tensorArgAt(info, 0).scalar_type())); }
Napi::Value DeviceOf(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), tensorArgAt(info, 0).device().str()); }

Napi::Value Full(const Napi::CallbackInfo& info) {
  return tensorValue(info.Env(), at::full(intsArgAt(info, 0), numArgAt(info, 1), optsArgAt(info, 2)));
}
Napi::Value Randn(const Napi::CallbackInfo& info) { return tensorValue(info.Env(), at::randn(intsArgAt(info, 0), optsArgAt(info, 1))); }
Napi::Value Rand(const Napi::CallbackInfo& info) { return tensorValue(info.Env(), at::rand(intsArgAt(info, 0), optsArgAt(info, 1))); }
Napi::Value Bernoulli(const Napi::CallbackInfo& info) {
  // Each element 1 with probability p, else 0.
  at::Tensor t = at::empty(intsArgAt(info, 0), optsArgAt(info, 2));
  t.bernoulli_(numArgAt(info, 1));
  return tensorValue(info.Env(), t);
}
Napi::Value Randint(const Napi::CallbackInfo& info) {
  return tensorValue(info.Env(), at::randint(intArgAt(info, 0), intArgAt(info, 1), intsArgAt(info, 2), opts(at::kLong)));
}
Napi::Value Randperm(const Napi::CallbackInfo& info) { return tensorValue(info.Env(), at::randperm(intArgAt(info, 0), opts(at::kLong))); }
Napi::Value Arange(const Napi::CallbackInfo& info) {
  return tensorValue(info.Env(), at::arange(intArgAt(info, 0), optsArgAt(info, 1)));
}

// ---------------------------------------------------------------- elementwise
struct UnaryOp {
  const char* name;
  at::Tensor (*fn)(const at::Tensor&);
};
const UnaryOp kUnaryOps[] = {
    {"neg", [](const at::Tensor& x) { return at::neg(x); }},
    {"exp", [](const at::Tensor& x) { return at::exp(x); }},
    {"log", [](const at::Tensor& x) { return at::log(x); }},
    {"sqrt", [](const at::Tensor& x) { return at::sqrt(x); }},
    {"relu", [](const at::Tensor& x) { return at::relu(x); }},
    {"sigmoid", [](const at::Tensor& x) { return at::sigmoid(x); }},
    {"tanh", [](const at::Tensor& x) { return at::tanh(x); }},
    {"abs", [](const at::Tensor& x) { return at::abs(x); }},
    {"square", [](const at::Tensor& x) { return at::square(x); }},
    {"logicalNot", [](const at::Tensor& x) { return at::logical_not(x); }},
};
Napi::Value Unary(const Napi::CallbackInfo& info) {
  const at::Tensor& x = tensorArgAt(info, 0);
  return tensorValue(info.Env(), entryAt(kUnaryOps, intArgAt(info, 1), "unary op").fn(x));
}

struct BinaryOp {
  const char* name;
  at::Tensor (*fn)(const at::Tensor&, const at::Tensor&);
};
const BinaryOp kBinaryOps[] = {
    {"add", [](const at::Tensor& a, const at::Tensor& b) { return at::add(a, b); }},
    {"sub", [](const at::Tensor& a, const at::Tensor& b) { return at::sub(a, b); }},
    {"mul", [](const at::Tensor& a, const at::Tensor& b) { return at::mul(a, b); }},
    {"div", [](const at::Tensor& a, const at::Tensor& b) { return at::div(a, b); }},
    {"maximum", [](const at::Tensor& a, const at::Tensor& b) { return at::maximum(a, b); }},
    {"minimum", [](const at::Tensor& a, const at::Tensor& b) { return at::minimum(a, b); }},
    {"pow", [](const at::Tensor& a, const at::Tensor& b) { return at::pow(a, b); }},
    {"eq", [](const at::Tensor& a, const at::Tensor& b) { return at::eq(a, b); }},
    {"gt", [](const at::Tensor& a, const at::Tensor& b) { return at::gt(a, b); }},
    {"lt", [](const at::Tensor& a, const at::Tensor& b) { return at::lt(a, b); }},
    {"ge", [](const at::Tensor& a, const at::Tensor& b) { return at::ge(a, b); }},
    {"le", [](const at::Tensor& a, const at::Tensor& b) { return at::le(a, b); }},
};
Napi::Value Binary(const Napi::CallbackInfo& info) {
  const at::Tensor& a = tensorArgAt(info, 0);
  const at::Tensor& b = tensorArgAt(info, 1);
  return tensorValue(info.Env(), entryAt(kBinaryOps, intArgAt(info, 2), "binary op").fn(a, b));
}

// The binary ops with a number on the right (maximum and minimum clamp), and rsub: s - a.
struct ScalarOp {
  const char* name;
  at::Tensor (*fn)(const at::Tensor&, const at::Scalar&);
};
const ScalarOp kScalarOps[] = {
    {"add", [](const at::Tensor& a, const at::Scalar& s) { return at::add(a, s); }},
    {"sub", [](const at::Tensor& a, const at::Scalar& s) { return at::sub(a, s); }},
    {"mul", [](const at::Tensor& a, const at::Scalar& s) { return at::mul(a, s); }},
    {"div", [](const at::Tensor& a, const at::Scalar& s) { return at::div(a, s); }},
    {"maximum", [](const at::Tensor& a, const at::Scalar& s) { return at::clamp_min(a, s); }},
    {"minimum", [](const at::Tensor& a, const at::Scalar& s) { return at::clamp_max(a, s); }},
    {"pow", [](const at::Tensor& a, const at::Scalar& s) { return at::pow(a, s); }},
    {"eq", [](const at::Tensor& a, const at::Scalar& s) { return at::eq(a, s); }},
    {"gt", [](const at::Tensor& a, const at::Scalar& s) { return at::gt(a, s); }},
    {"lt", [](const at::Tensor& a, const at::Scalar& s) { return at::lt(a, s); }},
    {"ge", [](const at::Tensor& a, const at::Scalar& s) { return at::ge(a, s); }},
    {"le", [](const at::Tensor& a, const at::Scalar& s) { return at::le(a, s); }},
    {"rsub", [](const at::Tensor& a, const at::Scalar& s) { return at::rsub(a, s); }},
};
Napi::Value BinaryScalar(const Napi::CallbackInfo& info) {
  const at::Tensor& a = tensorArgAt(info, 0);
  at::Scalar s(numArgAt(info, 1));
  return tensorValue(info.Env(), entryAt(kScalarOps, intArgAt(info, 2), "scalar op").fn(a, s));
}

Napi::Value Where(const Napi::CallbackInfo& info) {
  return tensorValue(info.Env(), at::where(tensorArgAt(info, 0), tensorArgAt(info, 1), tensorArgAt(info, 2)));
}

// ---------------------------------------------------------------- reductions
Napi::Value Sum(const Napi::CallbackInfo& info) {
  auto dims = intsArgAt(info, 1);
  const at::Tensor& x = tensorArgAt(info, 0);
  return tensorValue(info.Env(), dims.empty() ? at::sum(x) : at::sum(x, dims, boolArgAt(info, 2)));
}
Napi::Value Mean(const Napi::CallbackInfo& info) {
  auto dims = intsArgAt(info, 1);
  const at::Tensor& x = tensorArgAt(info, 0);
  return tensorValue(info.Env(), dims.empty() ? at::mean(x) : at::mean(x, dims, boolArgAt(info, 2)));
}
Napi::Value MaxDim(const Napi::CallbackInfo& info) {
  auto r = at::max(tensorArgAt(info, 0), intArgAt(info, 1), boolArgAt(info, 2));
  return tensorIdsValue(info.Env(), {std::get<0>(r), std::get<1>(r)});
}
Napi::Value MaxAll(const Napi::CallbackInfo& info) { return tensorValue(info.Env(), at::max(tensorArgAt(info, 0))); }
Napi::Value Argmax(const Napi::CallbackInfo& info) {
  return tensorValue(info.Env(), at::argmax(tensorArgAt(info, 0), intArgAt(info, 1), boolArgAt(info, 2)));
}
Napi::Value Topk(const Napi::CallbackInfo& info) {
  auto r = at::topk(tensorArgAt(info, 0), intArgAt(info, 1), intArgAt(info, 2), boolArgAt(info, 3), true);
  return tensorIdsValue(info.Env(), {std::get<0>(r), std::get<1>(r)});
}

// ---------------------------------------------------------------- neural network ops
Napi::Value Matmul(const Napi::CallbackInfo& info) { return tensorValue(info.Env(), at::matmul(tensorArgAt(info, 0), tensorArgAt(info, 1))); }
Napi::Value Linear(const Napi::CallbackInfo& info) {
  return tensorValue(info.Env(), at::linear(tensorArgAt(info, 0), tensorArgAt(info, 1), optTensorArgAt(info, 2)));
}
// conv2d, maxPool2d, avgPool2d and batchNorm: kernels.cc (own kernels, libtorch's ops as fallback).
Napi::Value Softmax(const Napi::CallbackInfo& info) { return tensorValue(info.Env(), at::softmax(tensorArgAt(info, 0), intArgAt(info, 1))); }
Napi::Value LogSoftmax(const Napi::CallbackInfo& info) {
  return tensorValue(info.Env(), at::log_softmax(tensorArgAt(info, 0), intArgAt(info, 1)));
}
// Loss reductions: libtorch's own enum, named.
struct ReductionEntry {
  const char* name;
  at::Reduction::Reduction value;
};
constexpr ReductionEntry kReductions[] = {
    {"none", at::Reduction::None}, {"mean", at::Reduction::Mean}, {"sum", at::Reduction::Sum}};
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  int64_t reduction = entryAt(kReductions, intArgAt(info, 2), "reduction").value;
  return tensorValue(info.Env(), at::cross_entropy_loss(tensorArgAt(info, 0), tensorArgAt(info, 1), {}, reduction));
}

// ---------------------------------------------------------------- shape ops
Napi::Value Cat(const Napi::CallbackInfo& info) { return tensorValue(info.Env(), at::cat(tensorsArgAt(info, 0), intArgAt(info, 1))); }
Napi::Value Stack(const Napi::CallbackInfo& info) { return tensorValue(info.Env(), at::stack(tensorsArgAt(info, 0), intArgAt(info, 1))); }
Napi::Value Slice(const Napi::CallbackInfo& info) {
  return tensorValue(info.Env(), tensorArgAt(info, 0).slice(intArgAt(info, 1), intArgAt(info, 2), intArgAt(info, 3), intArgAt(info, 4)));
}
Napi::Value Pad(const Napi::CallbackInfo& info) {
  return tensorValue(info.Env(), at::constant_pad_nd(tensorArgAt(info, 0), intsArgAt(info, 1), numArgAt(info, 2)));
}
Napi::Value Reshape(const Napi::CallbackInfo& info) { return tensorValue(info.Env(), tensorArgAt(info, 0).reshape(intsArgAt(info, 1))); }
Napi::Value Permute(const Napi::CallbackInfo& info) { return tensorValue(info.Env(), tensorArgAt(info, 0).permute(intsArgAt(info, 1))); }
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  return tensorValue(info.Env(), tensorArgAt(info, 0).transpose(intArgAt(info, 1), intArgAt(info, 2)));
}
Napi::Value Contiguous(const Napi::CallbackInfo& info) { return tensorValue(info.Env(), tensorArgAt(info, 0).contiguous()); }
Napi::Value Clone(const Napi::CallbackInfo& info) { return tensorValue(info.Env(), tensorArgAt(info, 0).clone()); }
Napi::Value Detach(const Napi::CallbackInfo& info) { return tensorValue(info.Env(), tensorArgAt(info, 0).detach()); }
Napi::Value IndexSelect(const Napi::CallbackInfo& info) {
  return tensorValue(info.Env(), at::index_select(tensorArgAt(info, 0), intArgAt(info, 1), tensorArgAt(info, 2)));
}
Napi::Value Flip(const Napi::CallbackInfo& info) { return tensorValue(info.Env(), at::flip(tensorArgAt(info, 0), intsArgAt(info, 1))); }
Napi::Value Rot90(const Napi::CallbackInfo& info) {
  return tensorValue(info.Env(), at::rot90(tensorArgAt(info, 0), intArgAt(info, 1), intsArgAt(info, 2)));
}
Napi::Value ToDType(const Napi::CallbackInfo& info) { return tensorValue(info.Env(), tensorArgAt(info, 0).to(dtypeOf(intArgAt(info, 1)))); }
Napi::Value ToDevice(const Napi::CallbackInfo& info) {
  return tensorValue(info.Env(), tensorArgAt(info, 0).to(at::Device(stringArgAt(info, 1))));
}

// ---------------------------------------------------------------- in-place updates (no autograd)
Napi::Value CopyInPlace(const Napi::CallbackInfo& info) {
  at::NoGradGuard guard;
  const_cast<at::Tensor&>(tensorArgAt(info, 0)).copy_(tensorArgAt(info, 1));
  return info.Env().Undefined();
}
// dst += alpha * src
Napi::Value AddInPlace(const Napi::CallbackInfo& info) {
  at::NoGradGuard guard;
  const_cast<at::Tensor&>(tensorArgAt(info, 0)).add_(tensorArgAt(info, 1), numArgAt(info, 2));
  return info.Env().Undefined();
}
Napi::Value MulScalarInPlace(const Napi::CallbackInfo& info) {
  at::NoGradGuard guard;
  const_cast<at::Tensor&>(tensorArgAt(info, 0)).mul_(numArgAt(info, 1));
  return info.Env().Undefined();
}
Napi::Value FillInPlace(const Napi::CallbackInfo& info) {
  at::NoGradGuard guard;
  const_cast<at::Tensor&>(tensorArgAt(info, 0)).fill_(numArgAt(info, 1));
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- autograd
Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  const_cast<at::Tensor&>(tensorArgAt(info, 0)).set_requires_grad(boolArgAt(info, 1));
  return info.Env().Undefined();
}
Napi::Value RequiresGrad(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), tensorArgAt(info, 0).requires_grad()); }
Napi::Value Grad(const Napi::CallbackInfo& info) {
  const at::Tensor& g = tensorArgAt(info, 0).grad();
  return Napi::Number::New(info.Env(), g.defined() ? put(g) : -1);
}
Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  at::Tensor& t = const_cast<at::Tensor&>(tensorArgAt(info, 0));
  int32_t gid = idArgAt(info, 1);
  if (gid >= 0) {
    // libtorch's mutable_grad() checks nothing; a mismatched gradient would surface much later.
    const at::Tensor& g = get(gid);
    if (g.sizes() != t.sizes() || g.scalar_type() != t.scalar_type() || g.device() != t.device()) {
      throw BindingArgError("setGrad: the gradient's shape, dtype or device differs from the tensor's");
    }
  }
  t.mutable_grad() = gid < 0 ? at::Tensor() : get(gid);
  return info.Env().Undefined();
}
Napi::Value Backward(const Napi::CallbackInfo& info) {
  tensorArgAt(info, 0).backward({}, boolArgAt(info, 1), false);
  return info.Env().Undefined();
}
// Gradients of outputs with respect to the given inputs only: an architecture step must not pay
// for weight gradients. Unused inputs get -1.
Napi::Value AutogradGrad(const Napi::CallbackInfo& info) {
  auto outputs = tensorsArgAt(info, 0);
  auto inputs = tensorsArgAt(info, 1);
  auto grads = torch::autograd::grad(outputs, inputs, {}, boolArgAt(info, 2), boolArgAt(info, 3), true);
  return tensorIdsValue(info.Env(), grads);
}
Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  bool previous = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(boolArgAt(info, 0));
  return Napi::Boolean::New(info.Env(), previous);
}
Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled()); }

// ---------------------------------------------------------------- optimisers
// Adam exactly as torch.optim.Adam (L2 weight decay added to the gradient, bias-corrected moments).
// Updates every parameter in one call. grads[k] = -1 skips parameter k.
Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  at::NoGradGuard guard;
  auto params = intsArgAt(info, 0), grads = intsArgAt(info, 1), ms = intsArgAt(info, 2), vs = intsArgAt(info, 3);
  double step = numArgAt(info, 4), lr = numArgAt(info, 5), beta1 = numArgAt(info, 6), beta2 = numArgAt(info, 7);
  double eps = numArgAt(info, 8), weightDecay = numArgAt(info, 9);
  if (grads.size() != params.size() || ms.size() != params.size() || vs.size() != params.size()) {
    throw BindingArgError("adamStep: params, grads and moment lists differ in length");
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
  auto params = intsArgAt(info, 0), grads = intsArgAt(info, 1);
  double lr = numArgAt(info, 2), weightDecay = numArgAt(info, 3);
  if (grads.size() != params.size()) throw BindingArgError("sgdStep: params and grads differ in length");
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
    for (auto id : intsArgAt(info, 0)) release(static_cast<int32_t>(id));
  } else {
    release(idArgAt(info, 0));
  }
  return info.Env().Undefined();
}
Napi::Value LiveCount(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(liveCount)); }
Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  at::set_num_threads(static_cast<int>(intArgAt(info, 0)));
  return info.Env().Undefined();
}
Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), at::get_num_threads()); }
Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  at::manual_seed(static_cast<uint64_t>(intArgAt(info, 0)));
  return info.Env().Undefined();
}
Napi::Value GetRngState(const Napi::CallbackInfo& info) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return tensorValue(info.Env(), gen.get_state());
}
Napi::Value SetRngState(const Napi::CallbackInfo& info) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(tensorArgAt(info, 0));
  return info.Env().Undefined();
}
Napi::Value CudaAvailable(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), at::hasCUDA()); }
Napi::Value SetDefaultDevice(const Napi::CallbackInfo& info) {
  defaultDevice = at::Device(stringArgAt(info, 0));
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

// Every exported function goes through one guard (binding.h).
#define EXPORT(name, fn) exports.Set(name, Napi::Function::New(env, metanas::guardedEntry<fn>, name))

// The named codes of every table above, as {table: {name: code}}.
Napi::Object Constants(Napi::Env env) {
  auto out = Napi::Object::New(env);
  out.Set("dtypes", codesOf(env, kDTypes));
  out.Set("unaryOps", codesOf(env, kUnaryOps));
  out.Set("binaryOps", codesOf(env, kBinaryOps));
  out.Set("scalarOps", codesOf(env, kScalarOps));
  out.Set("reductions", codesOf(env, kReductions));
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Every entry point (CLI, library import, worker threads, tests) loads the addon before its first
  // tensor, so this is the one place that covers them all.
  applyAllocatorPolicy();
  metanas::registerProfiler(env, exports);
  metanas::registerKernels(env, exports);
  exports.Set("constants", Constants(env));
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
