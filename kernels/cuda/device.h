// Which CUDA devices this process can use. Safe to call on machines with no GPU or no driver.
#pragma once

#include <string>

namespace ingot::cuda {

struct DeviceInfo {
  int count = 0;           // usable devices; 0 when there is no device or no driver
  std::string reason;      // why count is 0, from the CUDA runtime
  std::string name;        // device 0
  int compute_major = 0;   // device 0
  int compute_minor = 0;
  size_t total_memory = 0; // bytes, device 0
};

DeviceInfo query_devices();

}  // namespace ingot::cuda
