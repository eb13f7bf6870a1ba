// What addon.cc shares with the other native files: the tensor table (JavaScript holds integer
// ids into it, one table per JavaScript thread) and the registration of their entry points.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <cstdint>

namespace metanas {

// The tensor behind an id of the calling thread's table; throws std::runtime_error for a disposed
// or unknown id.
const at::Tensor& tensorById(int32_t id);

// Process groups, collectives and the rendezvous store (native/src/distributed.cc).
void registerDistributed(Napi::Env env, Napi::Object exports);

}  // namespace metanas
