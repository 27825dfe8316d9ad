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

// Success when this build has the CUDA backend and a device is usable; else why not.
format::Status cuda_backend_available();

// The CUDA backend's upload statistics; zeros for any other backend (and in builds without CUDA).
UploadStats cuda_upload_stats(const Backend& be);

}  // namespace ingot::runtime
