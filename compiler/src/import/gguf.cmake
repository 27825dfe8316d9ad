# GGUF files (llama.cpp): the container reader and the unquantized LLaMA importer.
target_sources(ingot_compiler PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/gguf_file.cpp
  ${CMAKE_CURRENT_LIST_DIR}/gguf.cpp)
