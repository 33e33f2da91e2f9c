#!/usr/bin/env bash
# Install Debian packages for an optional part, never failing the caller:
#   bash scripts/apt_install.sh WHO FALLBACK PACKAGE...
# WHO names the caller in its one-line messages; FALLBACK says what happens without the packages.
# Needs root and apt-get; otherwise it says why and exits 0. Used by install_browser.sh and
# install_soundfonts.sh (each checks first whether its files are already there).
set -uo pipefail
who=$1
fallback=$2
shift 2
if [ "$(id -u)" != "0" ]; then
  echo "$who: not root; run 'sudo apt-get install -y $*' ($fallback)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "$who: no apt-get on this system ($fallback)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq && apt-get install -y -qq "$@" >/dev/null; then
  echo "$who: installed $*"
else
  echo "$who: apt-get install $* failed ($fallback)"
fi
exit 0
