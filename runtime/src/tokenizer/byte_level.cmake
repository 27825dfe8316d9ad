target_sources(ingot_runtime PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/byte_level_bpe.cpp
  ${CMAKE_CURRENT_LIST_DIR}/pre_tokenizer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/unicode.cpp)
