# SPDX-License-Identifier: Apache-2.0
cmake_minimum_required(VERSION 3.25) # script mode: the project's policies apply
# Turns a data file into a C source defining `const char SYMBOL[]` (NUL-terminated) and its length.
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}" "/* Generated from ${IN}; do not edit. */\n#include <stddef.h>\n"
     "extern const char ${SYMBOL}[];\nextern const size_t ${SYMBOL}_len;\n"
     "const char ${SYMBOL}[] = {\n${bytes}0x00};\nconst size_t ${SYMBOL}_len = sizeof ${SYMBOL} - 1;\n")
