# cmake -DINGOT_BUILD_DIR=.. -DINGOT_SOURCE_DIR=.. -DINGOT_SHARED=.. -DWORK_DIR=.. -DGENERATOR=Ninja -P build_step_test.cmake
#
# Installs ingot into a temporary prefix, then, as a user would:
#   - builds samples/embed-c with the C compiler and pkg-config against the prefix, and runs it;
#   - configures and builds samples/build-step (find_package + ingot_compile_model, GPTQ 4-bit
#     from calibration text) and runs its apps, on libingot.so and libingot.a;
#   - checks the model step: nothing reruns on a no-op build; touching an input, changing the
#     options or touching ingotc reruns the model step and nothing else;
#   - checks the model is reproducible: a second build directory elsewhere gives the same bytes.
cmake_minimum_required(VERSION 3.25)

# check(<condition as a list> <message>): fails the test unless the condition holds.
function(check condition message)
  if(${condition})
  else()
    message(FATAL_ERROR "FAILED: ${message}")
  endif()
endfunction()

# run(<out-var> COMMAND...): runs a command, fails the test on a non-zero exit, returns its output.
function(run out)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "FAILED (${rc}): ${cmd}\n${stdout}\n${stderr}")
  endif()
  set(${out} "${stdout}${stderr}" PARENT_SCOPE)
endfunction()

# $INGOT_SHARED at test time wins over the folder given at configure time (as in the other tests).
if(NOT "$ENV{INGOT_SHARED}" STREQUAL "")
  set(INGOT_SHARED "$ENV{INGOT_SHARED}")
endif()
set(stories "${INGOT_SHARED}/models/stories260K")
if(NOT EXISTS "${stories}/stories260K.bin" OR NOT EXISTS "${INGOT_SHARED}/data/c4/c4_sample.json")
  message("shared assets absent (${INGOT_SHARED}): skipping")
  cmake_language(EXIT 77)
endif()
if(NOT GENERATOR STREQUAL "Ninja")
  message("the rerun checks read Ninja's output; generator is ${GENERATOR}: skipping")
  cmake_language(EXIT 77)
endif()

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
run(out ${CMAKE_COMMAND} --install "${INGOT_BUILD_DIR}" --prefix "${prefix}")
foreach(f lib/libingot.so lib/libingot.a include/ingot/ingot.h include/ingot/ingot.hpp bin/ingotc bin/ingot
          lib/cmake/ingot/ingotConfig.cmake lib/cmake/ingot/ingotConfigVersion.cmake lib/cmake/ingot/ingotTargets.cmake
          lib/cmake/ingot/IngotCompileModel.cmake lib/pkgconfig/ingot.pc)
  check("EXISTS;${prefix}/${f}" "installed ${f}")
endforeach()

# The inputs are copies the test may touch (the shared assets are read-only).
set(inputs "${WORK_DIR}/inputs")
file(MAKE_DIRECTORY "${inputs}")
file(COPY "${stories}/stories260K.bin" "${stories}/tok512.model" "${INGOT_SHARED}/data/c4/c4_sample.json"
     DESTINATION "${inputs}")
# Same directory name as in shared/: provenance records it (not the path).
file(COPY "${INGOT_SHARED}/models/stories260K-hf" DESTINATION "${inputs}")

# ---- embed-c through pkg-config (shared library) ----------------------------------------------
find_program(CC NAMES cc gcc REQUIRED)
find_program(PKG_CONFIG pkg-config REQUIRED)
set(ENV{PKG_CONFIG_PATH} "${prefix}/lib/pkgconfig")
run(pc_cflags ${PKG_CONFIG} --cflags ingot)
run(pc_libs ${PKG_CONFIG} --libs ingot)
separate_arguments(pc_cflags UNIX_COMMAND "${pc_cflags}")
separate_arguments(pc_libs UNIX_COMMAND "${pc_libs}")
run(out ${CC} -std=c99 -Wall -Wextra -pedantic -Werror ${pc_cflags} "${INGOT_SOURCE_DIR}/samples/embed-c/main.c"
    -o "${WORK_DIR}/embed-c" ${pc_libs} "-Wl,-rpath,${prefix}/lib")
