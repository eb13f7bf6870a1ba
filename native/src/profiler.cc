// A per-op time breakdown: libtorch's RecordFunction calls back at the start and end of every
// operator and every autograd backward node; this sums each name's self time (its time minus
// that of the ops it called), as PyTorch's profiler reports `self CPU time`, so that the two
// breakdowns of the same network can be set side by side. Thread-local: it profiles the thread
// that started it (libtorch runs a CPU backward pass on the calling thread).
#include <ATen/record_function.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "binding.h"

namespace metanas {
namespace {

using Clock = std::chrono::steady_clock;

struct OpStats {
  double selfUs = 0;
  double totalUs = 0;
  int64_t calls = 0;
};
struct Frame {
  Clock::time_point start;
  double childUs = 0;
};

thread_local std::map<std::string, OpStats> stats;
thread_local std::vector<Frame> frames;
thread_local bool active = false;
thread_local at::CallbackHandle handle = 0;

std::unique_ptr<at::ObserverContext> onEnter(const at::RecordFunction&) {
  frames.push_back({Clock::now(), 0});
  return nullptr;
}

void onExit(const at::RecordFunction& fn, at::ObserverContext*) {
  if (frames.empty()) return;  // started inside an op that was running when profiling began
  Frame f = frames.back();
  frames.pop_back();
  double us = std::chrono::duration<double, std::micro>(Clock::now() - f.start).count();
  if (!frames.empty()) frames.back().childUs += us;
  OpStats& s = stats[fn.name()];
  s.selfUs += us - f.childUs;
  s.totalUs += us;
  s.calls += 1;
}

Napi::Value ProfilerStart(const Napi::CallbackInfo& info) {
  if (active) throw BindingArgError("profilerStart: the profiler is already running on this thread");
  stats.clear();
  frames.clear();
  handle = at::addThreadLocalCallback(at::RecordFunctionCallback(onEnter, onExit)
                                          .needsInputs(false)
                                          .needsOutputs(false)
                                          .scopes({at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION}));
  active = true;
  return info.Env().Undefined();
}

// Stops and returns [{name, selfUs, totalUs, calls}] for every op seen since profilerStart.
Napi::Value ProfilerStop(const Napi::CallbackInfo& info) {
  if (!active) throw BindingArgError("profilerStop: the profiler is not running on this thread");
  at::removeCallback(handle);
  active = false;
  Napi::Env env = info.Env();
  auto out = Napi::Array::New(env, stats.size());
  uint32_t k = 0;
  for (const auto& [name, s] : stats) {
    auto row = Napi::Object::New(env);
    row.Set("name", Napi::String::New(env, name));
    row.Set("selfUs", Napi::Number::New(env, s.selfUs));
    row.Set("totalUs", Napi::Number::New(env, s.totalUs));
    row.Set("calls", Napi::Number::New(env, static_cast<double>(s.calls)));
    out.Set(k++, row);
  }
  stats.clear();
  frames.clear();
  return out;
}

}  // namespace

void registerProfiler(Napi::Env env, Napi::Object exports) {
  exports.Set("profilerStart", Napi::Function::New(env, guardedEntry<ProfilerStart>, "profilerStart"));
  exports.Set("profilerStop", Napi::Function::New(env, guardedEntry<ProfilerStop>, "profilerStop"));
}

}  // namespace metanas
