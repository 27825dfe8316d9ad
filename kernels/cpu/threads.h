// Threads used by the CPU kernels. Every parallel loop of a kernel goes through parallel_for, which
// runs it on the calling thread's current WorkerPool (cpu/worker_pool.h: the model's pool, set by
// the forward pass for its duration) or, with none, on a process default pool of one worker per
// hardware thread. OpenBLAS stays single-threaded (its calls run inside our loops).
#pragma once

#include <cstddef>

#include "cpu/worker_pool.h"

namespace ingot::cpu {

// The calling thread's cap on the workers a loop uses (n <= 0: every worker of the pool). Sessions
// on several threads each set theirs; a cap above the pool's size gets the pool's size. Also sets
// the calling thread's OpenMP threads (the compiler's gptq.cpp keeps an OpenMP loop).
void set_threads(int n);
// The workers a parallel_for on this thread uses now: min(cap, current pool's size), 1 inside a
// loop body (nested loops run inline).
int threads();
// The cap, or the hardware threads when none is set: what a model's pool is sized by when the
// load options give no size.
int requested_threads();

// Calls body(i, worker) for every i in [0, n), spread over the calling thread's workers when
// `parallel` (else inline on the caller, worker 0). Iterations are handed out one at a time, each
// runs exactly once, so no result depends on the split; 0 <= worker < threads(), and a worker's
// iterations run one after another (per-worker scratch needs no lock). If an iteration throws,
// no further iterations start and the first exception is rethrown to the caller.
template <class Body>
void parallel_for(size_t n, bool parallel, Body&& body);

namespace detail {
void run_parallel(size_t n, bool parallel, LoopFn fn, void* ctx);
}  // namespace detail

template <class Body>
void parallel_for(size_t n, bool parallel, Body&& body) {
  detail::run_parallel(
      n, parallel, [](void* ctx, size_t i, int worker) { (*static_cast<Body*>(ctx))(i, worker); },
      const_cast<void*>(static_cast<const void*>(&body)));
}

}  // namespace ingot::cpu
