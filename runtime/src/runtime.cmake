target_sources(ingot_runtime PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/tokenizer/tokenizer.cpp)
