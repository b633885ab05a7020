#!/usr/bin/env bash
# After run_claims.sh: the ablations of docs/RESULTS.md, seed 0 first, then beam vs sampling,
# then seeds 1 and 2. Each `btp run` resumes where it stopped if interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
while pgrep -f run_claims.sh > /dev/null; do sleep 20; done
run() { echo "== $(date -u +%FT%TZ) btp run $1"; /usr/bin/time -f "wall %e s" .venv/bin/btp run "$1"; }
for f in $(grep -- '-s0.yaml' experiments/ablations/ORDER); do run "experiments/ablations/$f"; done
run experiments/c2_sample.yaml
for s in 1 2; do
  for f in $(grep -- "-s$s.yaml" experiments/ablations/ORDER); do run "experiments/ablations/$f"; done
done
