#!/usr/bin/env bash
# Re-create the small generators shipped in ganlab/pretrained/ with `ganlab train`.
#
#   scripts/train_pretrained.sh              # all of them (about an hour and a half on 2 CPU cores)
#   scripts/train_pretrained.sh dcgan_digits32
#
# Each run is trained into runs/pretrained/<name> (resumed if it is already there), then
# ganlab.pretrained.export_pretrained keeps only G (its EMA copy where the run kept one) in float16 with the run's
# config, and records the exact command in ganlab/pretrained/manifest.json.
# OMP_NUM_THREADS=1 because on a small, busy CPU two OpenMP threads that wait for each other
# are several times slower than one; it changes only the speed. The results match the
# shipped files up to floating-point summation order, not bit for bit.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

declare -A COMMANDS=(
  [dcgan_digits32]="ganlab train dcgan --data digits --resolution 32 --profile default --seed 0 --steps 1500 --lr-g 2e-4 --lr-d 2e-4 --ema 0"
  [dcgan_mnist32]="ganlab train dcgan --data mnist-5k --resolution 32 --profile default --seed 0 --steps 10000 --lr-g 1e-3 --lr-d 5e-4 --ema 0.999"
  [dcgan_shapes64]="ganlab train dcgan --data shapes --resolution 64 --profile default --seed 0 --steps 7000 --lr-g 1e-3 --lr-d 5e-4 --ema 0.999"
  [r3gan_shapes32]="ganlab train r3gan --data shapes --resolution 32 --profile default --seed 0 --steps 7000 --ema 0.999"
  [progan_shapes32]="ganlab train progan --data shapes --resolution 32 --profile default --seed 0 --steps 27000 --loss least_squares --ema 0.999 --set arch.images_per_fade=32000 --set arch.images_per_stable=64000"
)
NAMES=("$@")
if [ ${#NAMES[@]} -eq 0 ]; then NAMES=(dcgan_digits32 dcgan_mnist32 dcgan_shapes64 progan_shapes32 r3gan_shapes32); fi

for name in "${NAMES[@]}"; do
  cmd="${COMMANDS[$name]:?unknown pretrained generator $name (choose: ${!COMMANDS[*]})}"
  out="runs/pretrained/$name"
  resume=()
  if [ -f "$out/config.json" ]; then resume=(--resume); fi
  echo "== $name: $cmd --out $out ${resume[*]}" >&2
  start=$(date +%s)
  # shellcheck disable=SC2086  # the command is split into words on purpose
  "$PY" -m ganlab ${cmd#ganlab } --out "$out" --no-progress "${resume[@]}"
  echo "   $(( $(date +%s) - start )) s" >&2
  "$PY" - "$out" "$name" "$cmd" <<'EOF'
import sys

from ganlab.pretrained import export_pretrained

run_dir, name, command = sys.argv[1:4]
path = export_pretrained(run_dir, name, command)  # G's EMA copy where the run kept one
print(f"   wrote {path} ({path.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
EOF
done
