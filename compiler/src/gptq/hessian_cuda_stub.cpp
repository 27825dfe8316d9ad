// hessian.h's device side without CUDA: refused with a message saying why.
#include "gptq/hessian.h"

namespace ingot::compiler {

struct DeviceAccumulator {};
void DeviceAccumulatorDeleter::operator()(DeviceAccumulator* d) const { delete d; }

format::Status device_accumulator_create(size_t, DeviceAccumulatorPtr*) {
  return format::fail(format::StatusCode::invalid_argument,
                      "Hessians on the device: this ingotc was built without CUDA; use --device cpu");
}
format::Status device_syrk(DeviceAccumulator&, const float*, size_t, float, float) {
  return format::fail(format::StatusCode::invalid_argument, "Hessians on the device: built without CUDA");
}
format::Status device_cross(DeviceAccumulator&, const float*, const float*, size_t, float, float) {
  return format::fail(format::StatusCode::invalid_argument, "Hessians on the device: built without CUDA");
}
format::Status device_read(DeviceAccumulator&, float*) {
  return format::fail(format::StatusCode::invalid_argument, "Hessians on the device: built without CUDA");
}

}  // namespace ingot::compiler
