# hvkit_library(NAME <target> EXPORT_NAME <name> SOURCES ... DEPENDS ...)
# A library whose public headers (include/**.hpp) are its HEADERS file set, with an hvkit:: alias and
# an install/export rule. GSL is a build-only dependency: no installed header includes it (the test
# command checks), so a consumer's find_package(hvkit) does not need GSL installed.
function(hvkit_library target)
  cmake_parse_arguments(ARG "" "EXPORT_NAME" "SOURCES;DEPENDS" ${ARGN})
  add_library(${target} ${ARG_SOURCES})
  add_library(hvkit::${ARG_EXPORT_NAME} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${ARG_EXPORT_NAME} OUTPUT_NAME hvkit_${ARG_EXPORT_NAME})
  file(GLOB_RECURSE headers CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/include/*.hpp)
  target_sources(${target} PUBLIC FILE_SET HEADERS BASE_DIRS ${CMAKE_CURRENT_SOURCE_DIR}/include FILES ${headers})
  target_link_libraries(${target} PUBLIC ${ARG_DEPENDS} PRIVATE $<BUILD_INTERFACE:Microsoft.GSL::GSL>)
  target_compile_features(${target} PUBLIC cxx_std_20)
  install(TARGETS ${target} EXPORT hvkitTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    FILE_SET HEADERS DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()

# hvkit_gtest(<target> SOURCES ... DEPENDS ... [LABELS ...])
# A GoogleTest binary whose cases CTest lists one by one; GTEST_SKIP shows as "skipped", never "passed".
# LABELS go on every case. `concurrency`: the cases the tsan preset runs (`ctest --preset tsan`); the
# executable joins the `concurrency_tests` target, which is what the test command builds under TSan.
function(hvkit_gtest target)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS;LABELS" ${ARGN})
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE ${ARG_DEPENDS} GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${target}
    DISCOVERY_TIMEOUT 60
    PROPERTIES SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]" TIMEOUT 120 LABELS "${ARG_LABELS}")
  if("concurrency" IN_LIST ARG_LABELS)
    add_dependencies(concurrency_tests ${target})
  endif()
endfunction()

# hvkit_fuzzer(<target> SOURCES ... DEPENDS ...)
# A libFuzzer binary; its seed corpus lives in corpus/<target without _fuzz> beside the sources.
function(hvkit_fuzzer target)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS" ${ARGN})
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE ${ARG_DEPENDS})
  target_link_options(${target} PRIVATE -fsanitize=fuzzer)
endfunction()

# hvkit_embed_guests(<target> DIR <guest dir> INCLUDES <files...>)
# Assembles every <guest dir>/*.S with GNU as, links it at 0x1000 into a flat binary, and adds to
# <target> an object that .incbin's them all. <target> gets a generated "guest_images_table.inc" on its
# include path declaring `const GuestImageEntry kGuestImages[]` = {name, bytes} (the includer defines
# GuestImageEntry with a string_view `name` and a span<const uint8_t> `bytes`).
function(hvkit_embed_guests target)
  cmake_parse_arguments(ARG "" "DIR" "INCLUDES" ${ARGN})
  find_program(HVKIT_GNU_AS NAMES as REQUIRED)
  find_program(HVKIT_GNU_LD NAMES ld.bfd ld REQUIRED)
  file(GLOB sources CONFIGURE_DEPENDS ${ARG_DIR}/*.S)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${target}_guests)
  file(MAKE_DIRECTORY ${out})
  set(incbin "")
  set(declarations "")
  set(table "")
  set(binaries "")
  foreach(source ${sources})
    get_filename_component(name ${source} NAME_WE)
    set(binary ${out}/${name}.bin)
    add_custom_command(OUTPUT ${binary}
      COMMAND ${HVKIT_GNU_AS} --64 -I ${ARG_DIR} -o ${out}/${name}.o ${source}
      COMMAND ${HVKIT_GNU_LD} -m elf_x86_64 -Ttext=0x1000 -e _start --oformat=binary -o ${binary} ${out}/${name}.o
      DEPENDS ${source} ${ARG_INCLUDES}
      COMMENT "Assembling guest ${name}")
    list(APPEND binaries ${binary})
    string(APPEND incbin "  .globl hvguest_${target}_${name}_begin, hvguest_${target}_${name}_end\n  .balign 16\nhvguest_${target}_${name}_begin:\n  .incbin \"${binary}\"\nhvguest_${target}_${name}_end:\n")
    string(APPEND declarations "extern \"C\" const std::uint8_t hvguest_${target}_${name}_begin[], hvguest_${target}_${name}_end[];\n")
    string(APPEND table "    {\"${name}\", {hvguest_${target}_${name}_begin, hvguest_${target}_${name}_end}},\n")
  endforeach()
  file(WRITE ${out}/guest_images.S.in "  .section .rodata\n${incbin}  .section .note.GNU-stack,\"\",@progbits\n")
  configure_file(${out}/guest_images.S.in ${out}/guest_images.S COPYONLY)
  file(WRITE ${out}/guest_images_table.inc.in "${declarations}\nconst GuestImageEntry kGuestImages[] = {\n${table}};\n")
  configure_file(${out}/guest_images_table.inc.in ${out}/guest_images_table.inc COPYONLY)
  set_source_files_properties(${out}/guest_images.S PROPERTIES OBJECT_DEPENDS "${binaries}" LANGUAGE ASM)
  target_sources(${target} PRIVATE ${out}/guest_images.S)
  target_include_directories(${target} PRIVATE ${out})
endfunction()
