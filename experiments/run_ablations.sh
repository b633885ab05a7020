#!/usr/bin/env bash
# The ablations of docs/RESULTS.md on C1's buffer: waits until C1 has sampled and tested it, then
# runs seed 0 of every variant (most informative first), then seeds 1 and 2. One torch thread, so
# it can share the 2 cores with C1/C2. Each `btp run` resumes where it stopped if interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
until grep -q '"sample:1"' runs/c1_teacher50/state.json 2>/dev/null; do sleep 20; done
run() { echo "== $(date -u +%FT%TZ) btp run $1"; /usr/bin/time -f "wall %e s" .venv/bin/btp run "$1"; }
for s in 0 1 2; do
  for v in alpha0 alpha0.5 alpha1 uniform pass_only rank alpha0.25 alpha0.75; do
    run "experiments/ablations/$v-s$s.yaml"
  done
done
