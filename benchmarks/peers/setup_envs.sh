#!/usr/bin/env bash
# Creates one virtual environment per peer under benchmarks/peers/.venvs/ (gitignored).
#
# Each takes minutes and ~1.5 GB; never part of the test suite or CI. Every install goes through
# constraints.txt, whose torch==2.13.0 pin takes the CPU wheel already on the development
# machines' disk (any other torch release downloads several GB), so a peer whose own pins
# reject torch 2.13 fails here instead of silently pulling another torch.
#
# Usage: benchmarks/peers/setup_envs.sh [joeynmt] [darts] [neuralforecast]   (default: all three)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENVS="$HERE/.venvs"
PYTHON="${PYTHON:-python3}"

# Peer versions measured in issue 9; each resolves with torch 2.13.0 (checked with --dry-run).
# JoeyNMT imports importlib_metadata without declaring it.
declare -A SPECS=(
  [joeynmt]="joeynmt==2.3.0 importlib_metadata"
  [darts]="darts[torch]==0.48.0"
  [neuralforecast]="neuralforecast==3.3.0"
)

peers=("$@")
[ ${#peers[@]} -eq 0 ] && peers=(joeynmt darts neuralforecast)

for peer in "${peers[@]}"; do
  spec="${SPECS[$peer]:-}"
  if [ -z "$spec" ]; then
    echo "expected a peer among: ${!SPECS[*]}, got '$peer'" >&2
    exit 2
  fi
  venv="$VENVS/$peer"
  if [ -f "$venv/.installed" ]; then
    echo "$peer: $venv already set up"
    continue
  fi
  echo "$peer: creating $venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  # shellcheck disable=SC2086  # $spec is a list of requirement strings
  "$venv/bin/python" -m pip install --quiet -c "$ROOT/constraints.txt" $spec
  "$venv/bin/python" -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
  touch "$venv/.installed"
  echo "$peer: done ($(du -sh "$venv" | cut -f1))"
done
