# The chat-template engine (Jinja2 as transformers configures it); part of ingot_runtime.
set(INGOT_CHAT_TEMPLATE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/chat_template.cpp
  ${CMAKE_CURRENT_LIST_DIR}/evaluator.cpp
  ${CMAKE_CURRENT_LIST_DIR}/filters.cpp
  ${CMAKE_CURRENT_LIST_DIR}/globals.cpp
  ${CMAKE_CURRENT_LIST_DIR}/jinja_tests.cpp
  ${CMAKE_CURRENT_LIST_DIR}/lexer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/methods.cpp
  ${CMAKE_CURRENT_LIST_DIR}/parser.cpp
  ${CMAKE_CURRENT_LIST_DIR}/value.cpp
  CACHE INTERNAL "chat template engine sources (also compiled into the fuzz target)")
target_sources(ingot_runtime PRIVATE ${INGOT_CHAT_TEMPLATE_SOURCES})
target_link_libraries(ingot_runtime PUBLIC nlohmann_json::nlohmann_json)
# The bridge to a loaded model (its container's template and special tokens): runtime only.
target_sources(ingot_runtime PRIVATE ${CMAKE_CURRENT_LIST_DIR}/model_template.cpp)
