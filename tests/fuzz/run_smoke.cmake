# Runs a fuzz target briefly: fresh seeds from its seed writer, then libFuzzer for SECONDS seconds.
# cmake -DFUZZER=... -DMAKE_SEEDS=... -DWORK_DIR=... -DSECONDS=30 [-DDICT=...] [-DREGRESSIONS=dir]
#       -P run_smoke.cmake
foreach(var FUZZER MAKE_SEEDS WORK_DIR SECONDS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_smoke.cmake: -D${var}=... is required")
  endif()
endforeach()

set(seeds ${WORK_DIR}/seeds)
set(corpus ${WORK_DIR}/corpus)
set(artifacts ${WORK_DIR}/artifacts)
# Artifacts too: a failure lists the reproducers of this run, not those of an earlier one.
file(REMOVE_RECURSE ${seeds} ${corpus} ${artifacts})
file(MAKE_DIRECTORY ${seeds} ${corpus} ${artifacts})

execute_process(COMMAND ${MAKE_SEEDS} ${seeds} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "make_seeds failed (${rc})")
endif()

set(extra)
if(DEFINED DICT AND NOT DICT STREQUAL "")
  list(APPEND extra -dict=${DICT})
endif()
# New inputs go to the first directory (corpus); the seeds stay as written. One process.
execute_process(
  COMMAND ${FUZZER} ${corpus} ${seeds} ${REGRESSIONS}
          ${extra}
          -max_total_time=${SECONDS}
          -timeout=25
          -rss_limit_mb=2048
          -print_final_stats=1
          -artifact_prefix=${artifacts}/
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(GLOB found ${artifacts}/*)
  message(FATAL_ERROR "${FUZZER} failed (${rc}); reproducers: ${found}")
endif()
