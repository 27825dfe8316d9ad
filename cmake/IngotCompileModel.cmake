# ingot_compile_model(<target> SOURCE <dir-or-file> OUTPUT <file.ingot> [TOKENIZER <file>]
#                     [CALIBRATION <files>...] [OPTIONS <ingotc build options>...])
#
# Compiles a model with `ingotc build` at build time. <target> is a custom target (built by ALL)
# whose INGOT_MODEL_FILE property is the absolute path of OUTPUT; make an app depend on it with
# add_dependencies(). The step reruns when, and only when:
#   - a file ingotc read changes: SOURCE, TOKENIZER and CALIBRATION directly, and every file read
#     inside a SOURCE directory (config.json, shards, tokenizer files) through `ingotc --depfile`;
#   - OPTIONS change (a stamp file rewritten only when they differ, so Make sees it as Ninja does);
#   - ingotc itself changes.
# Relative SOURCE/TOKENIZER/CALIBRATION are taken from the current source directory, a relative
# OUTPUT from the current binary directory. The output does not depend on where the build or the
# inputs live (ingotc records file names only), on the time or on the user.
function(ingot_compile_model target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "SOURCE;OUTPUT;TOKENIZER" "CALIBRATION;OPTIONS")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "ingot_compile_model(${target}): unexpected arguments: ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_SOURCE OR NOT ARG_OUTPUT)
    message(FATAL_ERROR "ingot_compile_model(${target}): SOURCE and OUTPUT are required")
  endif()
  if(NOT TARGET ingot::ingotc)
    message(FATAL_ERROR "ingot_compile_model(${target}): no ingot::ingotc target; call find_package(ingot CONFIG) first")
  endif()

  get_filename_component(source "${ARG_SOURCE}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  get_filename_component(output "${ARG_OUTPUT}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  if(NOT EXISTS "${source}")
    message(FATAL_ERROR "ingot_compile_model(${target}): SOURCE '${source}' does not exist")
  endif()
  set(command build "${source}" -o "${output}")
  set(inputs "${source}")
  if(ARG_TOKENIZER)
    get_filename_component(tokenizer "${ARG_TOKENIZER}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND command --tokenizer "${tokenizer}")
    list(APPEND inputs "${tokenizer}")
  endif()
  foreach(calibration IN LISTS ARG_CALIBRATION)
    get_filename_component(calibration "${calibration}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND command --calib "${calibration}")
    list(APPEND inputs "${calibration}")
  endforeach()
  list(APPEND command ${ARG_OPTIONS})

  set(state_dir "${CMAKE_CURRENT_BINARY_DIR}/CMakeFiles/ingot_compile_model")
  set(depfile "${state_dir}/${target}.d")
  # Rewritten only when the options change (file(CONFIGURE) keeps an unchanged file's time).
  set(options_stamp "${state_dir}/${target}.options")
  string(JOIN "\n" options_text "ingotc build options of ${target}:" ${ARG_OPTIONS})
  file(CONFIGURE OUTPUT "${options_stamp}" CONTENT "${options_text}\n" @ONLY)

  # ingotc as a file (it reruns the step when rebuilt or reinstalled), and as a target when it is
  # built by this same project so it is built first.
  set(ingotc_deps "$<TARGET_FILE:ingot::ingotc>")
  get_target_property(ingotc_target ingot::ingotc ALIASED_TARGET)
  if(ingotc_target)
    list(APPEND ingotc_deps ${ingotc_target})
  endif()

  get_filename_component(output_dir "${output}" DIRECTORY)
  add_custom_command(
    OUTPUT "${output}"
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${output_dir}"
    COMMAND ingot::ingotc ${command} --depfile "${depfile}"
    DEPENDS ${inputs} "${options_stamp}" ${ingotc_deps}
    DEPFILE "${depfile}"
    WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}"
    COMMENT "ingotc: compiling model ${target} -> ${output}"
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS "${output}")
  set_target_properties(${target} PROPERTIES INGOT_MODEL_FILE "${output}")
endfunction()
