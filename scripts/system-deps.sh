#!/usr/bin/env bash
# Install the Debian packages btp's sandbox needs, when missing and when we are allowed to.
set -u
# chromium: the report test renders btp's HTML page headless. The sandbox itself needs no package
# (it uses the kernel's user namespaces directly).
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "btp: missing Debian packages: ${need[*]} (install them: apt-get install -y ${need[*]})" >&2; exit 0; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || { $SUDO apt-get update -q >/dev/null 2>&1; $SUDO apt-get install -y -q "${need[@]}" >/dev/null; } || \
  echo "btp: could not install ${need[*]}; the sandbox will say what is missing" >&2
