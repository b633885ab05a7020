#!/usr/bin/env bash
# What produced docs/RESULTS.md's claims, in order (each `btp run` resumes if interrupted):
#  1. experiments/c1_teacher_100.yaml: the baseline evaluation (round 0); stopped during teacher sampling.
#  2. experiments/c1_teacher.yaml (C1, 50 tasks, continues from 1.'s buffer) and
#     experiments/c2_self.yaml (C2) side by side, one torch thread each (2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
run() { echo "== $(date -u +%FT%TZ) btp run $1"; /usr/bin/time -f "wall %e s" .venv/bin/btp run "$1"; }
if ! grep -q '"eval:0"' runs/c1_teacher/state.json 2>/dev/null; then
  # round 0 only: stop it once it starts sampling (state.json then holds eval:0)
  run experiments/c1_teacher_100.yaml > runs/c1_100.log 2>&1 &
  until grep -q '"eval:0"' runs/c1_teacher/state.json 2>/dev/null; do sleep 20; done
  kill %1 || true
fi
export OMP_NUM_THREADS=1
run experiments/c1_teacher.yaml > runs/c1.log 2>&1 &
run experiments/c2_self.yaml > runs/c2.log 2>&1 &
wait
