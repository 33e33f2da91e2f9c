#!/usr/bin/env bash
# Install Debian's chromium for the browser test (tests/apps/ui/test_app_browser.py, marker `browser`).
# Playwright drives it via executable_path; it never downloads its own browser.
# Idempotent: does nothing when a chromium binary is already there. Needs root (apt-get);
# otherwise it says why and exits 0, and the browser test skips with the same reason.
set -uo pipefail
for b in chromium chromium-browser; do
  if command -v "$b" >/dev/null 2>&1; then
    echo "install_browser: $(command -v "$b") present"
    exit 0
  fi
done
bash "$(dirname "$0")/apt_install.sh" install_browser "the browser test will skip" chromium
