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
bash "$(dirname "$0")/apt_install.sh" install_soundfonts \
  "rendering uses TimGM6mb; give another bank with --soundfont" \
  fluid-soundfont-gm musescore-general-soundfont-small
