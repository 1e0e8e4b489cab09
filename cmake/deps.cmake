# Builds the C libraries that fox links statically, once per target, from the Debian source trees
# that third_party/fetch-deps.sh put into third_party/. Nothing is downloaded here.
#
# Produces the targets fox_uv_lws (libuv + libwebsockets + mbedTLS), fox_sqlite3, fox::raft
# (+ fox::lz4, Debian's static libraries, not built here) and fox_deps (all of them).
include(ExternalProject)

set(FOX_TP "${CMAKE_SOURCE_DIR}/third_party")
foreach(dep libwebsockets libuv mbedtls sqlite)
  if(NOT EXISTS "${FOX_TP}/${dep}/.fox-fetched")
    message(FATAL_ERROR "third_party/${dep} is missing: run `make deps` (third_party/fetch-deps.sh) first")
  endif()
endforeach()

set(FOX_DEPS_PREFIX "${CMAKE_BINARY_DIR}/deps")
set(FOX_DEPS_INSTALL "${FOX_DEPS_PREFIX}/install")
file(MAKE_DIRECTORY "${FOX_DEPS_INSTALL}/include")

# fox's patches on a tree (third_party/patches/<dep>-*.patch) are applied by fetch-deps.sh, which
# leaves .fox-patch-<name> holding the patch's SHA-256 in the tree. A tree whose markers do not
# match the patches is refused (it would build without them); the patch set goes into a stamp
# file that the library's configure step depends on, so a changed patch set rebuilds the library
# (its inner build then recompiles the patched files). Patches and markers re-run this configure.
function(fox_dep_patch_stamp dep out_var)
  file(GLOB patches CONFIGURE_DEPENDS "${FOX_TP}/patches/${dep}-*.patch")
  set(state "")
  foreach(patch ${patches})
    get_filename_component(name "${patch}" NAME_WLE)
    set(marker "${FOX_TP}/${dep}/.fox-patch-${name}")
    file(SHA256 "${patch}" sum)
    set(applied "")
    if(EXISTS "${marker}")
      file(STRINGS "${marker}" applied LIMIT_COUNT 1)
    endif()
    if(NOT applied STREQUAL sum)
      message(FATAL_ERROR "third_party/${dep} lacks patches/${name}.patch (or has an older "
                          "version): run `make deps` (third_party/fetch-deps.sh) first")
    endif()
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${patch}" "${marker}")
    string(APPEND state "${sum} ${name}\n")
  endforeach()
  file(GLOB markers "${FOX_TP}/${dep}/.fox-patch-*")
  foreach(marker ${markers})
    get_filename_component(mname "${marker}" NAME)
    string(REGEX REPLACE "^\\.fox-patch-" "" mname "${mname}")
    if(NOT EXISTS "${FOX_TP}/patches/${mname}.patch")
      message(FATAL_ERROR "third_party/${dep} carries patches/${mname}.patch, which is gone: run "
                          "`make deps` (third_party/fetch-deps.sh) to fetch it afresh")
    endif()
  endforeach()
  set(stamp "${FOX_DEPS_PREFIX}/${dep}.patches")
  file(CONFIGURE OUTPUT "${stamp}" CONTENT "${state}")  # rewritten only when it changes
  set(${out_var} "${stamp}" PARENT_SCOPE)
endfunction()

# Arguments every sub-build gets: same compilers, same toolchain, size-optimised release.
set(fox_dep_cmake_args
  -DCMAKE_BUILD_TYPE=MinSizeRel
  -DCMAKE_INSTALL_PREFIX=${FOX_DEPS_INSTALL}
  -DCMAKE_INSTALL_LIBDIR=lib
  -DCMAKE_POSITION_INDEPENDENT_CODE=OFF
  -DCMAKE_C_FLAGS=${FOX_DEPS_C_FLAGS}
)
if(CMAKE_TOOLCHAIN_FILE)
  list(APPEND fox_dep_cmake_args -DCMAKE_TOOLCHAIN_FILE=${CMAKE_TOOLCHAIN_FILE})
endif()
if(CMAKE_C_COMPILER_LAUNCHER)
  list(APPEND fox_dep_cmake_args -DCMAKE_C_COMPILER_LAUNCHER=${CMAKE_C_COMPILER_LAUNCHER})
