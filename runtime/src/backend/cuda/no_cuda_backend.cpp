// The CUDA backend's entry in builds without CUDA (INGOT_CUDA=OFF or no nvcc): a clear error.
#include "backend/backend.h"
#include "backend/cuda/cuda_backend.h"

namespace ingot::runtime {

format::Status make_cuda_backend(std::unique_ptr<Backend>*) { return cuda_backend_available(); }

format::Status cuda_backend_available() {
  return format::fail(format::StatusCode::invalid_argument,
                      "this build of ingot has no CUDA backend (configure with -DINGOT_CUDA=ON)");
}

UploadStats cuda_upload_stats(const Backend&) { return {}; }
GraphStats cuda_graph_stats(const Backend&) { return {}; }

}  // namespace ingot::runtime
