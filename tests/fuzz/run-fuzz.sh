#!/bin/sh
# Runs the fuzz target for a short time (OMAMORI_FUZZ_SECONDS, default 20) on
# the seed messages in tests/data/seeds; TAP output.  A crash, leak or UB
# report fails the case and leaves the reproducer in the log.
set -u
fuzzer=${OMAMORI_BUILDDIR:-.}/tests/fuzz/fuzz-scan
seeds=$(dirname "$0")/../data/seeds
secs=${OMAMORI_FUZZ_SECONDS:-20}
echo "1..1"
if [ ! -x "$fuzzer" ]; then
	echo "not ok 1 - fuzz target not built (clang missing?)"
	exit 1
fi
work=$(mktemp -d)
LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(cd "$(dirname "$0")/.." && pwd)/lsan.supp}
export LSAN_OPTIONS
cp "$seeds"/* "$work"/
if "$fuzzer" -max_total_time="$secs" -rss_limit_mb=4096 -timeout=20 -max_len=65536 \
	-artifact_prefix="$work/" "$work" > "$work/log" 2>&1; then
	runs=$(grep -o 'Done [0-9]* runs' "$work/log" | tail -1)
	echo "ok 1 - fuzz parse-scan-rewrite for ${secs}s (${runs:-?})"
	rm -rf "$work"
	exit 0
fi
echo "not ok 1 - fuzzer found a failure"
sed 's/^/# /' "$work/log" | tail -60
ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* 2>/dev/null | sed 's/^/# artifact: /'
exit 1
