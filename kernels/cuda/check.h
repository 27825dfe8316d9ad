// Every CUDA call is checked: INGOT_CUDA_RETURN_IF returns the error of a failing call from a
// function that returns cudaError_t; launchers end with cudaGetLastError() so a bad launch
// configuration is reported where it happened.
#pragma once

#include <cuda_runtime.h>

#define INGOT_CUDA_RETURN_IF(expr)             \
  do {                                         \
    const cudaError_t ingot_err_ = (expr);     \
    if (ingot_err_ != cudaSuccess) return ingot_err_; \
  } while (0)
