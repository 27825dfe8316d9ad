# `cmake --install`: libingot (shared and static), the headers, ingotc and ingot, the CMake package
# (find_package(ingot CONFIG): ingot::runtime, ingot::ingotc, ingot_compile_model()) and ingot.pc.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(INGOT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ingot)
set_target_properties(ingotc PROPERTIES EXPORT_NAME ingotc)
set_target_properties(ingot PROPERTIES EXPORT_NAME cli)
install(TARGETS ingot_shared ingot_static ingotc ingot EXPORT ingotTargets
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/runtime/include/ingot/ingot.h ${PROJECT_SOURCE_DIR}/runtime/include/ingot/ingot.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ingot)
install(EXPORT ingotTargets NAMESPACE ingot:: DESTINATION ${INGOT_CMAKE_DIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/ingotConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/package/ingotConfig.cmake INSTALL_DESTINATION ${INGOT_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/package/ingotConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/package/ingotConfig.cmake ${PROJECT_BINARY_DIR}/package/ingotConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/IngotCompileModel.cmake
        DESTINATION ${INGOT_CMAKE_DIR})

# A CUDA build's libingot.a needs the static CUDA runtime (runtime/capi/capi.cmake).
set(INGOT_PC_CUDA_LIBS "")
if(INGOT_HAVE_CUDA)
  set(INGOT_PC_CUDA_LIBS " -L${CUDAToolkit_LIBRARY_DIR} -lcudart_static -ldl -lrt -lpthread")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/ingot.pc.in ${PROJECT_BINARY_DIR}/package/ingot.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/package/ingot.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
