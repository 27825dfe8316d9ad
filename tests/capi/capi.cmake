# The C API: behaviour on stories260K, and one model shared by sessions on several threads (also
# run under ThreadSanitizer by scripts/test.sh, label "capi"). The install + build-step test
# installs the project and builds samples/build-step against it.
ingot_add_test(NAME capi_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/capi_test.cpp LABELS "unit;model;capi"
               LIBS ingot_shared ingot_test_support)
ingot_add_test(NAME capi_threads_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/capi_threads_test.cpp LABELS "unit;model;capi"
               LIBS ingot_shared ingot_test_support)
foreach(t capi_test capi_threads_test)
  target_compile_definitions(${t} PRIVATE INGOTC_BIN="$<TARGET_FILE:ingotc>")
  add_dependencies(${t} ingotc)
endforeach()

ingot_add_test(NAME ingotc_depfile_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/depfile_test.cpp LABELS "unit;cli"
               LIBS ingot_compiler ingot_test_support)
target_compile_definitions(ingotc_depfile_test PRIVATE INGOTC_BIN="$<TARGET_FILE:ingotc>")
add_dependencies(ingotc_depfile_test ingotc)

# The embed-c sample streams a completion and reports its speed.
add_test(NAME sample_embed_c
         COMMAND sh -c "[ -f \"$1/models/stories260K/stories260K.bin\" ] || exit 77
$<TARGET_FILE:ingotc> build \"$1/models/stories260K/stories260K.bin\" --tokenizer \"$1/models/stories260K/tok512.model\" --dtype f32 -o embed-c.ingot || exit 1
$<TARGET_FILE:embed-c> embed-c.ingot 'Once upon a time' 32 > embed-c.out 2> embed-c.err || { cat embed-c.err; exit 1; }
cat embed-c.out embed-c.err
grep -q 'tokens/s' embed-c.err || exit 1
# The greedy text is the start of llama2.c run.c's (shared/reference), without the final newline.
cmp -n $(($(wc -c < embed-c.out) - 1)) embed-c.out \"$1/reference/stories260K-once-upon-a-time.txt\""
                 sh ${INGOT_SHARED_DEFAULT})
set_tests_properties(sample_embed_c PROPERTIES LABELS "model;samples" WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}
                     SKIP_RETURN_CODE 77)

# Installs into a temporary prefix, then builds and runs samples/build-step against it.
add_test(NAME capi_install_build_step
         COMMAND ${CMAKE_COMMAND} -DINGOT_BUILD_DIR=${PROJECT_BINARY_DIR} -DINGOT_SOURCE_DIR=${PROJECT_SOURCE_DIR}
                 -DINGOT_SHARED=${INGOT_SHARED_DEFAULT} -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/build_step_test
                 -DGENERATOR=${CMAKE_GENERATOR}
                 -P ${CMAKE_CURRENT_LIST_DIR}/build_step_test.cmake)
set_tests_properties(capi_install_build_step PROPERTIES LABELS "model;samples;install" TIMEOUT 1200
                     SKIP_RETURN_CODE 77)
