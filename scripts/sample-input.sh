#!/usr/bin/env bash
# Writes the sample dataset the API reference's process_data example reads
# (`{"type":"file","path":"/data/input.csv"}`): customer churn, a CSV with a header row.
# Features: age, tenure_months, monthly_spend, support_calls (numeric) and plan (text,
# used only when named in options.features); target `label` (churned / stayed), which
# depends on the features plus noise, so the classification pipeline has something to
# learn. Deterministic for a given awk (fixed seed).
#   scripts/sample-input.sh OUT.csv [ROWS=5000]
set -euo pipefail
out=${1:?usage: sample-input.sh OUT.csv [ROWS]}
rows=${2:-5000}
mkdir -p "$(dirname "$out")"
awk -v rows="$rows" 'BEGIN {
  srand(42)
  split("basic standard premium", plans, " ")
  print "age,tenure_months,monthly_spend,support_calls,plan,label"
  for (i = 0; i < rows; i++) {
    age = 18 + int(rand() * 63)
    tenure = 1 + int(rand() * 72)
    plan = plans[1 + int(rand() * 3)]
    spend = 10 + rand() * 60 + (plan == "standard" ? 40 : plan == "premium" ? 90 : 0)
    calls = int(rand() * rand() * 10)
    z = -1.2 + 0.55 * calls - 0.045 * tenure + 0.012 * (spend - 80) - 0.01 * (age - 45) + (rand() - 0.5) * 1.5
    printf "%d,%d,%.2f,%d,%s,%s\n", age, tenure, spend, calls, plan, (z > 0 ? "churned" : "stayed")
  }
}' > "$out.tmp"
mv "$out.tmp" "$out"
