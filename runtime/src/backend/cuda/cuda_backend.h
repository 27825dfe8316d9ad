// What the CUDA backend reports beyond the Backend interface.
#pragma once

#include <cstddef>

#include "backend/backend.h"

namespace ingot::runtime {

// Weights copied to the device so far: bytes, tensors and the seconds the copies took (host
// memcpy into pinned staging overlapped with the device copies); bytes / seconds is the rate.
struct UploadStats {
  size_t bytes = 0;
  size_t tensors = 0;
  double seconds = 0;
};

// Steps run as CUDA graphs (docs/cuda.md): launched, executable graphs updated in place from a
// new capture, instantiated anew (first of a shape, or a changed topology), and recordings that
// failed (the step then ran unrecorded; after three in a row graphs are turned off).
struct GraphStats {
  size_t launches = 0;
  size_t updates = 0;
  size_t instantiations = 0;
  size_t failures = 0;
};

// Success when this build has the CUDA backend and a device is usable; else why not.
format::Status cuda_backend_available();

// The CUDA backend's upload statistics; zeros for any other backend (and in builds without CUDA).
UploadStats cuda_upload_stats(const Backend& be);
// Its graph statistics; zeros for any other backend.
GraphStats cuda_graph_stats(const Backend& be);

}  // namespace ingot::runtime
