# SentencePiece BPE: importers and runtime, checked against libsentencepiece (test-only dependency,
# Debian libsentencepiece-dev) on the shared models and data.
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
ingot_add_test(NAME tokenizer_sentencepiece_test
               SOURCES ${CMAKE_CURRENT_LIST_DIR}/sentencepiece_test.cpp
               LABELS "unit;model"
               LIBS ingot_compiler ingot_runtime ingot_test_support PkgConfig::SENTENCEPIECE)