run(out "${prefix}/bin/ingotc" build "${inputs}/stories260K.bin" --tokenizer "${inputs}/tok512.model" --dtype f32
    -o "${WORK_DIR}/f32.ingot")
run(out "${WORK_DIR}/embed-c" "${WORK_DIR}/f32.ingot" "Once upon a time" 24)
check("out;MATCHES;tokens/s" "embed-c reports tokens/s:\n${out}")
message("embed-c (pkg-config, libingot.so):\n${out}")
# Static: libingot.a and the private libraries pkg-config lists for it.
run(pc_static ${PKG_CONFIG} --static --libs-only-l --libs-only-other ingot)
separate_arguments(pc_static UNIX_COMMAND "${pc_static}")
list(REMOVE_ITEM pc_static -lingot)
run(out ${CC} -std=c99 ${pc_cflags} "${INGOT_SOURCE_DIR}/samples/embed-c/main.c" -o "${WORK_DIR}/embed-c-static"
    "${prefix}/lib/libingot.a" ${pc_static})
run(out "${WORK_DIR}/embed-c-static" "${WORK_DIR}/f32.ingot" "Once upon a time" 24)
check("out;MATCHES;tokens/s" "static embed-c reports tokens/s:\n${out}")

# ---- samples/build-step -----------------------------------------------------------------------
# configure(<dir> [<ingotc options, space-separated>])
function(configure dir)
  set(extra "")
  if(ARGC GREATER 1)
    string(REPLACE " " ";" options "${ARGV1}")
    set(extra "-DGPTQ_OPTIONS=${options}")  # quoted below: stays one argument, semicolons and all
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -S "${INGOT_SOURCE_DIR}/samples/build-step" -B "${dir}" -G Ninja
                          -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_PREFIX_PATH=${prefix}" "-DSTORIES_DIR=${inputs}"
                          "-DCALIBRATION_TEXT=${inputs}/c4_sample.json" "-DSTORIES_HF_DIR=${inputs}/stories260K-hf" "${extra}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  check("rc;EQUAL;0" "configuring samples/build-step in ${dir}:\n${out}")
endfunction()
# build(<dir> <out-var>): builds and returns the commands Ninja ran (one per line).
function(build dir out)
  run(log ${CMAKE_COMMAND} --build "${dir}" -- -v)
  set(${out} "${log}" PARENT_SCOPE)
endfunction()
# Checks that a rebuild ran one step, ingotc writing `output`, and nothing else.
function(expect_only_model_step log output why)
  string(REGEX MATCHALL "\n\\[[0-9]+/[0-9]+\\] " steps "\n${log}")
  list(LENGTH steps n)
  string(FIND "${log}" "/ingotc build " ingotc_at)
  string(FIND "${log}" "-o ${output}" output_at)
  check("n;EQUAL;1" "${why}: expected exactly the model step, Ninja ran ${n} steps:\n${log}")
  check("NOT;ingotc_at;EQUAL;-1" "${why}: the step that ran is not ingotc:\n${log}")
  check("NOT;output_at;EQUAL;-1" "${why}: the step that ran does not write ${output}:\n${log}")
endfunction()

set(app_dir "${WORK_DIR}/app")
configure("${app_dir}")
build("${app_dir}" log)
string(FIND "${log}" "/ingotc build " first_at)
check("NOT;first_at;EQUAL;-1" "the first build compiles the model:\n${log}")
set(model "${app_dir}/models/stories260K-q4.ingot")
set(hf_model "${app_dir}/models/stories260K-hf.ingot")
check("EXISTS;${hf_model}" "the Hugging Face directory was compiled to ${hf_model}")
check("EXISTS;${model}" "the model was compiled to ${model}")

