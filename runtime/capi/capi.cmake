# The C API (include/ingot/ingot.h) as libingot.so and libingot.a. Both are self-contained: the
# internal static libraries (runtime, format, CPU kernels, Lua scripting) are folded in, so an installed package
# needs nothing of ingot but these files. The shared library exports only the ingot_* functions.
add_library(ingot_capi_objects OBJECT
  ${CMAKE_CURRENT_LIST_DIR}/batch.cpp
  ${CMAKE_CURRENT_LIST_DIR}/boundary.cpp
  ${CMAKE_CURRENT_LIST_DIR}/chat.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model.cpp
  ${CMAKE_CURRENT_LIST_DIR}/perplexity.cpp
  ${CMAKE_CURRENT_LIST_DIR}/script.cpp
  ${CMAKE_CURRENT_LIST_DIR}/session.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tokens.cpp)
target_include_directories(ingot_capi_objects PUBLIC
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/runtime/include> $<INSTALL_INTERFACE:include>)
# runtime/ for "capi/boundary.h": the C API's own headers sit beside its sources.
target_include_directories(ingot_capi_objects PRIVATE ${PROJECT_SOURCE_DIR}/runtime)
target_link_libraries(ingot_capi_objects PRIVATE ingot_runtime ingot_scripting ingot_warnings)
set_target_properties(ingot_capi_objects PROPERTIES CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
target_compile_definitions(ingot_capi_objects PRIVATE INGOT_VERSION_STRING="${PROJECT_VERSION}")

# The system libraries the folded-in code calls (for the static library's users).
pkg_check_modules(INGOT_CAPI_DEPS REQUIRED IMPORTED_TARGET libxxhash libzstd openblas lua5.4)
find_package(OpenMP REQUIRED COMPONENTS CXX)

add_library(ingot_shared SHARED $<TARGET_OBJECTS:ingot_capi_objects>)
target_include_directories(ingot_shared PUBLIC
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/runtime/include> $<INSTALL_INTERFACE:include>)
target_link_libraries(ingot_shared PRIVATE ingot_scripting ingot_runtime)
# Symbols of the folded-in archives stay inside the library.
target_link_options(ingot_shared PRIVATE -Wl,--exclude-libs,ALL -Wl,--no-undefined)
set_target_properties(ingot_shared PROPERTIES OUTPUT_NAME ingot EXPORT_NAME runtime_shared
                      VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})

add_library(ingot_static STATIC
  $<TARGET_OBJECTS:ingot_capi_objects>
  $<TARGET_OBJECTS:ingot_runtime>
  $<TARGET_OBJECTS:ingot_scripting>
  $<TARGET_OBJECTS:ingot_format>
  $<TARGET_OBJECTS:ingot_kernels_cpu>)
target_include_directories(ingot_static PUBLIC
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/runtime/include> $<INSTALL_INTERFACE:include>)
target_link_libraries(ingot_static INTERFACE PkgConfig::INGOT_CAPI_DEPS OpenMP::OpenMP_CXX)
# libingot.a holds C++ code: C programs linking it need the C++ runtime.
target_link_libraries(ingot_static INTERFACE $<$<NOT:$<LINK_LANGUAGE:CXX>>:stdc++> $<$<NOT:$<LINK_LANGUAGE:CXX>>:m>)
set_target_properties(ingot_static PROPERTIES OUTPUT_NAME ingot EXPORT_NAME runtime_static)
# A CUDA build's runtime objects hold the CUDA backend: the archive carries its kernels too, and
# its users link the static CUDA runtime (no libcudart.so path to find at run time).
# (ingot.pc says the same: cmake/install.cmake.)
if(INGOT_HAVE_CUDA)
  target_sources(ingot_static PRIVATE $<TARGET_OBJECTS:ingot_kernels_cuda>)
  target_link_libraries(ingot_static INTERFACE $<BUILD_INTERFACE:CUDA::cudart_static>
                        $<INSTALL_INTERFACE:${CUDA_cudart_static_LIBRARY}> dl rt pthread)
endif()
add_dependencies(ingot_static ingot_format_schema ingot_scripting)
