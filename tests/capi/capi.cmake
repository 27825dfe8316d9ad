# The C API: behaviour on stories260K, and one model shared by sessions on several threads (also
# run under ThreadSanitizer by scripts/test.sh, label "capi"). The install + build-step test
# installs the project and builds samples/build-step against it.
ingot_add_test(NAME capi_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/capi_test.cpp LABELS "unit;model;capi"
               LIBS ingot_shared ingot_test_support)
ingot_add_test(NAME capi_threads_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/capi_threads_test.cpp LABELS "unit;model;capi"
               LIBS ingot_shared ingot_test_support)
# Lua scripts through the C API (also under ThreadSanitizer: label "capi").
ingot_add_test(NAME capi_script_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/capi_script_test.cpp LABELS "unit;model;capi"
               LIBS ingot_shared ingot_test_support)
target_compile_definitions(capi_script_test PRIVATE INGOT_BIN="$<TARGET_FILE:ingot>"
                           INGOT_SAMPLES_DIR="${PROJECT_SOURCE_DIR}/samples")
add_dependencies(capi_script_test ingot)
# Sessions stepped together (ingot_session_eval_batch) and the KV page pool's parameters.
ingot_add_test(NAME capi_batch_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/capi_batch_test.cpp LABELS "unit;model;capi;kv"
               LIBS ingot_shared ingot_test_support)
# Sessions on several threads through one model's worker pool (under ThreadSanitizer too: "capi").
ingot_add_test(NAME capi_pool_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/capi_pool_test.cpp LABELS "unit;model;capi"
               LIBS ingot_shared ingot_test_support)
foreach(t capi_test capi_threads_test capi_script_test capi_batch_test capi_pool_test)
  target_compile_definitions(${t} PRIVATE INGOTC_BIN="$<TARGET_FILE:ingotc>")
  add_dependencies(${t} ingotc)
endforeach()

ingot_add_test(NAME ingotc_depfile_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/depfile_test.cpp LABELS "unit;cli"
               LIBS ingot_compiler ingot_test_support)
target_compile_definitions(ingotc_depfile_test PRIVATE INGOTC_BIN="$<TARGET_FILE:ingotc>")
add_dependencies(ingotc_depfile_test ingotc)

# The embed-c sample streams a completion and reports its speed.
add_test(NAME sample_embed_c
         COMMAND sh -c "set -- \"\${INGOT_SHARED:-$1}\" \"$2\"
[ -f \"$1/models/stories260K/stories260K.bin\" ] || exit 77
$<TARGET_FILE:ingotc> build \"$1/models/stories260K/stories260K.bin\" --tokenizer \"$1/models/stories260K/tok512.model\" --dtype f32 -o embed-c.ingot || exit 1
$<TARGET_FILE:embed-c> embed-c.ingot 'Once upon a time' 32 > embed-c.out 2> embed-c.err || { cat embed-c.err; exit 1; }
cat embed-c.out embed-c.err
grep -q 'tokens/s' embed-c.err || exit 1
# The greedy text is the start of llama2.c run.c's (shared/reference), without the final newline.
cmp -n $(($(wc -c < embed-c.out) - 1)) embed-c.out \"$1/reference/stories260K-once-upon-a-time.txt\""
                 sh ${INGOT_SHARED_DEFAULT})
set_tests_properties(sample_embed_c PROPERTIES LABELS "model;samples" WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}
                     SKIP_RETURN_CODE 77)
ingot_test_needs(LABELS model samples TARGETS ingotc embed-c)

# Installs into a temporary prefix, then builds and runs samples/build-step against it.
add_test(NAME capi_install_build_step
         COMMAND ${CMAKE_COMMAND} -DINGOT_BUILD_DIR=${PROJECT_BINARY_DIR} -DINGOT_SOURCE_DIR=${PROJECT_SOURCE_DIR}
                 -DINGOT_SHARED=${INGOT_SHARED_DEFAULT} -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/build_step_test
                 -DGENERATOR=${CMAKE_GENERATOR}
                 -P ${CMAKE_CURRENT_LIST_DIR}/build_step_test.cmake)