# The apps on the shared and the static library print what the installed `ingot run` prints.
run(want "${prefix}/bin/ingot" run "${model}" -p "Once upon a time" -n 40 --temp 0)
string(REGEX REPLACE "ingot run: [^\n]*\n?" "" want "${want}")  # the speed line (stderr)
foreach(variant shared static)
  run(got "${app_dir}/story-${variant}" "Once upon a time" 40)
  check("got;MATCHES;4-bit GPTQ" "story-${variant} runs the GPTQ 4-bit model:\n${got}")
  string(REGEX REPLACE "story: [^\n]*\n?" "" got "${got}")
  check("got;STREQUAL;want" "story-${variant} prints what `ingot run` prints:\n${got}\nvs\n${want}")
endforeach()
message("story:\n${got}")

build("${app_dir}" log)
check("log;MATCHES;no work to do" "a second build does nothing:\n${log}")

file(TOUCH "${inputs}/c4_sample.json")
build("${app_dir}" log)
expect_only_model_step("${log}" "${model}" "after touching the calibration text")
file(TOUCH "${inputs}/tok512.model")
build("${app_dir}" log)
expect_only_model_step("${log}" "${model}" "after touching the tokenizer")
file(TOUCH "${inputs}/stories260K.bin")
build("${app_dir}" log)
expect_only_model_step("${log}" "${model}" "after touching the checkpoint")
# Files inside the source directory are tracked through ingotc's depfile (the directory's own
# time does not change when a file in it is edited).
foreach(f config.json model.safetensors tokenizer.model)
  file(TOUCH "${inputs}/stories260K-hf/${f}")
  build("${app_dir}" log)
  expect_only_model_step("${log}" "${hf_model}" "after touching hf/${f}")
endforeach()
file(TOUCH "${prefix}/bin/ingotc")
build("${app_dir}" log)
string(REGEX MATCHALL "/ingotc build " runs "${log}")
list(LENGTH runs n)
check("n;EQUAL;2" "touching ingotc reruns both model steps:\n${log}")
check("NOT;log;MATCHES;story" "touching ingotc relinks no app:\n${log}")
build("${app_dir}" log)
check("log;MATCHES;no work to do" "nothing after the model step reran:\n${log}")

# Reproducible: another build directory (another path) makes the same bytes.
set(other_dir "${WORK_DIR}/elsewhere/app2")
configure("${other_dir}")
build("${other_dir}" log)
file(SHA256 "${model}" a)
file(SHA256 "${other_dir}/models/stories260K-q4.ingot" b)
check("a;STREQUAL;b" "the model does not depend on the build directory")
file(SHA256 "${hf_model}" a_hf)
file(SHA256 "${other_dir}/models/stories260K-hf.ingot" b_hf)
check("a_hf;STREQUAL;b_hf" "the Hugging Face model does not depend on the build directory")
# ... nor on where the inputs live.
run(out "${prefix}/bin/ingotc" build "${INGOT_SHARED}/models/stories260K-hf" --dtype f16 -o "${WORK_DIR}/hf-from-shared.ingot")
file(SHA256 "${WORK_DIR}/hf-from-shared.ingot" c_hf)
check("a_hf;STREQUAL;c_hf" "the model does not depend on the input directory")

# Changing the options reruns the model step (and changes the model).
configure("${app_dir}" "--method gptq --bits 4 --group-size 64 --calib-samples 16 --calib-seqlen 128 --threads 2")
build("${app_dir}" log)
expect_only_model_step("${log}" "${model}" "after changing the options")
file(SHA256 "${model}" c)
check("NOT;a;STREQUAL;c" "group size 64 gives another model")
run(out "${prefix}/bin/ingot" inspect --json "${model}")
check("out;MATCHES;\"group_size\"[^,]*64" "the rebuilt model has group size 64")
message("build-step: all checks passed")
