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

# The CUDA backend when the build has CUDA; otherwise its entry point says so (docs/cuda.md).
if(INGOT_HAVE_CUDA)
  target_sources(ingot_runtime PRIVATE ${CMAKE_CURRENT_LIST_DIR}/backend/cuda/cuda_backend.cpp)
  target_link_libraries(ingot_runtime PRIVATE ingot_kernels_cuda CUDA::cudart)
else()
  target_sources(ingot_runtime PRIVATE ${CMAKE_CURRENT_LIST_DIR}/backend/cuda/no_cuda_backend.cpp)
endif()
