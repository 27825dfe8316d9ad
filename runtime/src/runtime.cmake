target_sources(ingot_runtime PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/backend/cpu/cpu_backend.cpp
  ${CMAKE_CURRENT_LIST_DIR}/generate.cpp
  ${CMAKE_CURRENT_LIST_DIR}/eval/llamacpp_perplexity.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kv/kv_sequence.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kv/page_pool.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model/forward.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model/layer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model/model.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model/session.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sampling/sampler.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tokenizer/tokenizer.cpp)
target_link_libraries(ingot_runtime PUBLIC ingot_kernels_cpu)
