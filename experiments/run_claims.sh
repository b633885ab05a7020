#!/usr/bin/env bash
# C1 and C2 (docs/RESULTS.md), side by side with one torch thread each (2 cores). Each `btp run`
# resumes where it stopped if interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
run() { echo "== $(date -u +%FT%TZ) btp run $1"; /usr/bin/time -f "wall %e s" .venv/bin/btp run "$1"; }
run experiments/c1_teacher.yaml > runs/c1.log 2>&1 &
run experiments/c2_self.yaml > runs/c2.log 2>&1 &
wait
