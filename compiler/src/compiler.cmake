target_sources(ingot_compiler PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/depfile.cpp
  ${CMAKE_CURRENT_LIST_DIR}/emit.cpp
  ${CMAKE_CURRENT_LIST_DIR}/gptq/pack.cpp
  ${CMAKE_CURRENT_LIST_DIR}/import/file.cpp
  ${CMAKE_CURRENT_LIST_DIR}/import/llama2c.cpp
  ${CMAKE_CURRENT_LIST_DIR}/import/tokenizer_files.cpp)
target_link_libraries(ingot_compiler PUBLIC ingot_kernels_cpu)