endif()

set(FOX_MBEDTLS_LIBS
  ${FOX_DEPS_INSTALL}/lib/libmbedtls.a
  ${FOX_DEPS_INSTALL}/lib/libmbedx509.a
  ${FOX_DEPS_INSTALL}/lib/libmbedcrypto.a)
ExternalProject_Add(dep_mbedtls
  SOURCE_DIR ${FOX_TP}/mbedtls
  BINARY_DIR ${FOX_DEPS_PREFIX}/mbedtls
  CMAKE_ARGS ${fox_dep_cmake_args}
    -DENABLE_PROGRAMS=OFF -DENABLE_TESTING=OFF -DMBEDTLS_FATAL_WARNINGS=OFF
    -DUSE_STATIC_MBEDTLS_LIBRARY=ON -DUSE_SHARED_MBEDTLS_LIBRARY=OFF
  BUILD_BYPRODUCTS ${FOX_MBEDTLS_LIBS}
  UPDATE_COMMAND "" DOWNLOAD_COMMAND "")

# libuv: only the static library (Debian names it libuv_a.a).
set(FOX_UV_LIB ${FOX_DEPS_PREFIX}/libuv/libuv_a.a)
ExternalProject_Add(dep_libuv
  SOURCE_DIR ${FOX_TP}/libuv
  BINARY_DIR ${FOX_DEPS_PREFIX}/libuv
  CMAKE_ARGS ${fox_dep_cmake_args} -DLIBUV_BUILD_TESTS=OFF -DLIBUV_BUILD_BENCH=OFF
  BUILD_COMMAND ${CMAKE_COMMAND} --build . --target uv_a
  INSTALL_COMMAND ""
  BUILD_BYPRODUCTS ${FOX_UV_LIB}
  UPDATE_COMMAND "" DOWNLOAD_COMMAND "")

# libwebsockets with libuv compiled in (no evlib plugins: those are dlopen()ed and break a static
# binary), mbedTLS as TLS, HTTP/1 + WebSocket roles only. LIST_SEPARATOR keeps the three mbedTLS
# libraries together (without it only the first reaches lws and wss crashes on armhf).
string(REPLACE ";" "|" fox_mbedtls_libs_sep "${FOX_MBEDTLS_LIBS}")
set(FOX_LWS_LIB ${FOX_DEPS_INSTALL}/lib/libwebsockets.a)
ExternalProject_Add(dep_lws
  DEPENDS dep_mbedtls dep_libuv
  SOURCE_DIR ${FOX_TP}/libwebsockets
  BINARY_DIR ${FOX_DEPS_PREFIX}/lws
  LIST_SEPARATOR |
  CMAKE_ARGS ${fox_dep_cmake_args}
    -DDISABLE_WERROR=ON
    -DLWS_WITH_STATIC=ON -DLWS_WITH_SHARED=OFF
    -DLWS_WITH_LIBUV=ON -DLWS_WITH_EVLIB_PLUGINS=OFF
    -DLWS_LIBUV_INCLUDE_DIRS=${FOX_TP}/libuv/include
    -DLWS_LIBUV_LIBRARIES=${FOX_UV_LIB}
    -DLWS_WITH_SSL=ON -DLWS_WITH_MBEDTLS=ON
    -DLWS_MBEDTLS_INCLUDE_DIRS=${FOX_DEPS_INSTALL}/include
    -DLWS_MBEDTLS_LIBRARIES=${fox_mbedtls_libs_sep}
    -DLWS_IPV6=ON -DLWS_WITH_HTTP2=OFF -DLWS_UNIX_SOCK=OFF
    -DLWS_WITHOUT_TESTAPPS=ON -DLWS_WITH_MINIMAL_EXAMPLES=OFF
    -DLWS_WITHOUT_TEST_SERVER=ON -DLWS_WITHOUT_TEST_SERVER_EXTPOLL=ON -DLWS_WITHOUT_TEST_CLIENT=ON
    -DLWS_WITHOUT_EXTENSIONS=ON -DLWS_WITH_ZLIB=OFF -DLWS_WITH_LEJP=OFF -DLWS_WITH_LEJP_CONF=OFF
    -DLWS_WITH_DIR=OFF -DLWS_WITH_CUSTOM_HEADERS=OFF -DLWS_WITH_SYS_SMD=OFF
    -DLWS_ROLE_RAW_FILE=OFF -DLWS_WITH_ZIP_FOPS=OFF -DLWS_SSL_CLIENT_USE_OS_CA_CERTS=OFF
  BUILD_BYPRODUCTS ${FOX_LWS_LIB}
  UPDATE_COMMAND "" DOWNLOAD_COMMAND "")

