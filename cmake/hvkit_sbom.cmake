# The build's SBOM: ${CMAKE_BINARY_DIR}/hvkit-sbom.spdx.json, an SPDX 2.3 list of the exact Debian
# packages (compiler, linked libraries, headers, build tools, scripts/setup.sh's list) this build used,
# installed to ${CMAKE_INSTALL_DOCDIR} (share/doc/hvkit) for dependency audits. See SECURITY.md.
#
# Include from the top-level CMakeLists.txt, after project():   include(cmake/hvkit_sbom.cmake)
#
# It is written when the build runs, not at configure time, so it reports the machine that compiled
# the binaries; it is rewritten when dpkg's database changes (a package installed, upgraded or
# removed), when the generator or setup.sh's list changes, or when the compiler changes. Without
# dpkg-query (not a Debian system) there is no SBOM, and configure says so.

option(HVKIT_SBOM "Write an SPDX 2.3 SBOM of the Debian packages the build uses" ${PROJECT_IS_TOP_LEVEL})

if(HVKIT_SBOM)
  find_program(HVKIT_DPKG_QUERY dpkg-query)
  find_program(HVKIT_BASH bash)
  if(NOT HVKIT_DPKG_QUERY OR NOT HVKIT_BASH)
    message(STATUS "hvkit SBOM: not written (needs dpkg-query and bash: a Debian system)")
  else()
    include(GNUInstallDirs)
    cmake_path(GET CMAKE_CURRENT_LIST_DIR PARENT_PATH _hvkit_sbom_root)
    set(HVKIT_SBOM_FILE ${CMAKE_BINARY_DIR}/hvkit-sbom.spdx.json)

    # The programs this build runs; sbom.sh lists the package that owns each. Space-separated: one
    # environment value, not a CMake list that the command line would split.
    set(_hvkit_sbom_tools ${CMAKE_CXX_COMPILER} ${CMAKE_ASM_COMPILER} ${CMAKE_AR} ${CMAKE_RANLIB} ${CMAKE_LINKER}
        ${CMAKE_MAKE_PROGRAM} ${CMAKE_COMMAND} as ld)
    list(REMOVE_DUPLICATES _hvkit_sbom_tools)
    list(JOIN _hvkit_sbom_tools " " _hvkit_sbom_tools)

    set(_hvkit_sbom_inputs
      ${_hvkit_sbom_root}/scripts/sbom.sh
      ${_hvkit_sbom_root}/scripts/setup.sh
      ${_hvkit_sbom_root}/CMakeLists.txt  # the version
      ${CMAKE_CXX_COMPILER})
    if(EXISTS /var/lib/dpkg/status)
      list(APPEND _hvkit_sbom_inputs /var/lib/dpkg/status)  # changes with every package change
    endif()

    add_custom_command(
      OUTPUT ${HVKIT_SBOM_FILE}
      COMMAND ${CMAKE_COMMAND} -E env
              "HVKIT_SBOM_CXX=${CMAKE_CXX_COMPILER}"
              "HVKIT_SBOM_TOOLS=${_hvkit_sbom_tools}"
              ${HVKIT_BASH} ${_hvkit_sbom_root}/scripts/sbom.sh ${HVKIT_SBOM_FILE}
      DEPENDS ${_hvkit_sbom_inputs}
      COMMENT "Writing the SBOM of the Debian packages this build uses (hvkit-sbom.spdx.json)"
      VERBATIM)
    add_custom_target(hvkit_sbom ALL DEPENDS ${HVKIT_SBOM_FILE})
    install(FILES ${HVKIT_SBOM_FILE} DESTINATION ${CMAKE_INSTALL_DOCDIR})

    if(BUILD_TESTING OR HVKIT_BUILD_TESTS)
      # The document the build wrote is one an SPDX 2.3 tool accepts (cmake/check_sbom.cmake).
      add_test(NAME hvkit_sbom_valid
               COMMAND ${CMAKE_COMMAND} -DSBOM=${HVKIT_SBOM_FILE} -P ${_hvkit_sbom_root}/cmake/check_sbom.cmake)
    endif()
  endif()
endif()
