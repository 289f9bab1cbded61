#!/usr/bin/env bash
# Remakes the softflowd exports in this directory: each capture named below
# (from ../shared/data, see its SOURCES.md) is turned into flows by Debian's
# softflowd, once per export format, and the export datagrams are captured
# on loopback with tcpdump. The tests compare the outbound attempts portent
# finds in the capture with those it finds in each export.
#
# usage: tests/data/softflowd/make.sh [SHARED_DATA_DIR]
# needs: softflowd, tcpdump, editcap (apt-get install -y softflowd tcpdump
#        tshark), python3, root
#        for the loopback capture.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
data=${1:-${PORTENT_SHARED_DATA:-$here/../../../../shared/data}}
captures=(
    c2-malware/ndpi-tests/emotet.pcap
    c2-malware/ndpi-tests/trickbot.pcap
    c2-malware/ndpi-tests/tor.pcap
    c2-malware/chrissanders-packets/ratinfected.pcapng
    c2-malware/chrissanders-packets/cryptowall4_c2.pcapng
)
# v5fast: the capture with its time compressed a thousandfold first
# (compress.py), as a replay at full speed would make it: NetFlow v5 keeps
# milliseconds, so both one-way records of a connection start in the same
# millisecond and pairing must tell the initiator without their times.
# name: softflowd's options. -a takes flow times from the packets, not the
# clock; -b exports RFC 5103 biflows (IPFIX only).
formats=("v5:-v 5" "v9:-v 9" "ipfix:-v 10" "biflow:-v 10 -b" "v5fast:-v 5")
port=29995
for cap in "${captures[@]}"; do
    base=$(basename "${cap%.*}")
    for f in "${formats[@]}"; do
        name=${f%%:*}
        opts=${f#*:}
        out=$here/$base-$name.pcap
        input=$data/$cap
        if [ "$name" = v5fast ]; then
            tmp=$(mktemp -d)
            editcap -F pcap "$data/$cap" "$tmp/plain.pcap"
            python3 "$here/compress.py" "$tmp/plain.pcap" "$tmp/$base-fast.pcap" 1000
            input=$tmp/$base-fast.pcap
        fi
        tcpdump -i lo -U -w "$out" udp port $port 2>/dev/null &
        tp=$!
        sleep 1
        # shellcheck disable=SC2086
        softflowd -d -a -r "$input" -n 127.0.0.1:$port $opts >/dev/null
        sleep 1
        kill "$tp"
        wait "$tp" 2>/dev/null || true
        echo "$out: $(stat -c %s "$out") bytes"
    done
done
