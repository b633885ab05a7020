#!/usr/bin/env bash
# C1 then C2 (docs/RESULTS.md). Each `btp run` resumes where it stopped if interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
for cfg in experiments/c1_teacher.yaml experiments/c2_self.yaml; do
  echo "== $(date -u +%FT%TZ) btp run $cfg"
  /usr/bin/time -f "wall %e s" .venv/bin/btp run "$cfg"
done
