# Exporters: a container written out in another tool's format.
target_sources(ingot_compiler PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/gptq_export.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sentencepiece_writer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/hf_tokenizer_writer.cpp)
