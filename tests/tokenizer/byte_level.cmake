# Byte-level BPE (LLaMA-3 tokenizer.json): import, runtime tokenizer, ids equal to HF tokenizers.
ingot_add_test(NAME tokenizer_byte_level_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/byte_level_test.cpp
               LABELS "unit;model" LIBS ingot_compiler ingot_runtime TIMEOUT 300)
target_include_directories(tokenizer_byte_level_test PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../support)
# llama3_reference_ids.json (made by make_llama3_reference.py) is read from the source tree.
target_compile_definitions(tokenizer_byte_level_test PRIVATE INGOT_TOKENIZER_TEST_DIR="${CMAKE_CURRENT_LIST_DIR}")
# Pre-tokenizers (gpt2, llama3, qwen2, starcoder/SmolLM) against Hugging Face tokenizers, run from
# the venv of tests/oracle/oracle_venv.sh (skips without PyPI or ../shared).
ingot_add_test(NAME tokenizer_pre_tokenizer_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/pre_tokenizer_test.cpp
               LABELS "unit;model" LIBS ingot_compiler ingot_runtime ingot_test_support nlohmann_json::nlohmann_json
               TIMEOUT 600)
