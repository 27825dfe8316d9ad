# GGUF files (llama.cpp): the container reader, the dequantizer of ggml's block types and the
# LLaMA importer.
target_sources(ingot_compiler PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/gguf_file.cpp
  ${CMAKE_CURRENT_LIST_DIR}/gguf_dequant.cpp
  ${CMAKE_CURRENT_LIST_DIR}/gguf.cpp)
# Bit-exact with gguf-py (numpy rounds every product and sum): no fused multiply-add.
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/gguf_dequant.cpp PROPERTIES COMPILE_OPTIONS "-ffp-contract=off")
