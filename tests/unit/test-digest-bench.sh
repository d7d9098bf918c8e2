#!/bin/sh
# test-digest-bench.sh - bench/digest-bench in a tiny form (50 mailboxes of
# 5 quarantined mails), so make check keeps the benchmark building and
# running; the real measure is `bench/digest-bench` (10 000 x 20).  TAP.
bench=${OMAMORI_BUILDDIR:-.}/bench/digest-bench
echo "1..1"
if out=$("$bench" 50 5 2>&1) && printf '%s\n' "$out" | grep -q "us per mailbox"; then
	echo "ok 1 - digest-bench 50 x 5: $(printf '%s\n' "$out" | tail -n 1)"
else
	echo "not ok 1 - digest-bench 50 x 5"
	printf '%s\n' "$out" | sed 's/^/# /'
fi
