#!/usr/bin/env bash
# Beam search vs sampling at equal program count (docs/RESULTS.md): two self-improvement runs that
# differ only in sampling.method. Usage: experiments/beam_vs_sample.sh [PID to wait for first]
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
if [ -n "${1:-}" ]; then while kill -0 "$1" 2>/dev/null; do sleep 15; done; fi
for m in beam sample; do
  echo "== $(date -u +%FT%TZ) btp run experiments/ablations/self_$m-s0.yaml"
  /usr/bin/time -f "wall %e s" .venv/bin/btp run "experiments/ablations/self_$m-s0.yaml"
done
