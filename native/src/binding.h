// What a native source file other than addon.cc needs to add entry points: the tensor table
// (addon.cc owns it), argument helpers and the error guard. A file registers its functions from a
// `registerX(env, exports)` that addon.cc's Init calls, so addon.cc itself stays small.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace metanas {

// Defined in addon.cc: the tensor behind an id (throws when disposed), and a new id for a tensor.
const at::Tensor& tensorAt(int32_t id);
int32_t adoptTensor(at::Tensor t);

/** Bad arguments from JavaScript: rethrown as a TypeError. */
struct BindingArgError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline int32_t idArgAt(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsNumber())
    throw BindingArgError("argument " + std::to_string(i) + ": expected a tensor id");
  return info[i].As<Napi::Number>().Int32Value();
}
inline const at::Tensor& tensorArgAt(const Napi::CallbackInfo& info, size_t i) { return tensorAt(idArgAt(info, i)); }
inline int64_t intArgAt(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsNumber())
    throw BindingArgError("argument " + std::to_string(i) + ": expected an integer");
  return info[i].As<Napi::Number>().Int64Value();
}
inline double numArgAt(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsNumber())
    throw BindingArgError("argument " + std::to_string(i) + ": expected a number");
  return info[i].As<Napi::Number>().DoubleValue();
}
inline bool boolArgAt(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsBoolean())
    throw BindingArgError("argument " + std::to_string(i) + ": expected a boolean");
  return info[i].As<Napi::Boolean>().Value();
}
inline std::vector<int64_t> intsArgAt(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsArray())
    throw BindingArgError("argument " + std::to_string(i) + ": expected an array of integers");
  auto arr = info[i].As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr.Get(k);
    if (!v.IsNumber()) throw BindingArgError("argument " + std::to_string(i) + ": expected an array of integers");
    out[k] = v.As<Napi::Number>().Int64Value();
  }
  return out;
}
/** A pair such as [h, w]: a kernel size, stride, padding or dilation. */
inline std::array<int64_t, 2> pairArgAt(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsArray() || info[i].As<Napi::Array>().Length() != 2)
    throw BindingArgError("argument " + std::to_string(i) + ": expected [h, w]");
  auto v = intsArgAt(info, i);
  return {v[0], v[1]};
}
inline std::string stringArgAt(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsString())
    throw BindingArgError("argument " + std::to_string(i) + ": expected a string");
  return info[i].As<Napi::String>().Utf8Value();
}
/** An optional string argument: the fallback when it is absent or not a string. */
inline std::string stringArgOr(const Napi::CallbackInfo& info, size_t i, const std::string& fallback) {
  return i < info.Length() && info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : fallback;
}
/** Fields of an options object; `context` starts the message (say, "distributed options"). */
inline std::string stringField(const Napi::Object& o, const char* key, const char* context) {
  auto v = o.Get(key);
  if (!v.IsString()) throw BindingArgError(std::string(context) + ": " + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}
inline double numberField(const Napi::Object& o, const char* key, const char* context) {
  auto v = o.Get(key);
  if (!v.IsNumber()) throw BindingArgError(std::string(context) + ": " + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}
/** An optional string field: empty when absent. */
inline std::string stringFieldOr(const Napi::Object& o, const char* key) {
  auto v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}
/** An optional tensor: a negative id stands for none. */
inline c10::optional<at::Tensor> optTensorArgAt(const Napi::CallbackInfo& info, size_t i) {
  int32_t id = idArgAt(info, i);
  if (id < 0) return c10::nullopt;
  return tensorAt(id);
}
inline std::vector<at::Tensor> tensorsArgAt(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsArray())
    throw BindingArgError("argument " + std::to_string(i) + ": expected an array of tensor ids");
  auto arr = info[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr.Get(k);
    if (!v.IsNumber()) throw BindingArgError("argument " + std::to_string(i) + ": expected an array of tensor ids");
    out.push_back(tensorAt(v.As<Napi::Number>().Int32Value()));
  }
  return out;
}
inline Napi::Value tensorValue(Napi::Env env, at::Tensor t) { return Napi::Number::New(env, adoptTensor(std::move(t))); }
/** New ids for several tensors; an undefined tensor (an unused input's gradient) becomes -1. */
inline Napi::Value tensorIdsValue(Napi::Env env, const std::vector<at::Tensor>& ts) {
  auto arr = Napi::Array::New(env, ts.size());
  for (size_t k = 0; k < ts.size(); ++k) arr.Set(k, Napi::Number::New(env, ts[k].defined() ? adoptTensor(ts[k]) : -1));
  return arr;
}

// What errors from an entry point start with: libtorch's kernels say where they come from; a file
// whose messages are meant for users as they are (distributed.cc) passes kNoPrefix.
inline constexpr char kLibtorchPrefix[] = "libtorch: ";
inline constexpr char kNoPrefix[] = "";

/** Wraps an entry point: libtorch and argument errors become JavaScript errors, never an abort. */
template <Napi::Value (*F)(const Napi::CallbackInfo&), const char* Prefix = kLibtorchPrefix>
Napi::Value guardedEntry(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(info.Env(), std::string(Prefix) + e.what_without_backtrace());
  } catch (const BindingArgError& e) {
    throw Napi::TypeError::New(info.Env(), e.what());
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string(Prefix) + e.what());
  } catch (...) {
    throw Napi::Error::New(info.Env(), std::string(Prefix) + "unknown native error");
  }
}

// Registration functions of the other native files, called from addon.cc's Init.
void registerProfiler(Napi::Env env, Napi::Object exports);
void registerKernels(Napi::Env env, Napi::Object exports);
// Process groups, collectives and the rendezvous store (distributed.cc).
void registerDistributed(Napi::Env env, Napi::Object exports);

}  // namespace metanas