# SQLite: the amalgamation is generated from Debian's tree (needs tclsh and a host compiler; it is
# the same for every target), then compiled here with fox's compile options.
set(FOX_SQLITE_GEN ${FOX_DEPS_PREFIX}/sqlite-gen)
ExternalProject_Add(dep_sqlite_amalgamation
  SOURCE_DIR ${FOX_TP}/sqlite
  BINARY_DIR ${FOX_SQLITE_GEN}
  CONFIGURE_COMMAND env CC=cc CFLAGS=-O0 <SOURCE_DIR>/configure --disable-tcl --disable-readline --quiet
  BUILD_COMMAND make -s sqlite3.c
  INSTALL_COMMAND ""
  BUILD_BYPRODUCTS ${FOX_SQLITE_GEN}/sqlite3.c ${FOX_SQLITE_GEN}/sqlite3.h
  UPDATE_COMMAND "" DOWNLOAD_COMMAND "")
set_source_files_properties(${FOX_SQLITE_GEN}/sqlite3.c PROPERTIES GENERATED TRUE)
add_library(fox_sqlite3 STATIC ${FOX_SQLITE_GEN}/sqlite3.c)
add_dependencies(fox_sqlite3 dep_sqlite_amalgamation)
target_include_directories(fox_sqlite3 SYSTEM PUBLIC ${FOX_SQLITE_GEN})
target_compile_options(fox_sqlite3 PRIVATE -Os -w -fno-asynchronous-unwind-tables -fno-unwind-tables)
# One thread drives SQLite (the loop), no extensions (static glibc cannot dlopen), WAL by default.
target_compile_definitions(fox_sqlite3 PUBLIC
  SQLITE_THREADSAFE=0 SQLITE_OMIT_LOAD_EXTENSION SQLITE_DEFAULT_MEMSTATUS=0 SQLITE_DQS=0
  SQLITE_OMIT_DEPRECATED SQLITE_OMIT_SHARED_CACHE SQLITE_DEFAULT_WAL_SYNCHRONOUS=1
  SQLITE_LIKE_DOESNT_MATCH_BLOBS SQLITE_OMIT_PROGRESS_CALLBACK)

# A changed patch set of a tree reconfigures, and so rebuilds, the library built from it.
foreach(pair libwebsockets:dep_lws libuv:dep_libuv mbedtls:dep_mbedtls
             sqlite:dep_sqlite_amalgamation)
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 tree)
  list(GET pair 1 step_target)
  fox_dep_patch_stamp(${tree} stamp)
  ExternalProject_Add_StepDependencies(${step_target} configure ${stamp})
endforeach()

# libuv + libwebsockets (+ mbedTLS, which lws links): what net/ and cli/ use.
add_library(fox_uv_lws INTERFACE)
add_dependencies(fox_uv_lws dep_lws dep_libuv dep_mbedtls)
target_include_directories(fox_uv_lws SYSTEM INTERFACE
  ${FOX_DEPS_INSTALL}/include ${FOX_TP}/libuv/include)
target_link_libraries(fox_uv_lws INTERFACE ${FOX_LWS_LIB} ${FOX_UV_LIB} ${FOX_MBEDTLS_LIBS} pthread dl m)

# Everything (the unit tests).
add_library(fox_deps INTERFACE)
target_link_libraries(fox_deps INTERFACE fox_uv_lws fox_sqlite3)

