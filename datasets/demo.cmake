# SPDX-License-Identifier: Apache-2.0
cmake_minimum_required(VERSION 3.25) # script mode: the project's policies apply
# The demo: prepare Fashion-MNIST with planted poisons (assay-fmnist), scan it with assay, print
# the summary (precision and recall against the planted truth, where the reports are).
# With -DCHECK=ON it is also the end-to-end test on real data: it asserts what the demo must show.
#   cmake -DASSAY=... -DFMNIST=... -DOUT=dir [-DCHECK=ON] [-DTHREADS=n] -P demo.cmake
foreach(var ASSAY FMNIST OUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "demo.cmake needs -D${var}=...")
  endif()
endforeach()
file(MAKE_DIRECTORY "${OUT}")
set(data "${OUT}/fashion-mnist-poisoned.h5")
set(truth "${OUT}/truth.csv")
set(report "${OUT}/assay-report")

message(STATUS "Preparing Fashion-MNIST (60,000 training images) with planted poisons")
execute_process(COMMAND "${FMNIST}" --out "${data}" --truth "${truth}" --seed 42
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "assay-fmnist failed (exit ${rc}); is the dataset-fashion-mnist package installed?")
endif()

set(threads_arg "")
if(DEFINED THREADS)
  set(threads_arg --threads ${THREADS})
endif()
message(STATUS "Scanning ${data}")
# The summary (stdout) is kept in a file and shown after the progress (stderr), so a terminal
# relay never interleaves the two streams.
execute_process(COMMAND "${ASSAY}" scan "${data}" --truth "${truth}" --out "${report}"
                        --source "Debian package dataset-fashion-mnist (train split), poisoned by assay-fmnist --seed 42"
                        ${threads_arg}
                RESULT_VARIABLE rc OUTPUT_FILE "${OUT}/summary.txt")
execute_process(COMMAND "${CMAKE_COMMAND}" -E cat "${OUT}/summary.txt")
# Exit 1 is the expected verdict here: the data is poisoned and the gate must fail.
if(NOT rc EQUAL 0 AND NOT rc EQUAL 1)
  message(FATAL_ERROR "assay scan did not complete (exit ${rc})")
endif()
message(STATUS "Demo done: gate exit code ${rc} (1 = poison found). Reports in ${report}")

if(NOT CHECK)
  return()
endif()

# ---- the end-to-end assertions on real data ----
if(NOT rc EQUAL 1)
  message(FATAL_ERROR "expected the gate to fail (exit 1) on poisoned data, got ${rc}")
endif()
foreach(f report.json manifest.json scores.csv flagged.csv)
  if(NOT EXISTS "${report}/${f}")
    message(FATAL_ERROR "missing ${report}/${f}")
  endif()
endforeach()
file(READ "${report}/report.json" json)
string(JSON verdict GET "${json}" gate verdict)
string(JSON code GET "${json}" gate exit_code)
if(NOT verdict STREQUAL "fail" OR NOT code EQUAL 1)
  message(FATAL_ERROR "report.json gate: verdict ${verdict}, exit_code ${code}")
endif()
string(JSON rows GET "${json}" input rows)
if(NOT rows EQUAL 60000)
  message(FATAL_ERROR "expected 60000 rows, report says ${rows}")
endif()
string(JSON n_attacks LENGTH "${json}" evaluation attacks)
math(EXPR last "${n_attacks} - 1")
set(seen "")
foreach(i RANGE ${last})
  string(JSON name GET "${json}" evaluation attacks ${i} attack)
  string(JSON auroc GET "${json}" evaluation attacks ${i} auroc)
  string(JSON recall GET "${json}" evaluation attacks ${i} recall)
  message(STATUS "  ${name}: recall ${recall}, AUROC ${auroc}")
  list(APPEND seen ${name})
  # The combined score alone must rank the random label flips high.
  if(name STREQUAL "random_flip" AND auroc LESS 0.95)
    message(FATAL_ERROR "random_flip AUROC ${auroc} < 0.95")
  endif()
  # Every exact duplicate with a conflicting label is flagged.
  if(name STREQUAL "duplicate_conflict" AND NOT recall EQUAL 1)
    message(FATAL_ERROR "duplicate_conflict recall ${recall} < 1")
  endif()
endforeach()
foreach(a random_flip targeted_flip badnets duplicate_conflict)
  if(NOT a IN_LIST seen)
    message(FATAL_ERROR "attack ${a} missing from the evaluation")
  endif()
endforeach()
string(JSON dup_high GET "${json}" detectors 2 by_severity high)
if(dup_high LESS 600)
  message(FATAL_ERROR "expected both rows of each of the 300 conflicting pairs at high severity, got ${dup_high}")
endif()
message(STATUS "Fashion-MNIST end-to-end checks passed")
