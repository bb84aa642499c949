# Install-time script (see cmake/Install.cmake): writes the systemd unit and the sample
# configuration for the prefix being installed to. Expects STREAMER_PACKAGING_DIR (the
# templates) and STREAMER_GENERATED_DIR (scratch space in the build tree). Under the
# prefix /usr, configuration and state live in /etc/streamer and /var/lib/streamer
# (Debian layout); otherwise inside the prefix. DESTDIR is honoured by file(INSTALL).
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(_sysconf "/etc/streamer")
  set(STREAMER_STATE_DIR "/var/lib/streamer")
else()
  set(_sysconf "${CMAKE_INSTALL_PREFIX}/etc/streamer")
  set(STREAMER_STATE_DIR "${CMAKE_INSTALL_PREFIX}/var/lib/streamer")
endif()
set(STREAMER_BINARY "${CMAKE_INSTALL_PREFIX}/bin/streamer")
set(STREAMER_CONFIG_FILE "${_sysconf}/streamer.toml")
set(STREAMER_ENV_FILE "${_sysconf}/streamer.env")
set(STREAMER_DOC_DIR "${CMAKE_INSTALL_PREFIX}/share/doc/streamer")

string(MD5 _key "${CMAKE_INSTALL_PREFIX}")
set(_out "${STREAMER_GENERATED_DIR}/${_key}")
configure_file("${STREAMER_PACKAGING_DIR}/streamer.service.in" "${_out}/streamer.service" @ONLY)
configure_file("${STREAMER_PACKAGING_DIR}/streamer.toml.in" "${_out}/streamer.toml" @ONLY)

file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" TYPE FILE
     FILES "${_out}/streamer.service")
file(INSTALL DESTINATION "${_sysconf}" TYPE FILE FILES "${_out}/streamer.toml"
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
