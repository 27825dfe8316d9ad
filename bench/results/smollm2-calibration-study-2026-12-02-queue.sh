#!/bin/bash
# two lanes of bench/quality.py --model smollm2 runs (calibration study), each one configuration at a time
cd /work/wt-models2
Q="nice -n 19 python3 bench/quality.py --model smollm2 --build /tmp/h21-run --shared /work/shared --jobs 1 --threads 1 --cache bench/results/quality-smollm2-2026-12-02-cpu.jsonl --also-stamps 531d91d5416caa09 --report-dir bench/results/smollm2-reports --keep-dir /tmp/h21-keep --out /tmp/h21-q.md --texts WikiText"
G4='^GPTQ 4-bit g128 sym$'
lane1() {
  $Q --only "$G4" --calib-draw documents --seed 3
  $Q --only "$G4" --seed 4
  $Q --only "$G4" --calib-draw documents --seed 4
  $Q --only "$G4" --damp 0.1 --seed 3
  $Q --only '^GPTQ 3-bit g128 sym$' --calib-draw documents --seed 3
}
lane2() {
  $Q --only "$G4" --seed 5
  # the cached RTN row again, without --also-stamps: does this build reproduce the earlier one?
  ${Q/--also-stamps 531d91d5416caa09/} --only '^RTN 4-bit g128 sym$'
  $Q --only "$G4" --calib-draw documents --seed 5
  $Q --only '^RTN 4-bit g32 asym$'
  $Q --only '^RTN 8-bit g128 sym$'
  $Q --only '^RTN 4-bit g128 asym$'
}
lane1 > /tmp/h21-lane1.log 2>&1 &
lane2 > /tmp/h21-lane2.log 2>&1 &
wait
