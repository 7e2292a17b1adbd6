# SPDX-License-Identifier: Apache-2.0
cmake_minimum_required(VERSION 3.25) # script mode: the project's policies apply
# CI must run the README's test command word for word: the command line in .ci/run has to appear
# in README.md, and the README's demo command must use the demo workflow.
file(READ "${SRC}/.ci/run" ci)
file(READ "${SRC}/README.md" readme)
string(REGEX MATCH "apt-get update[^\n]*" cmd "${ci}")
if(cmd STREQUAL "")
  message(FATAL_ERROR ".ci/run has no 'apt-get update ...' command line")
endif()
string(FIND "${readme}" "${cmd}" pos)
if(pos EQUAL -1)
  message(FATAL_ERROR "README.md does not contain the command .ci/run runs:\n${cmd}")
endif()
string(FIND "${readme}" "cmake --workflow --preset demo" demo)
if(demo EQUAL -1)
  message(FATAL_ERROR "README.md has no demo command")
endif()
message(STATUS "README and .ci/run agree: ${cmd}")
