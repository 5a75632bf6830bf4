#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ with the bodies of the OpenMetrics conformance cases
# (../shared/conformance/openmetrics-parsers relative to the workspace root); both targets
# get all of them, as most are valid or nearly valid text format too.
set -euo pipefail
cd "$(dirname "$0")"
suite=../../../../shared/conformance/openmetrics-parsers
[ -d "$suite" ] || { echo "conformance suite missing: $suite" >&2; exit 1; }
for target in parse_text parse_openmetrics; do
  mkdir -p "corpus/$target"
  for case in "$suite"/*/; do
    name=$(basename "$case")
    cp "$case/metrics" "corpus/$target/$name"
  done
done
echo "seeded $(ls corpus/parse_text | wc -l) inputs per target"
