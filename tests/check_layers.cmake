# SPDX-License-Identifier: Apache-2.0
cmake_minimum_required(VERSION 3.25) # script mode: the project's policies apply
# The layers point down at link level too (the include roots of src/CMakeLists.txt already make
# a backward #include fail to compile): every assay_/assay__ symbol a layer's objects call must be
# defined by that layer or one below it, and the command-line tool calls no assay__ (private)
# symbol at all.
#   cmake -DNM=nm -DLAYERS="kernels|core|..." -DOBJECTS_<layer>="a.o|b.o" -DCLI="x.o|y.o"
#         -P check_layers.cmake
if(NOT NM OR NOT LAYERS)
  message(FATAL_ERROR "usage: -DNM=... -DLAYERS=... -DOBJECTS_<layer>=... -DCLI=...")
endif()
string(REPLACE "|" ";" LAYERS "${LAYERS}")

# The assay symbols the objects (a |-separated list) define (mode "defined") or call ("undefined").
function(assay_symbols objects mode out)
  string(REPLACE "|" ";" objs "${objects}")
  if(mode STREQUAL "defined")
    set(flag --defined-only)
  else()
    set(flag --undefined-only)
  endif()
  execute_process(COMMAND ${NM} ${flag} --extern-only --no-sort ${objs} OUTPUT_VARIABLE text
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${objs}")
  endif()
  string(REGEX MATCHALL "[ \t][A-Za-z][ \t]assay_[A-Za-z0-9_]*" hits "${text}")
  set(names "")
  foreach(h IN LISTS hits)
    string(REGEX REPLACE "^.*[ \t]" "" name "${h}")
    list(APPEND names ${name})
  endforeach()
  list(REMOVE_DUPLICATES names)
  set(${out} ${names} PARENT_SCOPE)
endfunction()

# Which layer defines each symbol.
foreach(layer IN LISTS LAYERS)
  assay_symbols("${OBJECTS_${layer}}" defined defs)
  foreach(sym IN LISTS defs)
    set(owner_${sym} ${layer})
  endforeach()
endforeach()

set(errors "")
set(below "")
foreach(layer IN LISTS LAYERS)
  list(APPEND below ${layer})
  assay_symbols("${OBJECTS_${layer}}" undefined calls)
  foreach(sym IN LISTS calls)
    if(NOT DEFINED owner_${sym})
      string(APPEND errors "  ${layer} calls ${sym}, which no layer defines\n")
    elseif(NOT owner_${sym} IN_LIST below)
      string(APPEND errors "  ${layer} calls ${sym} of ${owner_${sym}}, a layer above it\n")
    endif()
  endforeach()
endforeach()

assay_symbols("${CLI}" undefined cli_calls)
foreach(sym IN LISTS cli_calls)
  if(sym MATCHES "^assay__")
    string(APPEND errors "  the command-line tool calls the private ${sym}\n")
  endif()
endforeach()

if(errors)
  message(FATAL_ERROR "calls that point up the layers (docs/architecture.md):\n${errors}")
endif()
list(LENGTH LAYERS n)
message(STATUS "${n} layers call only themselves and the layers below; the CLI only the public API")
