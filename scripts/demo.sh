#!/usr/bin/env bash
# Set up (idempotent) and score a sample video: writes out/demo.mp4 (+ MIDI, WAV, plan).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${VIDEOBGM_VENV:-.venv}
SAMPLE=${1:-../shared/videos/bigbuckbunny.mp4}
if [ ! -f "$SAMPLE" ]; then
  echo "demo: $SAMPLE not found; making a synthetic sample" >&2
  mkdir -p out
  "$VENV/bin/python" -m videobgm.testing.synthetic_videos out/sample.mp4
  SAMPLE=out/sample.mp4
fi
mkdir -p out
"$VENV/bin/videobgm" score "$SAMPLE" -o out/demo.mp4 --midi out/demo.mid --wav out/demo.wav --plan out/demo.plan.json
echo "demo: wrote out/demo.mp4"
