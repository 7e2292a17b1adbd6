# SPDX-License-Identifier: Apache-2.0
cmake_minimum_required(VERSION 3.25) # script mode: the project's policies apply
# A generated block kept inside a hand-written page, between "<!-- NAME:begin -->" and
# "<!-- NAME:end -->": MODE=write puts the output of COMMAND there, MODE=check fails when the
# page holds something else (then: cmake --build BUILD --target regenerate).
#   cmake -DFILE=page.md -DNAME=descriptors -DCOMMAND=program [-DARGS=arg] -DMODE=write|check -P splice_block.cmake
execute_process(COMMAND ${COMMAND} ${ARGS} OUTPUT_VARIABLE generated RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${COMMAND} failed (${rc})")
endif()
file(READ ${FILE} page)
set(begin "<!-- ${NAME}:begin -->\n")
set(end "<!-- ${NAME}:end -->")
string(FIND "${page}" "${begin}" b)
string(FIND "${page}" "${end}" e)
if(b EQUAL -1 OR e EQUAL -1 OR e LESS b)
  message(FATAL_ERROR "${FILE} has no block between ${begin} and ${end}")
endif()
string(LENGTH "${begin}" lb)
math(EXPR start "${b} + ${lb}")
math(EXPR len "${e} - ${start}")
string(SUBSTRING "${page}" ${start} ${len} current)
if(MODE STREQUAL "write")
  string(SUBSTRING "${page}" 0 ${start} head)
  string(SUBSTRING "${page}" ${e} -1 tail)
  file(WRITE ${FILE} "${head}${generated}${tail}")
elseif(NOT current STREQUAL generated)
  message(FATAL_ERROR "${FILE}: the ${NAME} block is not what ${COMMAND} prints; run "
                      "cmake --build BUILD --target regenerate")
else()
  message(STATUS "${FILE}: the ${NAME} block is current")
endif()
