# SPDX-License-Identifier: Apache-2.0
cmake_minimum_required(VERSION 3.25) # script mode: the project's policies apply
# A page shows a file that a test runs (a workflow, a script): the page must hold the file's text
# word for word, so what readers copy is what was tested.
#   cmake -DPAGE=README.md -DFILE=examples/snakemake/Snakefile -P page_holds_file.cmake
file(READ "${PAGE}" page)
file(READ "${FILE}" text)
string(FIND "${page}" "${text}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${PAGE} does not show ${FILE} as it is: copy the file into the page")
endif()
message(STATUS "${PAGE} shows ${FILE}")
