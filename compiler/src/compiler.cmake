target_sources(ingot_compiler PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/import/file.cpp)
