# SPDX-License-Identifier: Apache-2.0
# What `cmake --install` puts in place: the library (shared, with its SONAME, and static; the
# kernels of every ISA are inside), the public headers, assay.pc, the CMake package and the
# command-line tool with its man page and bash completion. docs/library.md says how to link.
include(CMakePackageConfigHelpers)

install(TARGETS assay_shared assay_static assay_cli
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT dev
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/assay DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/assay.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${PROJECT_BINARY_DIR}/assay.bash-completion
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME assay)

# The libraries the static library needs, as pkg-config modules (Debian ships a .pc for each
# but libcsv, which Libs.private names).
# hdf5-serial, not hdf5: with libhdf5-openmpi-dev installed, Debian points hdf5.pc at the MPI build.
set(ASSAY_PC_REQUIRES "openblas hdf5-serial libcrypto jansson yaml-0.1")
file(RELATIVE_PATH ASSAY_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" ASSAY_PC_TO_PREFIX "${ASSAY_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/assay.pc.in ${PROJECT_BINARY_DIR}/assay.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/assay.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The versioning rule of the public API (docs/library.md, "Versions"): while the major version
# is 0 an incompatible change bumps the minor version, so the SONAME and the CMake package's
# compatibility follow MAJOR.MINOR; from 1.0 they follow MAJOR.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(ASSAY_ABI_VERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  set(_compat SameMinorVersion)
else()
  set(ASSAY_ABI_VERSION ${PROJECT_VERSION_MAJOR})
  set(_compat SameMajorVersion)
endif()
set_target_properties(assay_shared PROPERTIES SOVERSION ${ASSAY_ABI_VERSION})
set(ASSAY_SONAME ${CMAKE_SHARED_LIBRARY_PREFIX}assay${CMAKE_SHARED_LIBRARY_SUFFIX}.${ASSAY_ABI_VERSION})
set(ASSAY_SHARED_FILE ${ASSAY_SONAME})
set(ASSAY_STATIC_FILE ${CMAKE_STATIC_LIBRARY_PREFIX}assay${CMAKE_STATIC_LIBRARY_SUFFIX})
set(_cmakedir ${CMAKE_INSTALL_LIBDIR}/cmake/assay)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/assayConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/assayConfig.cmake
                              INSTALL_DESTINATION ${_cmakedir}
                              PATH_VARS CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/assayConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY ${_compat})
install(FILES ${PROJECT_BINARY_DIR}/assayConfig.cmake ${PROJECT_BINARY_DIR}/assayConfigVersion.cmake
        DESTINATION ${_cmakedir})
