#!/usr/bin/env bash
# Runs the ablations of docs/RESULTS.md (experiments/ablations/*.yaml, made by make_ablations.py):
# seed 0 of every variant first (most informative first), then seeds 1 and 2. Several copies may
# run at once (one per free core): each claims a config by creating runs/abl/.claims/NAME.
# Usage: experiments/ablation_queue.sh [PID to wait for first]. One torch thread per run.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
if [ -n "${1:-}" ]; then while kill -0 "$1" 2>/dev/null; do sleep 15; done; fi
until grep -q '"sample:1"' runs/c1_teacher50/state.json 2>/dev/null; do sleep 20; done
mkdir -p runs/abl/.claims
for s in 0 1 2; do
  for v in alpha0 alpha0.5 alpha1 uniform pass_only rank alpha0.25 alpha0.75; do
    name="$v-s$s"
    mkdir "runs/abl/.claims/$name" 2>/dev/null || continue
    echo "== $(date -u +%FT%TZ) btp run experiments/ablations/$name.yaml"
    /usr/bin/time -f "wall %e s" .venv/bin/btp run "experiments/ablations/$name.yaml"
  done
done
