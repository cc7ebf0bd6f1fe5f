#!/usr/bin/env bash
# Re-create the small generators shipped in ganlab/pretrained/ with `ganlab train`.
#
#   scripts/train_pretrained.sh              # all of them (15-30 minutes on 2 CPU cores)
#   scripts/train_pretrained.sh dcgan_digits32
#
# Each run is trained into runs/pretrained/<name> (resumed if it is already there), then
# ganlab.pretrained.export_pretrained keeps only G (ProGAN: its EMA copy) in float16 with the run's
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
  [dcgan_shapes64]="ganlab train dcgan --data shapes --resolution 64 --profile default --seed 0 --batch-size 32 --steps 1500 --lr-g 2e-4 --lr-d 2e-4 --ema 0"
  [progan_shapes32]="ganlab train progan --data shapes --resolution 32 --profile default --seed 0"
)
declare -A EMA=([dcgan_digits32]=1 [dcgan_shapes64]=1 [progan_shapes32]=1)  # DCGAN keeps no EMA
NAMES=("$@")
if [ ${#NAMES[@]} -eq 0 ]; then NAMES=(dcgan_digits32 dcgan_shapes64 progan_shapes32); fi

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
  "$PY" - "$out" "$name" "$cmd" "${EMA[$name]}" <<'EOF'
import sys

from ganlab.pretrained import export_pretrained

run_dir, name, command, ema = sys.argv[1:5]
path = export_pretrained(run_dir, name, command, ema=ema == "1")
print(f"   wrote {path} ({path.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
EOF
done
