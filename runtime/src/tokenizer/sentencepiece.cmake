# SentencePiece BPE tokenizer (LLaMA-1/2, llama2.c stories models).
target_sources(ingot_runtime PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/sentencepiece_bpe.cpp)