# raft + lz4: Debian's own static libraries (libraft-dev, liblz4-dev). Debian's source package of
# raft is not on the package mirrors, so these two are not built here (third_party/README.md):
# the native build links the installed packages (/usr), a cross build the .debs that
# fetch-deps.sh unpacked into third_party/sysroot/<Debian architecture>/usr. libraft.a holds the
# core, raft_uv and the in-memory test fixture; only what is referenced is linked (the fox binary
# never references the fixture). raft_uv would also need libuv; nothing uses it yet.
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-multiarch
                OUTPUT_VARIABLE fox_multiarch OUTPUT_STRIP_TRAILING_WHITESPACE)
if(CMAKE_CROSSCOMPILING)
  if(fox_multiarch STREQUAL "aarch64-linux-gnu")
    set(fox_deb_arch arm64)
  elseif(fox_multiarch STREQUAL "arm-linux-gnueabihf")
    set(fox_deb_arch armhf)
  else()
    message(FATAL_ERROR "no Debian raft for the target ${fox_multiarch}")
  endif()
  set(FOX_RAFT_PREFIX "${FOX_TP}/sysroot/${fox_deb_arch}/usr")
  set(fox_raft_fix "`make deps` (third_party/fetch-deps.sh)")
else()
  set(FOX_RAFT_PREFIX /usr)
  set(fox_raft_fix "`make deps` (third_party/fetch-deps.sh), or apt-get install libraft-dev liblz4-dev")
endif()
set(FOX_RAFT_LIB "${FOX_RAFT_PREFIX}/lib/${fox_multiarch}/libraft.a")
set(FOX_LZ4_LIB "${FOX_RAFT_PREFIX}/lib/${fox_multiarch}/liblz4.a")
foreach(f ${FOX_RAFT_LIB} ${FOX_LZ4_LIB} ${FOX_RAFT_PREFIX}/include/raft.h ${FOX_RAFT_PREFIX}/include/lz4.h)
  if(NOT EXISTS "${f}")
    message(FATAL_ERROR "${f} is missing: run ${fox_raft_fix}")
  endif()
endforeach()
# raft 0.15 has no version function or macro: its version is the one its pkg-config file names.
file(STRINGS "${FOX_RAFT_PREFIX}/lib/${fox_multiarch}/pkgconfig/raft.pc" fox_raft_pc REGEX "^Version:")
string(REGEX REPLACE "^Version:[ \t]*" "" FOX_RAFT_VERSION "${fox_raft_pc}")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             "${FOX_RAFT_PREFIX}/lib/${fox_multiarch}/pkgconfig/raft.pc")
add_library(fox::lz4 STATIC IMPORTED GLOBAL)
set_target_properties(fox::lz4 PROPERTIES IMPORTED_LOCATION "${FOX_LZ4_LIB}")
# raft is linked without lz4: third_party/raft_lz4_off.c stands in for the lz4 frame API that
# raft's snapshot compression references (fox turns that compression off), which keeps lz4's
# ~114 KB of compressors out of the binary. Its objects go on every link line that has raft.
add_library(fox_raft_lz4_off OBJECT ${CMAKE_SOURCE_DIR}/third_party/raft_lz4_off.c)
if(CMAKE_CROSSCOMPILING)
  target_include_directories(fox_raft_lz4_off SYSTEM PRIVATE "${FOX_RAFT_PREFIX}/include")
endif()
add_library(fox::raft STATIC IMPORTED GLOBAL)
set_target_properties(fox::raft PROPERTIES IMPORTED_LOCATION "${FOX_RAFT_LIB}"
  INTERFACE_LINK_LIBRARIES "$<TARGET_OBJECTS:fox_raft_lz4_off>"
  INTERFACE_COMPILE_DEFINITIONS "FOX_RAFT_VERSION=\"${FOX_RAFT_VERSION}\"")
if(CMAKE_CROSSCOMPILING)
  # Only raft's and lz4's headers are there (never /usr/include of the build machine).
  set_target_properties(fox::raft PROPERTIES INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${FOX_RAFT_PREFIX}/include"
                                             INTERFACE_INCLUDE_DIRECTORIES "${FOX_RAFT_PREFIX}/include")
  set_target_properties(fox::lz4 PROPERTIES INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${FOX_RAFT_PREFIX}/include"
                                            INTERFACE_INCLUDE_DIRECTORIES "${FOX_RAFT_PREFIX}/include")
endif()
target_link_libraries(fox_deps INTERFACE fox::raft)
