# The scheduler (continuous batching over eval_sessions): docs/serving.md.
target_sources(ingot_runtime PRIVATE ${CMAKE_CURRENT_LIST_DIR}/scheduler.cpp)
