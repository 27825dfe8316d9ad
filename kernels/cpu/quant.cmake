# GPTQ-packed low-bit weights (spec/quant-layouts.md): packing and the CPU quantized matmul.
target_sources(ingot_kernels_cpu PRIVATE cpu/quant.cpp cpu/quant_int8.cpp)
