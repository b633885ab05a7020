#!/usr/bin/env bash
# The plots in docs/results/ (PNG files) and the full HTML reports in runs/reports/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/results runs/reports
for run in c1_teacher50 c2_self; do
  [ -d "runs/$run" ] && .venv/bin/btp report "runs/$run" --out "runs/reports/$run.html" --png-dir "docs/results/$run"
  rm -f docs/results/$run/*held-out-pass-rate*  # one round only (eval.before: false): the tables say more
done
sweep=$(ls -d runs/abl/alpha*-s* runs/abl/uniform-s* runs/abl/pass_only-s* runs/abl/rank-s* 2>/dev/null | while read d; do
  grep -q '"stage": "eval"' "$d/metrics.jsonl" 2>/dev/null && echo "$d"; done)
tmp=$(mktemp -d)
.venv/bin/btp report $sweep --out runs/reports/ablations.html --png-dir "$tmp"
mkdir -p docs/results/ablations
cp "$tmp"/pass-rate-vs-alpha.png "$tmp"/strict-accuracy-vs-alpha.png docs/results/ablations/
rm -rf "$tmp"
