#!/usr/bin/env bash
# Set up videobgm in a virtual environment (.venv by default) on a fresh machine.
#   VIDEOBGM_VENV       where to put the venv (default: .venv)
#   VIDEOBGM_TORCH_SPEC torch requirement installed first (default: torch==2.13.0, a CPU wheel here;
#                       e.g. "torch==2.5.1 --index-url https://download.pytorch.org/whl/cu124" for a GPU)
#   VIDEOBGM_EXTRAS     pip extras (default: dev,bridge,ui,batch,browser,clip)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VIDEOBGM_VENV:-.venv}
TORCH_SPEC=${VIDEOBGM_TORCH_SPEC:-torch==2.13.0}
EXTRAS=${VIDEOBGM_EXTRAS:-dev,bridge,ui,batch,browser,clip}
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip
# torch first: a bare `torch` pulls a multi-GB CUDA build
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  # shellcheck disable=SC2086
  $PIP install -q $TORCH_SPEC
fi
$PIP install -q -e ".[${EXTRAS}]"
# tinysoundfont renders MIDI offline; its pyaudio dependency does not build and is not needed
$PIP install -q --no-deps tinysoundfont
# the image-text model's runtime (--clip-model): open_clip without its torchvision/timm (see
# pyproject's clip extra); its tokenizer's ftfy/regex come with the extra
case ",$EXTRAS," in
  *,clip,*) $PIP install -q --no-deps "open_clip_torch==3.3.0" ;;
esac
# better General MIDI banks (Debian packages) when root + apt-get; never fails the setup
bash scripts/install_soundfonts.sh || true
"$VENV/bin/python" -c "import torch, av, cv2, pretty_midi, tinysoundfont, pedalboard, pyloudnorm, videobgm" \
  || { echo "setup: import check failed" >&2; exit 1; }
echo "setup: ok ($VENV)"
