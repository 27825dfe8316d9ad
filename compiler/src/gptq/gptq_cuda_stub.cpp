// gptq_cuda.h without CUDA: the device path is refused with a message saying why.
#include "gptq/gptq_cuda.h"

namespace ingot::compiler {

bool gptq_cuda_available() { return false; }

format::Status gptq_columns_cuda(DeviceColumns&, float*, int*, size_t*) {
  return format::fail(format::StatusCode::invalid_argument,
                      "gptq --device cuda: this ingotc was built without CUDA (configure with nvcc on PATH, "
                      "INGOT_CUDA=ON); use --device cpu");
}

}  // namespace ingot::compiler
