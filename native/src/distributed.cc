// Process groups over libtorch's own c10d: a TCPStore for the rendezvous and a Gloo process group
// for collectives on CPU tensors (all-reduce sum, broadcast, barrier), as torch.distributed does.
//
// Every blocking call (the store's rendezvous, the group's full-mesh connect, a collective's wait)
// runs on a libuv pool thread behind a Promise, so the JavaScript thread keeps printing progress and
// handling signals. Collectives are issued one at a time (each must be awaited before the next), so
// their order is the program's order on every rank, as c10d requires.
//
// A collective that fails (a peer died, or did not answer within the timeout) is diagnosed through
// the store: before each collective a rank records its sequence number there, so the ranks that
// never arrived can be named. Gloo's own error does not say which peer stopped (a cut link just
// times out), so with three or more ranks each rank also keeps a heartbeat in the store: a rank
// whose heartbeat stops is the one that stopped or cannot be reached.
#include <c10/core/GradMode.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/exception.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "binding.h"

#ifndef USE_C10D_GLOO
#error "ProcessGroupGloo needs USE_C10D_GLOO (Torch's CMake config defines it; the Gloo headers come from libgloo-dev)"
#endif

namespace {

using Clock = std::chrono::steady_clock;

std::vector<uint8_t> bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }
std::string text(const std::vector<uint8_t>& b) { return std::string(b.begin(), b.end()); }

// A rank's sign of life: a counter under beat/<rank> in the store, raised every period by a thread
// of its own over a store connection of its own (the group's connection is held for a whole wait
// at a time, which would stop the beat while a rank waits for a slow one). A set sends and does not
// wait for an answer, so a store across a cut link does not hold the thread.
class Heartbeat {
 public:
  Heartbeat(c10::intrusive_ptr<c10d::Store> store, std::string key, std::chrono::milliseconds period)
      : store_(std::move(store)), key_(std::move(key)), period_(period), thread_([this] { run(); }) {}
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (int64_t n = 1; !stop_; ++n) {
      lock.unlock();
      try {
        store_->set(key_, bytes(std::to_string(n)));
      } catch (...) {
        return;  // the store is gone: there is nobody left to tell
      }
      lock.lock();
      wake_.wait_for(lock, period_, [this] { return stop_; });
    }
  }
  c10::intrusive_ptr<c10d::Store> store_;
  std::string key_;
  std::chrono::milliseconds period_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;  // last: it starts once the members above exist
};

struct Group {
  int rank = 0;
  int size = 1;
  std::string addr;        // the store's address, port, key prefix, and whether this process serves it
  int port = 0;
  std::string prefix;
  bool servesStore = false;
  std::string where;       // addr:port of the store
  std::string storeOwner;  // who hosts the store: "rank 0" or "the launcher"
  std::chrono::milliseconds timeout{0};
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  int64_t collectives = 0;  // issued so far, the same count on every rank
  int64_t exchanges = 0;
  // Where each rank runs ("10.0.0.3", or "node3, 10.0.0.3"), for messages; empty on one machine.
  std::vector<std::string> hosts;
  // Three or more ranks: this rank's heartbeat, and its period.
  std::unique_ptr<Heartbeat> heartbeat;
  std::chrono::milliseconds beatPeriod{1000};
};

// One group per process. Never freed at exit: Gloo's threads may still be running then.
Group* group = nullptr;
// True while a call is in flight: c10d needs the same order of calls on every rank, so they are
// issued one at a time.
std::atomic<bool> busy{false};

