#!/usr/bin/env bash
# Flow records per second: `portent scan` on one core over a generated
# capture of export datagrams, next to nfdump reading the same flows.
#
# usage: benches/flows.sh [SIZE_MIB]   (default 256; one capture per format)
# environment: BENCH_DIR (default /tmp/portent-flows), RUNS (default 3)
#
# For each of v5, v9 and IPFIX: examples/gen_bench.rs writes the capture;
# examples/replay_exports.rs sends its datagrams over loopback to nfcapd,
# which writes them to an nfcapd file; then, with both files in the page
# cache, it times `portent scan -j1` on the capture and `nfdump -r FILE
# 'proto tcp and flags S'` (CSV to /dev/null) on nfcapd's file, and checks
# that both find the same number of TCP records with SYN. Needs nfdump
# (apt-get install -y nfdump) and GNU time.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZE_MIB=${1:-256}
RUNS=${RUNS:-3}
DIR=${BENCH_DIR:-/tmp/portent-flows}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PORT=29555
command -v nfcapd >/dev/null || { echo "flows.sh: nfdump not found (apt-get install -y nfdump)" >&2; exit 1; }
mkdir -p "$DIR"
(cd "$ROOT" && cargo build --release --quiet --bin portent --example gen_bench --example replay_exports)
cp "$TARGET/release/portent" "$DIR/portent"

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
timed() { # prints seconds of one run of "$@", output discarded
    /usr/bin/time -f %e -o "$DIR/time" "$@" >/dev/null 2>&1 || true
    cat "$DIR/time"
}

printf '%-6s %10s %10s %12s %12s %10s %10s\n' format records syn portent_s nfdump_s portent_rps nfdump_rps
for v in v5 v9 ipfix; do
    cap=$DIR/flows-$v-${SIZE_MIB}MiB.pcap
    [[ -s $cap ]] || "$TARGET/release/examples/gen_bench" "$cap" "$SIZE_MIB" "$v" >&2
    nf=$DIR/nfcapd-$v
    rm -rf "$nf" && mkdir -p "$nf"
    nfcapd -w "$nf" -p $PORT -B 200000000 -t 3600 >/dev/null 2>&1 &
    pid=$!
    sleep 1
    "$TARGET/release/examples/replay_exports" "$cap" 127.0.0.1:$PORT 50 >&2
    sleep 2
    kill -TERM $pid
    wait $pid 2>/dev/null || true
    file=$(ls "$nf"/nfcapd.* | head -1)
    cat "$cap" "$file" >/dev/null
    summary=$("$DIR/portent" scan -q -j1 -f jsonl --fail-on never "$cap" | tail -1)
    records=$(grep -o '"flows":{"messages":[0-9]*,"records":[0-9]*' <<<"$summary" | head -1 | grep -o '[0-9]*$')
    syn=$(grep -o '"syn_records":[0-9]*' <<<"$summary" | head -1 | grep -o '[0-9]*$')
    nf_syn=$(nfdump -r "$file" -q -o csv 'proto tcp and flags S' | wc -l)
    nf_records=$(nfdump -r "$file" -I | awk '/^Flows:/ { print $2 }')
    [[ $nf_syn == "$syn" ]] || echo "note: $v: nfdump saw $nf_syn SYN records, portent $syn (nfcapd may have dropped datagrams)" >&2
    p=$(for _ in $(seq "$RUNS"); do timed "$DIR/portent" scan -q -j1 -f jsonl --fail-on never "$cap"; done | median)
    n=$(for _ in $(seq "$RUNS"); do timed nfdump -r "$file" -q -o csv 'proto tcp and flags S'; done | median)
    printf '%-6s %10s %10s %12s %12s %10.0f %10.0f\n' "$v" "$records" "$syn" "$p" "$n" \
        "$(echo "$records / $p" | bc -l)" "$(echo "$nf_records / $n" | bc -l)"
done
