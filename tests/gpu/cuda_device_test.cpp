// The CUDA runtime is reachable from our build: on a machine with a GPU the device is reported
// with a Hopper/Ampere-class compute capability; without one the test skips with the reason.
#include <gtest/gtest.h>

#include "cuda/device.h"

TEST(CudaDevice, QueryReportsTheDeviceOrWhyThereIsNone) {
  const ingot::cuda::DeviceInfo info = ingot::cuda::query_devices();
  if (info.count == 0) {
    EXPECT_FALSE(info.reason.empty());
    GTEST_SKIP() << "no CUDA device: " << info.reason;
  }
  EXPECT_FALSE(info.name.empty());
  EXPECT_GE(info.compute_major, 8) << "built for sm_80 and newer";
  EXPECT_GT(info.total_memory, size_t{1} << 30);
}