std::string messageOf(const std::exception& e) {
  if (auto c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

std::string seconds(std::chrono::milliseconds ms) {
  std::ostringstream s;
  s << static_cast<double>(ms.count()) / 1000.0;
  return s.str();
}

// "rank 2", "ranks 1, 2"; with the ranks on several machines, "rank 2 (on 10.0.0.3)".
std::string ranksText(const Group* g, const std::vector<int>& ranks) {
  std::string s = ranks.size() == 1 ? "rank " : "ranks ";
  for (size_t k = 0; k < ranks.size(); ++k) {
    int r = ranks[k];
    s += (k ? ", " : "") + std::to_string(r);
    if (r < static_cast<int>(g->hosts.size()) && !g->hosts[r].empty()) s += " (on " + g->hosts[r] + ")";
  }
  return s;
}

// A store operation; losing the store means losing its host.
template <typename F>
auto storeCall(Group* g, const std::string& during, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    throw std::runtime_error("lost the rendezvous store at " + g->where + " (hosted by " + g->storeOwner + ") during " +
                             during + ": " + g->storeOwner + " stopped or cannot be reached (" + messageOf(e) + ")");
  }
}

// Before naming the ranks that failed a call, checks that the store itself still answers, within
// a short limit: a store across a cut link would otherwise block each diagnostic call for the
// whole timeout again (its socket keeps the limit of the last wait). A quarter of the timeout,
// between 0.5 and 5 s: a store that answers at all answers in milliseconds.
void probeStore(Group* g, const std::string& during) {
  auto quarter = g->timeout / 4;
  auto limit = std::clamp(quarter, std::chrono::milliseconds(500), std::chrono::milliseconds(5000));
  storeCall(g, during, [&] { g->store->wait({"joined/" + std::to_string(g->rank)}, std::min(limit, g->timeout)); });
}

// With three or more ranks (those with a heartbeat), a failed call is diagnosed in three steps:
// this rank says it failed (so that the others, watching heartbeats, know it is alive whatever its
// heartbeat does: it may leave before they finish), finds the ranks to blame (blame), then says it
// is done (finishDiagnosis).
void reportFailure(Group* g, const std::string& during) {
  if (g->heartbeat) storeCall(g, during, [&] { g->store->set("failed/" + std::to_string(g->rank), bytes("1")); });
}

std::vector<int> silentRanks(Group* g, const std::string& during);
std::chrono::milliseconds silenceWindow(const Group* g);

// A rank's heartbeat counter as the store holds it ("" before its first beat).
std::string beatOf(Group* g, int r) {
  std::string key = "beat/" + std::to_string(r);
  return g->store->check({key}) ? text(g->store->get(key)) : std::string();
}

// The ranks to name for a failed call: those that never arrived at it (`missing`). With three or
// more, a rank that did not arrive may be held in an earlier call by the rank that is really gone,
// and one that did may be the one cut off: the ranks whose heartbeat stopped are named; the missing
// ones only when every heartbeat goes on (a rank alive but stuck) and the timeout has passed
// (before it, a rank that has not arrived may just be slower).
std::vector<int> blame(Group* g, const std::string& during, const std::vector<int>& missing, bool timedOut) {
  if (!g->heartbeat) return missing;
  auto silent = silentRanks(g, during);
  if (!silent.empty()) return silent;
  return timedOut ? missing : std::vector<int>{};
}

// The end of the diagnosis: this rank says it is done, and the store's host keeps the store up
// until every rank it did not blame has made its own diagnosis (ranks still adapting their tasks
// reach the failed call later), for at most one timeout. Without this, the others would find the
// store gone and blame its host.
void finishDiagnosis(Group* g, const std::string& during, const std::vector<int>& lost) {
  if (!g->heartbeat) return;
  storeCall(g, during, [&] { g->store->set("done/" + std::to_string(g->rank), bytes("1")); });
  if (!g->servesStore) return;
  std::vector<std::string> keys;
  for (int r = 0; r < g->size; ++r)
    if (r != g->rank && std::find(lost.begin(), lost.end(), r) == lost.end()) keys.push_back("done/" + std::to_string(r));
  if (keys.empty()) return;
  try {
    g->store->wait(keys, g->timeout);
  } catch (const std::exception&) {
    // A rank silent this long leaves with the rest.
  }
}

// Resolves or rejects a Promise with the outcome of work done on a libuv pool thread; `done` runs
// back on the JavaScript thread.
class Job : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Done = std::function<Napi::Value(Napi::Env)>;
  Job(Napi::Env env, Work work, Done done)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)), done_(std::move(done)) {}
  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      work_();
    } catch (const std::exception& e) {
      SetError(messageOf(e));
    } catch (...) {
      SetError("unknown native error in a collective");
    }
  }
  void OnOK() override {
    busy = false;
    Napi::Env env = Env();
    try {
      deferred_.Resolve(done_ ? done_(env) : env.Undefined());
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (const std::exception& e) {
      deferred_.Reject(Napi::Error::New(env, messageOf(e)).Value());
    }
  }
  void OnError(const Napi::Error& e) override {
    busy = false;
    deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
};

Napi::Promise queue(Napi::Env env, Job::Work work, Job::Done done = nullptr) {
  auto* job = new Job(env, std::move(work), std::move(done));
  auto promise = job->promise();
  busy = true;
  job->Queue();
  return promise;
}

void claim(const char* what, bool needGroup = true) {
  if (busy) {
    throw std::runtime_error(std::string(what) + ": another distributed call is still in flight (await each one first)");
  }
  if (needGroup && (!group || !group->pg)) throw std::runtime_error(std::string(what) + ": no process group (call createGroup first)");
}

std::string str(const Napi::Object& o, const char* key) { return metanas::stringField(o, key, "distributed options"); }
double num(const Napi::Object& o, const char* key) { return metanas::numberField(o, key, "distributed options"); }

// ---------------------------------------------------------------- rendezvous
// connect({addr, port, rank, size, host, prefix, timeoutMs, storeOwner}): joins (or, with host,
// serves) the TCPStore at addr:port. The host waits until all `size` ranks have checked in.
Napi::Value Connect(const Napi::CallbackInfo& info) {
  claim("connect", false);
  if (group) throw std::runtime_error("connect: this process already belongs to a process group");
  if (!info[0].IsObject()) throw std::runtime_error("connect: expected an options object");
  auto o = info[0].As<Napi::Object>();
  auto* g = new Group();
  std::string addr = str(o, "addr");
  int port = static_cast<int>(num(o, "port"));
  g->rank = static_cast<int>(num(o, "rank"));
  g->size = static_cast<int>(num(o, "size"));
  bool host = o.Get("host").ToBoolean();
  std::string prefix = str(o, "prefix");
  g->timeout = std::chrono::milliseconds(static_cast<int64_t>(num(o, "timeoutMs")));
  g->storeOwner = str(o, "storeOwner");
  g->where = addr + ":" + std::to_string(port);
  g->addr = addr;
  g->port = port;
  g->prefix = prefix;
  g->servesStore = host;
  return queue(
      info.Env(),
      [g, addr, port, host, prefix] {
        c10d::TCPStoreOptions so;
        so.port = static_cast<std::uint16_t>(port);
        so.isServer = host;
        so.numWorkers = g->size;
        so.waitWorkers = true;
        so.timeout = g->timeout;
        c10::intrusive_ptr<c10d::Store> store;
        try {
          store = c10::make_intrusive<c10d::TCPStore>(addr, so);
        } catch (const std::exception& e) {
          std::string m = messageOf(e);
          if (host && (m.find("Address already in use") != std::string::npos || m.find("errno: 98") != std::string::npos)) {
            throw std::runtime_error("port " + std::to_string(port) + " (MASTER_PORT) is already in use on this machine, so rank 0 cannot serve the rendezvous there: choose another MASTER_PORT");
          }
          if (host) throw std::runtime_error("rendezvous at " + g->where + " did not complete within " + seconds(g->timeout) + " s: not all " + std::to_string(g->size) + " ranks joined (" + m + ")");
          throw std::runtime_error("could not join the rendezvous at " + g->where + " (hosted by " + g->storeOwner + ") within " + seconds(g->timeout) + " s (" + m + ")");
        }
        if (!prefix.empty()) store = c10::make_intrusive<c10d::PrefixStore>(prefix, store);
        g->store = c10::make_intrusive<c10d::PrefixStore>("metanas", store);
        // A key that always exists, for probeStore.
        storeCall(g, "the rendezvous", [&] { g->store->set("joined/" + std::to_string(g->rank), bytes("1")); });
      },
      [g](Napi::Env env) {
        group = g;
        return env.Undefined();
      });
}

// How long an exchange waits on a rank whose heartbeat stands still before it gives up on it: the
// heartbeats' watch, or a quarter of the timeout up to 30 s if that is longer (an exchange may wait
// long for a slow rank; only a rank that shows no life at all ends it early).
std::chrono::milliseconds exchangeSilence(const Group* g) {
  return std::max(silenceWindow(g), std::min(g->timeout / 4, std::chrono::milliseconds(30000)));
}

// Waits until every key (one per rank, in rank order) exists, or the timeout passes (throwing, as
// the store's own wait does). With three or more ranks it polls the store instead of one blocking
// wait, whose end a rank cannot bring forward (a TCPStore wait that times out cannot be taken back),
// and watches the heartbeats of the ranks whose key is missing: the ranks silent for
// exchangeSilence are returned at once, instead of waiting out the timeout for a rank that died.
std::vector<int> waitWatching(Group* g, const std::vector<std::string>& keys) {
  if (!g->heartbeat) {
    g->store->wait(keys, g->timeout);
    return {};
  }
  auto start = Clock::now();
  auto silence = exchangeSilence(g);
  std::vector<std::string> beat(g->size);
  std::vector<Clock::time_point> changed(g->size, start);
  auto look = start;
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    if (g->store->check(keys)) return {};
    auto now = Clock::now();
    if (now - start >= g->timeout) throw std::runtime_error("Wait timeout");
    if (now >= look) {
      std::vector<int> silent;
      for (int r = 0; r < g->size; ++r) {
        if (r == g->rank || g->store->check({keys[r]})) continue;
        std::string b = beatOf(g, r);
        if (b != beat[r]) {
          beat[r] = b;
          changed[r] = now;
        } else if (now - changed[r] >= silence && !g->store->check({"failed/" + std::to_string(r)})) {
          silent.push_back(r);
        }
      }
      if (!silent.empty()) return silent;
      look = now + g->beatPeriod / 2;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

// exchange(label, value): every rank's value, in rank order (an all-gather of short strings
// through the store). A rank that does not answer within the timeout is named.
Napi::Value Exchange(const Napi::CallbackInfo& info) {
  claim("exchange", false);
  if (!group || !group->store) throw std::runtime_error("exchange: not connected (call connect first)");
  std::string label = metanas::stringArgAt(info, 0), value = metanas::stringArgAt(info, 1);
  Group* g = group;
  auto values = std::make_shared<std::vector<std::string>>();
  return queue(
      info.Env(),
      [g, label, value, values] {
        int64_t round = ++g->exchanges;
        auto key = [](int r, int64_t n) { return "exchange/" + std::to_string(n) + "/" + std::to_string(r); };
        // Each value carries its label: ranks that took different paths (say, --resume on some
        // and not on others) meet at different exchanges, which is said instead of misread.
        storeCall(g, label, [&] { g->store->set(key(g->rank, round), bytes(label + '\n' + value)); });
        std::vector<std::string> keys;
        for (int r = 0; r < g->size; ++r) keys.push_back(key(r, round));
        auto started = Clock::now();
        std::vector<int> silent;
        try {
          silent = waitWatching(g, keys);
        } catch (const std::exception& e) {
          probeStore(g, label);
          reportFailure(g, label);
          std::vector<int> missing;
          storeCall(g, label, [&] {
            for (int r = 0; r < g->size; ++r)
              if (!g->store->check({keys[r]})) missing.push_back(r);
          });
          auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
          auto lost = blame(g, label, missing, true);
          finishDiagnosis(g, label, lost);
          if (lost.empty()) throw std::runtime_error(label + " failed: " + messageOf(e));
          throw std::runtime_error(ranksText(g, lost) + " did not answer " + label + " within " + seconds(waited) +
                                   " s: stopped, or cannot reach " + g->where);
        }
        if (!silent.empty()) {
          reportFailure(g, label);
          finishDiagnosis(g, label, silent);
          throw std::runtime_error(ranksText(g, silent) + " did not answer " + label + " (no heartbeat for " +
                                   seconds(exchangeSilence(g)) + " s): stopped, or cannot be reached");
        }
        std::vector<int> elsewhere;
        std::string theirs;
        storeCall(g, label, [&] {
          for (int r = 0; r < g->size; ++r) {
            std::string got = text(g->store->get(keys[r]));
            auto cut = got.find('\n');
            std::string gotLabel = got.substr(0, cut);
            if (gotLabel != label) {
              elsewhere.push_back(r);
              theirs = gotLabel;
            }
            values->push_back(cut == std::string::npos ? "" : got.substr(cut + 1));
          }
          // Every rank has read round n-2 by the time this one finished round n-1.
          if (round > 2) g->store->deleteKey(key(g->rank, round - 2));
        });
        if (!elsewhere.empty())
          throw std::runtime_error(ranksText(g, elsewhere) + " reached " + theirs + " where rank " + std::to_string(g->rank) +
                                   " reached " + label + ": the ranks were started differently (every rank needs the same command, --resume included)");
      },
      [values](Napi::Env env) {
        auto arr = Napi::Array::New(env, values->size());
        for (size_t k = 0; k < values->size(); ++k) arr.Set(k, Napi::String::New(env, (*values)[k]));
        return arr;
      });
}

// Three or more ranks: the heartbeat's period (a twentieth of the timeout, 0.1 to 1 s), and how long
// a failed collective watches the heartbeats before it calls a rank silent (four periods and a half
// second: a beat late by more than that is no scheduling delay).
std::chrono::milliseconds beatPeriod(std::chrono::milliseconds timeout) {
  return std::clamp(timeout / 20, std::chrono::milliseconds(100), std::chrono::milliseconds(1000));
}
std::chrono::milliseconds silenceWindow(const Group* g) { return 4 * g->beatPeriod + std::chrono::milliseconds(500); }

void startHeartbeat(Group* g) {
  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(g->port);
  so.isServer = false;
  so.waitWorkers = false;
  so.timeout = g->timeout;
  c10::intrusive_ptr<c10d::Store> store;
  storeCall(g, "the heartbeat's start", [&] { store = c10::make_intrusive<c10d::TCPStore>(g->addr, so); });
  if (!g->prefix.empty()) store = c10::make_intrusive<c10d::PrefixStore>(g->prefix, store);
  store = c10::make_intrusive<c10d::PrefixStore>("metanas", store);
  std::string key = "beat/" + std::to_string(g->rank);
  // The first beat through the group's own connection: every rank's key exists once the process
  // group has connected (its rendezvous waits for every rank's keys, sent after this one).
  storeCall(g, "the heartbeat's start", [&] { g->store->set(key, bytes("0")); });
  g->beatPeriod = beatPeriod(g->timeout);
  g->heartbeat = std::make_unique<Heartbeat>(store, key, g->beatPeriod);
}

// createGroup({interfaces?: "eth0,eth1", hostname?: "127.0.0.1", hosts?: [...]}): the Gloo process
// group over the connected store. Without interfaces or hostname, Gloo binds to what this machine's
// hostname resolves to. hosts: where each rank runs, named in messages about a rank.
Napi::Value CreateGroup(const Napi::CallbackInfo& info) {
  claim("createGroup", false);
  if (!group || !group->store) throw std::runtime_error("createGroup: not connected (call connect first)");
  if (group->pg) throw std::runtime_error("createGroup: the process group exists already");
  std::string interfaces, hostname;
  std::vector<std::string> hosts;
  if (info[0].IsObject()) {
    auto o = info[0].As<Napi::Object>();
    interfaces = metanas::stringFieldOr(o, "interfaces");
    hostname = metanas::stringFieldOr(o, "hostname");
    if (o.Get("hosts").IsArray()) {
      auto arr = o.Get("hosts").As<Napi::Array>();
      for (uint32_t k = 0; k < arr.Length(); ++k) {
        Napi::Value v = arr.Get(k);
        hosts.push_back(v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string());
      }
    }
  }
  Group* g = group;
  g->hosts = hosts;
  return queue(info.Env(), [g, interfaces, hostname] {
    if (g->size >= 3) startHeartbeat(g);
    auto opts = c10d::ProcessGroupGloo::Options::create(g->timeout);
    try {
      if (!interfaces.empty()) {
        std::stringstream list(interfaces);
        std::string name;
        while (std::getline(list, name, ','))
          if (!name.empty()) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
      } else if (!hostname.empty()) {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(hostname));
      } else {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
    } catch (const std::exception& e) {
      throw std::runtime_error("no network device for the process group (" + messageOf(e) + "): set GLOO_SOCKET_IFNAME to this machine's interface");
    }
    opts->threads = static_cast<int>(opts->devices.size()) * 2;
    try {
      g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g->store, g->rank, g->size, opts);
    } catch (const std::exception& e) {
      throw std::runtime_error("the ranks could not connect to each other (" + messageOf(e) + "): check that every machine can reach the others, and GLOO_SOCKET_IFNAME");
    }
  });
}

// ---------------------------------------------------------------- collectives
std::vector<at::Tensor> tensorList(const Napi::CallbackInfo& info, size_t i, const char* what) {
  auto out = metanas::tensorsArgAt(info, i);
  if (out.empty()) throw std::runtime_error(std::string(what) + ": no tensors");
  for (auto& t : out) {
    if (t.scalar_type() != out[0].scalar_type()) throw std::runtime_error(std::string(what) + ": all tensors must have the same dtype");
  }
  return out;
}

// One contiguous CPU buffer of every tensor's values: Gloo moves one buffer per collective (tensors
// on a GPU are staged through it).
at::Tensor flatten(const std::vector<at::Tensor>& ts) {
  at::NoGradGuard noGrad;
  std::vector<at::Tensor> parts;
  for (auto& t : ts) parts.push_back(t.detach().reshape({-1}));
  return at::cat(parts).to(at::kCPU).contiguous();
}

void unflatten(const at::Tensor& flat, const std::vector<at::Tensor>& ts) {
  at::NoGradGuard noGrad;
  int64_t at = 0;
  for (auto t : ts) {
    int64_t n = t.numel();
    t.detach().copy_(flat.slice(0, at, at + n).view(t.sizes()));
    at += n;
  }
}

// With three or more ranks, the ranks other than this one that stopped or cannot reach the store:
// their heartbeat does not move while this rank watches it, and they report no failure of their own
// (a rank that does is alive, whatever its heartbeat). Ranks that do not fail at once may be
// merely slower (still adapting their tasks), so arrival alone cannot tell.
std::vector<int> silentRanks(Group* g, const std::string& during) {
  auto beat = [&](int r) { return beatOf(g, r); };
  std::vector<std::string> first(g->size);
  std::vector<bool> alive(g->size, false);
  alive[g->rank] = true;
  storeCall(g, during, [&] {
    for (int r = 0; r < g->size; ++r)
      if (!alive[r]) first[r] = beat(r);
  });
  auto until = Clock::now() + silenceWindow(g);
  for (;;) {
    bool all = true;
    storeCall(g, during, [&] {
      for (int r = 0; r < g->size; ++r) {
        if (alive[r]) continue;
        if (g->store->check({"failed/" + std::to_string(r)}) || beat(r) != first[r]) alive[r] = true;
        else all = false;
      }
    });
    if (all || Clock::now() >= until) break;
    std::this_thread::sleep_for(g->beatPeriod / 2);
  }
  std::vector<int> silent;
  for (int r = 0; r < g->size; ++r)
    if (!alive[r]) silent.push_back(r);
  return silent;
}

// Runs one collective with the arrival bookkeeping that lets a failure name the missing ranks.
void runCollective(Group* g, const std::string& label, const std::function<c10::intrusive_ptr<c10d::Work>()>& issue) {
  int64_t seq = ++g->collectives;
  storeCall(g, label, [&] { g->store->set("arrive/" + std::to_string(g->rank), bytes(std::to_string(seq))); });
  auto started = Clock::now();
  try {
    issue()->wait(g->timeout);
  } catch (const std::exception& e) {
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    std::string cause = messageOf(e);
    probeStore(g, label);
    reportFailure(g, label);
    std::vector<int> missing;
    storeCall(g, label, [&] {
      for (int r = 0; r < g->size; ++r) {
        if (r == g->rank) continue;
        std::string key = "arrive/" + std::to_string(r);
        if (!g->store->check({key}) || std::stoll(text(g->store->get(key))) < seq) missing.push_back(r);
      }
    });
    bool timedOut = waited + std::chrono::milliseconds(50) >= g->timeout;
    auto lost = blame(g, label, missing, timedOut);
    // Every rank had arrived, yet the transfer stopped: the peer failed or became unreachable
    // during it (a cut link). With two ranks, that peer is the other one.
    if (lost.empty() && g->size == 2) lost.push_back(1 - g->rank);
    std::string how = timedOut ? "no answer within " + seconds(g->timeout) + " s"
                               : "its connection closed after " + seconds(waited) + " s";
    std::string message =
        !lost.empty()
            ? ranksText(g, lost) + " did not answer " + label + " (" + how + "): stopped, or cannot be reached"
            : label + " failed after " + seconds(waited) + " s: a rank stopped, or the network between the ranks failed, during it (" + cause + ")";
    finishDiagnosis(g, label, lost);
    throw std::runtime_error(message);
  }
}

// allReduceSum(ids, label): every tensor replaced in place by its sum over the ranks.
Napi::Value AllReduceSum(const Napi::CallbackInfo& info) {
  claim("allReduceSum");
  auto ts = tensorList(info, 0, "allReduceSum");
  std::string label = metanas::stringArgOr(info, 1, "an all-reduce");
  auto flat = flatten(ts);
  Group* g = group;
  return queue(
      info.Env(),
      [g, flat, label] {
        std::vector<at::Tensor> v{flat};
        c10d::AllreduceOptions o;
        o.reduceOp = c10d::ReduceOp::SUM;
        o.timeout = g->timeout;
        runCollective(g, label, [&] { return g->pg->allreduce(v, o); });
      },
      [flat, ts](Napi::Env env) {
        unflatten(flat, ts);
        return env.Undefined();
      });
}

// broadcast(ids, root, label): every rank's tensors replaced in place by the root's.
Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  claim("broadcast");
  auto ts = tensorList(info, 0, "broadcast");
  int root = static_cast<int>(metanas::intArgAt(info, 1));
  if (root < 0 || root >= group->size) throw std::runtime_error("broadcast: root rank out of range");
  std::string label = metanas::stringArgOr(info, 2, "a broadcast");
  auto flat = flatten(ts);
  Group* g = group;
  return queue(
      info.Env(),
      [g, flat, root, label] {
        std::vector<at::Tensor> v{flat};
        c10d::BroadcastOptions o;
        o.rootRank = root;
        o.timeout = g->timeout;
        runCollective(g, label, [&] { return g->pg->broadcast(v, o); });
      },
      [g, flat, ts, root](Napi::Env env) {
        if (g->rank != root) unflatten(flat, ts);
        return env.Undefined();
      });
}

Napi::Value Barrier(const Napi::CallbackInfo& info) {
  claim("barrier");
  std::string label = metanas::stringArgOr(info, 0, "a barrier");
  Group* g = group;
  return queue(info.Env(), [g, label] {
    c10d::BarrierOptions o;
    o.timeout = g->timeout;
    runCollective(g, label, [&] { return g->pg->barrier(o); });
  });
}

// Leaves the group: the process group first, then the store (rank 0 serves it to the others, so
// it should leave last: a barrier before this call sees to that).
Napi::Value Destroy(const Napi::CallbackInfo& info) {
  claim("destroy", false);
  if (group) {
    group->heartbeat.reset();
    group->pg.reset();
    group->store.reset();
    delete group;
    group = nullptr;
  }
  return info.Env().Undefined();
}

// Collective errors are meant for users as they stand: no "libtorch: " in front.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  return metanas::guardedEntry<F, metanas::kNoPrefix>(info);
}

}  // namespace

void metanas::registerDistributed(Napi::Env env, Napi::Object exports) {
  auto dist = Napi::Object::New(env);
  dist.Set("connect", Napi::Function::New(env, guarded<Connect>, "connect"));
  dist.Set("exchange", Napi::Function::New(env, guarded<Exchange>, "exchange"));
  dist.Set("createGroup", Napi::Function::New(env, guarded<CreateGroup>, "createGroup"));
  dist.Set("allReduceSum", Napi::Function::New(env, guarded<AllReduceSum>, "allReduceSum"));
  dist.Set("broadcast", Napi::Function::New(env, guarded<Broadcast>, "broadcast"));
  dist.Set("barrier", Napi::Function::New(env, guarded<Barrier>, "barrier"));
  dist.Set("destroy", Napi::Function::New(env, guarded<Destroy>, "destroy"));
  exports.Set("distributed", dist);
}
