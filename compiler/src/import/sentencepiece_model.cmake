# SentencePiece tokenizer importers: tokenizer.model (protobuf) and llama2.c tokenizer.bin.
target_sources(ingot_compiler PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/sentencepiece_model.cpp
  ${CMAKE_CURRENT_LIST_DIR}/llama2c_tokenizer.cpp)
