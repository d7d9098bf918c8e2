#!/bin/sh
# Runs each fuzz target for a short time (OMAMORI_FUZZ_SECONDS, default 20)
# on its seeds: fuzz-scan on the messages in tests/data/seeds, fuzz-web on a
# few forms and tokens written here, fuzz-url on URLs and feed lines
# written here; TAP output.  A crash, leak or UB
# report fails the case and leaves the reproducer in the log.
set -u
build=${OMAMORI_BUILDDIR:-.}/tests/fuzz
seeds=$(dirname "$0")/../data/seeds
secs=${OMAMORI_FUZZ_SECONDS:-20}
LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(cd "$(dirname "$0")/.." && pwd)/lsan.supp}
export LSAN_OPTIONS
failed=0

# run_one N NAME WHAT MAXLEN: fuzzes $build/NAME with the seeds in $work
run_one() {
	n=$1 name=$2 what=$3 maxlen=$4
	if [ ! -x "$build/$name" ]; then
		echo "not ok $n - $name not built (clang missing?)"
		failed=1
		return
	fi
	if "$build/$name" -max_total_time="$secs" -rss_limit_mb=4096 -timeout=20 \
		-max_len="$maxlen" -artifact_prefix="$work/" "$work" > "$work/log" 2>&1; then
		runs=$(grep -o 'Done [0-9]* runs' "$work/log" | tail -1)
		echo "ok $n - fuzz $what for ${secs}s (${runs:-?})"
		return
	fi
	echo "not ok $n - $name found a failure"
	sed 's/^/# /' "$work/log" | tail -60
	ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* 2>/dev/null | sed 's/^/# artifact: /'
	failed=1
}

echo "1..5"
work=$(mktemp -d)
cp "$seeds"/* "$work"/
run_one 1 fuzz-scan parse-scan-rewrite 65536
[ "$failed" = 0 ] && rm -rf "$work"
work=$(mktemp -d)
printf 'op=release&csrf=MQoxOTAwMDAwMDAwCmNzcmYK.abc' > "$work/form"
printf 'do=list-add&kind=block&entry=a%%40b.example&csrf=x.y' > "$work/form2"
printf 'ja-JP,ja;q=0.9,en;q=0.8' > "$work/lang"
printf '203.0.113.9, 2001:db8::1' > "$work/xff"
printf 'MQoxOTAwMDAwMDAwCm1haWwKdGFyb0BleGFtcGxlLmpwCg.AAAA' > "$work/token"
before=$failed
run_one 2 fuzz-web form-language-client-token 4096
[ "$failed" = "$before" ] && rm -rf "$work"
work=$(mktemp -d)
printf 'HTTP://User:pw@Ex%%41mple.CO.JP.:80/a/./b/../%%7e?q=%%2f#f' > "$work/url"
printf 'http://\344\276\213\343\201\210.jp/\346\227\245' > "$work/idn"
printf 'http://0xC0.0250.2.1/ http://[2001:DB8::1]:443/' > "$work/ip"
printf '# id,dateadded,url,url_status\n"1","2024","http://a.example/x","online"\n' > "$work/urlhaus"
printf 'phish_id,url,phish_detail_url\n1,"http://b.example/a,b",x\n' > "$work/phishtank"
printf '[{"url":"http:\\/\\/c.example\\/\\u4f8b","details":[{"a":1}]}]' > "$work/json"
printf '# list\nevil.example.co.jp\n0.0.0.0 ads.example\nco.jp\n' > "$work/list"
before=$failed
run_one 3 fuzz-url url-normaliser-and-feeds 9000
[ "$failed" = "$before" ] && rm -rf "$work"
work=$(mktemp -d)
printf '<html><head><meta http-equiv=refresh content="0;url=http://e.example/"><base href="http://b.example/"></head><body><table><tr><td><a href="https://a.example/x" onclick="x()">x</a></td></tr></table><img src="cid:i@x"><map><area href="http://c.example/"></map><form action="http://f.example/"><button formaction="http://g.example/">b</button></form><p>see https://t.example/p and www.w.example</p></body></html>' > "$work/html"
printf 'Received: from a by mx.example.jp with LMTP\nAuthentication-Results: mx.example.jp; spf=fail (x; y) smtp.mailfrom=a; dmarc=fail (p=none dis=none)\nReceived: from evil by mx\nAuthentication-Results: mx.example.jp; dkim=pass\n\nhttp://body.example/\n' > "$work/authres"
printf '\344\276\213 https://\344\276\213.jp/\346\227\245 (http://x.example/a_(b)). ftp://f.example' > "$work/text"
before=$failed
run_one 4 fuzz-links html-text-rewriters-and-authres 65536
[ "$failed" = "$before" ] && rm -rf "$work"
work=$(mktemp -d)
printf 'direction out and body contains "\351\226\242\344\277\202\350\200\205\345\244\226\347\247\230" => hold' > "$work/example"
printf '(size > 10M or not attachment-name matches "\\.(exe|js)$") and header "X-A" contains "b" => notify, add-header "X-Audit: y", continue' > "$work/rule"
printf 'recipient external and text starts-with "\357\274\241" => delete' > "$work/wide"
printf 'From: a@b\nContent-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/html; charset=EUC-JP\n\n<p>\264\330</p>\n--x\nContent-Type: application/pdf\n\n%%PDF-1.4\n--x--\n' > "$work/mail"
before=$failed
run_one 5 fuzz-audit rules-and-message-text 65536
[ "$failed" = "$before" ] && rm -rf "$work"
exit $failed
