# Hugging Face checkpoints: safetensors files (single or sharded) and config.json directories.
target_sources(ingot_compiler PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/safetensors.cpp
  ${CMAKE_CURRENT_LIST_DIR}/hf.cpp
  ${CMAKE_CURRENT_LIST_DIR}/gptq_checkpoint.cpp)
