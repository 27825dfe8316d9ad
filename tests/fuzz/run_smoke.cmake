# Runs fuzz_reader briefly: fresh seeds from make_seeds, then libFuzzer for SECONDS seconds.
# cmake -DFUZZER=... -DMAKE_SEEDS=... -DDICT=... -DWORK_DIR=... -DSECONDS=30 -P run_smoke.cmake
foreach(var FUZZER MAKE_SEEDS DICT WORK_DIR SECONDS REGRESSIONS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_smoke.cmake: -D${var}=... is required")
  endif()
endforeach()

set(seeds ${WORK_DIR}/seeds)
set(corpus ${WORK_DIR}/corpus)
set(artifacts ${WORK_DIR}/artifacts)
file(REMOVE_RECURSE ${seeds} ${corpus})
file(MAKE_DIRECTORY ${seeds} ${corpus} ${artifacts})

execute_process(COMMAND ${MAKE_SEEDS} ${seeds} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "make_seeds failed (${rc})")
endif()

# New inputs go to the first directory (corpus); the seeds stay as written. One process.
execute_process(
  COMMAND ${FUZZER} ${corpus} ${seeds} ${REGRESSIONS}
          -dict=${DICT}
          -max_total_time=${SECONDS}
          -timeout=25
          -rss_limit_mb=2048
          -print_final_stats=1
          -artifact_prefix=${artifacts}/
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(GLOB found ${artifacts}/*)
  message(FATAL_ERROR "fuzz_reader failed (${rc}); reproducers: ${found}")
endif()
