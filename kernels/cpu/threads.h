// Threads used by the CPU kernels (OpenMP loops and OpenBLAS).
#pragma once

namespace ingot::cpu {

// n <= 0: all hardware threads.
void set_threads(int n);
int threads();

}  // namespace ingot::cpu
