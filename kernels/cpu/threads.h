// Threads used by the CPU kernels. Every parallel loop of a kernel goes through parallel_for, so
// the pool behind it (OpenMP today) can change without touching a kernel.
#pragma once

#include <cstddef>

namespace ingot::cpu {

// n <= 0: all hardware threads. The calling thread's setting: sessions on several threads each
// set theirs.
void set_threads(int n);
int threads();

// Calls body(i, worker) for every i in [0, n), spread over the calling thread's workers when
// `parallel` (else inline on the caller, worker 0). Iterations are handed out one at a time, each
// runs exactly once, so no result depends on the split; 0 <= worker < threads(), and a worker's
// iterations run one after another (per-worker scratch needs no lock).
template <class Body>
void parallel_for(size_t n, bool parallel, Body&& body);

namespace detail {
using LoopFn = void (*)(void* ctx, size_t i, int worker);
void run_parallel(size_t n, bool parallel, LoopFn fn, void* ctx);
}  // namespace detail

template <class Body>
void parallel_for(size_t n, bool parallel, Body&& body) {
  detail::run_parallel(
      n, parallel, [](void* ctx, size_t i, int worker) { (*static_cast<Body*>(ctx))(i, worker); },
      const_cast<void*>(static_cast<const void*>(&body)));
}

}  // namespace ingot::cpu
