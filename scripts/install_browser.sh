#!/usr/bin/env bash
# Install Debian's chromium for the browser test (tests/test_ui_browser.py, marker `browser`).
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
if [ "$(id -u)" != "0" ]; then
  echo "install_browser: no chromium and not root; run 'sudo apt-get install -y chromium' (browser test will skip)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_browser: no chromium and no apt-get on this system (browser test will skip)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq && apt-get install -y -qq chromium >/dev/null; then
  echo "install_browser: installed $(command -v chromium)"
else
  echo "install_browser: apt-get install chromium failed (browser test will skip)"
fi
exit 0
