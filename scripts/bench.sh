#!/usr/bin/env bash
# Runs the Go benchmarks and writes BENCHMARKS.md: what was measured (each
# benchmark's doc comment), how (the command), the numbers and the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
out=BENCHMARKS.md
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT

# package:benchtime[:pattern] — the end-to-end benchmarks are slow per iteration.
benches=(
	"./cmd/kioskd:3x:DemoStartToReady"
	"./cmd/kioskd:20x:UI"
	"./ui:3x"
	"./devices/idcard:20x"
	"./devices/idcard/pace:20x"
	"./devices/idcard/pcsc:1000x"
	"./devices/printer/layout:200x"
	"./devices/printer:50x"
	"./devices/scanner:5x"
	"./kiosk/outbox:300x"
	"./kiosk/backend:1x"
)
for spec in "${benches[@]}"; do
	IFS=: read -r pkg bt pattern <<<"$spec"
	[[ -d $pkg ]] || continue
	echo "== $pkg ${pattern:-.}" >&2
	KIOSK_REQUIRE_PCSCD=1 go test -run '^$' -bench "${pattern:-.}" -benchmem -benchtime "$bt" -timeout 20m "$pkg" | tee -a "$raw" >&2
done

# Targets from the issues: benchmark (as printed, without -N), metric, <= or >=,
# limit, and what it is.
targets=(
	"BenchmarkDemoStartToReady ms-to-ready <= 300 issue 2: start to READY=1 in demo mode"
	"BenchmarkDemoStartToReady idle-RSS-MB <= 30 issue 2: idle resident memory"
	"BenchmarkFullRead/short APDUs/read <= 120 issue 3: APDUs for a full read, short APDUs"
	"BenchmarkFullRead/extended APDUs/read <= 30 issue 3: APDUs for a full read, extended length"
	"BenchmarkFullRead/short host-cpu-ms/read <= 30 issue 3: host CPU per read"
	"BenchmarkFullRead/extended host-cpu-ms/read <= 30 issue 3: host CPU per read (extended)"
	"BenchmarkFullRead/short ns/op <= 400000000 issue 3: wall time per read (ns)"
	"BenchmarkFullRead/extended ns/op <= 400000000 issue 3: wall time per read, extended (ns)"
	"BenchmarkRenderTicket ns/op <= 20000000 issue 4: render and encode an 80 mm ticket (ns)"
	"BenchmarkFirstByte ms/first-byte <= 50 issue 4: print request to first byte at the printer"
	"BenchmarkEnqueue/sender-parked p99-ms <= 20 issue 6: enqueue with three scanned pages, p99"
	"BenchmarkEnqueue/sender-draining p99-ms <= 20 issue 6: enqueue while the sender drains, p99"
	"BenchmarkBacklogDrainAfterOutage s-to-first-delivery <= 30 issue 6: backlog starts draining after the backend returns (worst case)"
	"BenchmarkForward filings/s >= 50 issue 6: forwarding to a loopback test backend"
	"BenchmarkUIFirstPaint ms-median-first-paint <= 1000 issue 5: chromium start to the idle screen's first paint, median"
	"BenchmarkUIFirstPaint ms-p95-first-paint <= 1000 issue 5: chromium start to the idle screen's first paint, p95 (the slowest run is in the results)"
	"BenchmarkUICardToScreen ms-p95-event-to-screen <= 50 issue 5: pcscd's card event to the card screen in the browser, p95"
	"BenchmarkUICardToScreen ms-p95-insert-to-screen <= 50 issue 5: vpcd card insertion to the card screen, p95 (pcscd polls vpcd every 400 ms)"
	"BenchmarkAssetSize KB-gzip <= 150 issue 5: all JS and CSS, gzipped"
)

value_of() { # value of metric $2 in the result line of benchmark $1
	awk -v b="$1" -v m="$2" '{ n = $1; sub(/-[0-9]+$/, "", n) } n == b { for (i = 3; i < NF; i += 2) if ($(i+1) == m) { print $i; exit } }' "$raw"
}

doc_of() { # the doc comment above func $2 in package dir $1
	awk -v fn="func $2(" '
		/^\/\/ / { c = c substr($0, 4) " "; next }
		index($0, fn) == 1 { print c; exit }
		{ c = "" }' "$1"/*_test.go
}

{
	echo "# Benchmarks"
	echo
	echo "Written by \`make bench\` (scripts/bench.sh) on $(date -u +%Y-%m-%d). Numbers are from one run on the machine below;"
	echo "they are measurements, not test assertions. Targets come from the issues."
	echo
	echo "## Machine"
	echo
	echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) cores)"
	echo "- Memory: $(free -h | awk '/^Mem:/ {print $2}')"
	echo "- Kernel: $(uname -r); $(go version | cut -d' ' -f3-)"
	echo "- pcscd $(pcscd --version 2>/dev/null | head -1 | grep -o '[0-9]\+\.[0-9]\+\.[0-9]\+' | head -1) with vpcd (vsmartcard)"
	echo
	echo "## Against the targets"
	echo
	echo "| target | limit | measured | met |"
	echo "|---|---|---|---|"
	for t in "${targets[@]}"; do
		read -r bench metric op limit what <<<"$t"
		v=$(value_of "$bench" "$metric")
		[[ -n $v ]] || continue
		met=$(awk -v v="$v" -v l="$limit" -v op="$op" 'BEGIN { ok = (op == ">=") ? (v + 0 >= l + 0) : (v + 0 <= l + 0); print ok ? "yes" : "**no**" }')
		echo "| $what (\`$bench\` $metric) | $op $limit | $v | $met |"
	done
	echo
	echo "## Results"
	for spec in "${benches[@]}"; do
		pkg=${spec%%:*} bt=${spec##*:}
		[[ -d $pkg ]] || continue
		lines=$(awk -v p="github.com/vnkiosk/kiosk/${pkg#./}" '$1=="pkg:" {cur=$2} /^Benchmark/ && cur==p' "$raw")
		[[ -n $lines ]] || continue
		echo
		echo "### \`$pkg\`"
		echo
		echo "How: \`go test -run '^\$' -bench . -benchmem -benchtime $bt $pkg\` with pcscd running (scripts/services.sh)."
		last=""
		while read -r line; do
			name=$(awk '{print $1}' <<<"$line" | sed 's/-[0-9]*$//')
			top=${name%%/*}
			echo
			if [[ $top != "$last" ]]; then
				echo "**$top** — $(doc_of "$pkg" "$top")"
				echo
				last=$top
			fi
			[[ $name != "$top" ]] && echo "*$name*" && echo
			echo
			echo '| metric | value |'
			echo '|---|---|'
			awk '{ for (i = 3; i < NF; i += 2) printf "| %s | %s |\n", $(i+1), $i }' <<<"$line"
		done <<<"$lines"
	done
} >"$out"
echo "wrote $out" >&2
