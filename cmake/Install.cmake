# Installation (`cmake --install build --prefix DIR`, `make install PREFIX=DIR`) and the
# Debian package (`cpack -G DEB` in the build tree, `make package`).
#
# Installed: bin/streamer (no RUNPATH: it links only system libraries), the systemd unit
# lib/systemd/system/streamer.service, a sample configuration etc/streamer/streamer.toml
# and the documentation share/doc/streamer/. Under the prefix /usr (the package) the
# configuration goes to /etc/streamer and the data to /var/lib/streamer; under any other
# prefix both stay inside it (PREFIX/etc/streamer, PREFIX/var/lib/streamer).
include(GNUInstallDirs)

set_target_properties(streamer PROPERTIES INSTALL_RPATH "" BUILD_WITH_INSTALL_RPATH OFF)
install(TARGETS streamer RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The unit and the sample configuration name absolute paths that depend on the prefix
# chosen at install time, so they are generated then (cmake/InstallSystemFiles.cmake).
install(CODE "
  set(STREAMER_PACKAGING_DIR \"${CMAKE_SOURCE_DIR}/packaging\")
  set(STREAMER_GENERATED_DIR \"${CMAKE_BINARY_DIR}/packaging\")
  include(\"${CMAKE_SOURCE_DIR}/cmake/InstallSystemFiles.cmake\")
")

file(GLOB STREAMER_DOCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/docs/*.md)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${STREAMER_DOCS} DESTINATION ${CMAKE_INSTALL_DOCDIR})

# ---- Debian package ----------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME streamer)
set(CPACK_PACKAGE_VENDOR "Streamer")
set(CPACK_PACKAGE_CONTACT "Streamer maintainers <streamer@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Server for long-running requests over WebSockets")
set(CPACK_PACKAGE_DESCRIPTION "Clients connect with a JWT and send requests; short actions are \
answered at once, long ones are stored durably (SQLite), run by workers, stream progress \
and end with exactly one result or error, across disconnects, crashes and restarts.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Install with DESTDIR into the staging tree, so the install script sees the real prefix
# (/usr) and puts the configuration in /etc.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Shared libraries: found by dpkg-shlibdeps from the binary's NEEDED entries. Fonts:
# the PDF reports are typeset in DejaVu Sans (Pango), which no library pulls in.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "fonts-dejavu-core")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_SOURCE_DIR}/packaging/debian/conffiles)
include(CPack)