set_tests_properties(capi_install_build_step PROPERTIES LABELS "model;samples;install" TIMEOUT 1200
                     SKIP_RETURN_CODE 77)
ingot_test_needs(LABELS model samples install TARGETS ingot_shared ingot_static ingotc ingot)

# The chat sample: a one-line story through samples/chat/story.lua is the prompt itself, so the
# greedy reply is llama2.c run.c's continuation (shared/reference); a multi-turn LLaMA-2-format
# conversation, greedy and sampled, prints what `ingot chat --script` prints for the same lines.
add_test(NAME sample_chat
         COMMAND sh -c "set -- \"\${INGOT_SHARED:-$1}\" \"$2\"
[ -f \"$1/models/stories260K/stories260K.bin\" ] || exit 77
$<TARGET_FILE:ingotc> build \"$1/models/stories260K/stories260K.bin\" --tokenizer \"$1/models/stories260K/tok512.model\" --dtype f32 -o chat.ingot || exit 1
printf 'Once upon a time\\n' | $<TARGET_FILE:chat> chat.ingot \"$2/chat/story.lua\" -n 32 --temp 0 > chat-story.out || exit 1
cat chat-story.out
{ printf 'Once upon a time'; head -c -1 chat-story.out; } > chat-story.txt
[ $(wc -c < chat-story.txt) -gt 80 ] || exit 1
cmp -n $(wc -c < chat-story.txt) chat-story.txt \"$1/reference/stories260K-once-upon-a-time.txt\" || exit 1
printf 'Tell me a story.\\n\\nAbout a cat.\\nAnd a dog?\\n' > chat-in.txt
for opts in '--temp 0' '--temp 0.8 --seed 7'; do
  $<TARGET_FILE:chat> chat.ingot \"$2/scripts/llama2_chat.lua\" -n 24 $opts < chat-in.txt > chat-sample.out || exit 1
  $<TARGET_FILE:ingot> chat chat.ingot --script \"$2/scripts/llama2_chat.lua\" -n 24 $opts < chat-in.txt > chat-cli.out || exit 1
  cat chat-sample.out
  [ -s chat-sample.out ] || exit 1
  cmp chat-sample.out chat-cli.out || exit 1
done"
                 sh ${INGOT_SHARED_DEFAULT} ${PROJECT_SOURCE_DIR}/samples)
set_tests_properties(sample_chat PROPERTIES LABELS "model;samples" WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}
                     SKIP_RETURN_CODE 77)
ingot_test_needs(LABELS model samples TARGETS ingotc ingot chat)

# The batch sample: four prompts stepped together; the first one's greedy text is llama2.c run.c's
# (shared/reference), which only the sessions' own caches can give when they share a step.
add_test(NAME sample_batch_decode
         COMMAND sh -c "set -- \"\${INGOT_SHARED:-$1}\" \"$2\"
[ -f \"$1/models/stories260K/stories260K.bin\" ] || exit 77
$<TARGET_FILE:ingotc> build \"$1/models/stories260K/stories260K.bin\" --tokenizer \"$1/models/stories260K/tok512.model\" --dtype f32 -o batch.ingot || exit 1
$<TARGET_FILE:batch-decode> batch.ingot 40 > batch.out || exit 1
cat batch.out
[ $(grep -c '^\\[[0-3]\\] ' batch.out) -eq 4 ] || exit 1
head -n 1 batch.out | cut -c 5- > batch-0.txt
[ $(wc -c < batch-0.txt) -gt 100 ] || exit 1
cmp -n $(($(wc -c < batch-0.txt) - 1)) batch-0.txt \"$1/reference/stories260K-once-upon-a-time.txt\""
                 sh ${INGOT_SHARED_DEFAULT})
set_tests_properties(sample_batch_decode PROPERTIES LABELS "model;samples" WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}
                     SKIP_RETURN_CODE 77)
ingot_test_needs(LABELS model samples TARGETS ingotc batch-decode)
