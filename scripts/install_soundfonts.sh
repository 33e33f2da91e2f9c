#!/usr/bin/env bash
# Install Debian's General MIDI banks for rendering: fluid-soundfont-gm (FluidR3_GM.sf2, MIT) and
# musescore-general-soundfont-small (MuseScore_General_Lite.sf3, MIT). The renderer picks the best
# bank present (a user --soundfont, MuseScore General, FluidR3_GM, then the TimGM6mb bank inside
# the pretty_midi wheel); see README "Sound".
# Idempotent: does nothing when both banks are there. Needs root (apt-get); otherwise it says why
# and exits 0 (rendering then uses TimGM6mb). Never fails the setup.
set -uo pipefail
FLUID=/usr/share/sounds/sf2/FluidR3_GM.sf2
MUSE=/usr/share/sounds/sf3/MuseScore_General.sf3
if [ -f "$FLUID" ] && [ -f "$MUSE" ]; then
  echo "install_soundfonts: $MUSE and $FLUID present"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "install_soundfonts: not root; run 'sudo apt-get install -y fluid-soundfont-gm musescore-general-soundfont-small' for better sound (rendering uses TimGM6mb)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_soundfonts: no apt-get on this system; rendering uses TimGM6mb (give another bank with --soundfont)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq && apt-get install -y -qq fluid-soundfont-gm musescore-general-soundfont-small >/dev/null; then
  echo "install_soundfonts: installed $FLUID and $MUSE"
else
  echo "install_soundfonts: apt-get install failed; rendering uses TimGM6mb"
fi
exit 0
