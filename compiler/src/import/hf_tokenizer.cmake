target_sources(ingot_compiler PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/hf_tokenizer.cpp)
