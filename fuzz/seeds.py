#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/TARGET/ (docs/FUZZING.md).

From the repository's own files (samples/, tests/data/) and from files under
../shared/data (or $PORTENT_SHARED_DATA) whose licence allows redistribution
(BSD, MIT, Apache-2.0, CC0): Zeek's and Arkime's test captures, the
logstash-codec-netflow datagrams, the Rust evtx crate's sample logs, OTRF's
NXLog JSON. fuzz/corpus/README.md lists every source. Each seed is kept
under 64 KiB. The files the fuzzer adds later (named by their SHA-1) are
left alone; a seed is rewritten only if its bytes changed.

    python3 fuzz/seeds.py            # from the repository root
"""

import gzip
import io
import os
import struct
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PORTENT_SHARED_DATA", ROOT.parent / "shared" / "data"))
CORPUS = ROOT / "fuzz" / "corpus"
MAX_SEED = 64 * 1024 - 1

# decode.rs link types, in fuzz/targets.rs LINKTYPES order.
LINKTYPES = [0, 1, 9, 12, 14, 50, 101, 108, 113, 228, 229, 239, 276]
SEP = b"\n@NF"  # targets::DATAGRAM_SEPARATOR

written = {}


def put(target, name, data):
    assert len(data) <= MAX_SEED, f"{target}/{name}: {len(data)} bytes"
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    p = d / name
    if not p.exists() or p.read_bytes() != data:
        p.write_bytes(data)
    written.setdefault(target, []).append(name)


def shared(rel):
    p = SHARED / rel
    if not p.is_file():
        sys.exit(f"missing {p} (set PORTENT_SHARED_DATA)")
    return p.read_bytes()


# ------------------------------------------------------------- capture I/O


def pcap_packets(data):
    """(linktype, [(ts_sec, frac, packet)]) of a classic pcap."""
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\x34\xcd\xb2\xa1"):
        e = "<"
    else:
        e = ">"
    modified = magic in (b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34")
    hdr = 24 if modified else 16
    lt = struct.unpack_from(e + "I", data, 20)[0]
    out, off = [], 24
    while off + hdr <= len(data):
        sec, frac, cap, _orig = struct.unpack_from(e + "IIII", data, off)
        pkt = data[off + hdr : off + hdr + cap]
        if len(pkt) < cap:
            break
        out.append((sec, frac, pkt))
        off += hdr + cap
    return lt, out


def pcapng_packets(data):
    """[(linktype, packet)] of the EPBs of a pcapng (all sections)."""
    out, off, e, ifaces = [], 0, "<", []
    while off + 12 <= len(data):
        ty = struct.unpack_from("<I", data, off)[0]
        if ty == 0x0A0D0D0A:
            e = "<" if data[off + 8 : off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        ln = struct.unpack_from(e + "I", data, off + 4)[0]
        if ln < 12:
            break
        if ty == 1:
            ifaces.append(struct.unpack_from(e + "H", data, off + 8)[0])
        elif ty == 6:
            iface, cap = struct.unpack_from(e + "I", data, off + 8)[0], struct.unpack_from(e + "I", data, off + 20)[0]
            if iface < len(ifaces):
                out.append((ifaces[iface], data[off + 28 : off + 28 + cap]))
        off += ln
    return out


def to_pcapng(lt, packets, be=False, tsresol=None, spb_after=0):
    """A pcapng of `packets` on one interface; packets from index
    `spb_after` on (if > 0) as Simple Packet Blocks."""
    e = ">" if be else "<"

    def block(ty, body):
        body += b"\0" * (-len(body) % 4)
        ln = 12 + len(body)
        return struct.pack(e + "II", ty, ln) + body + struct.pack(e + "I", ln)

    out = struct.pack("<I", 0x0A0D0D0A) + struct.pack(e + "I", 28)
    out += struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1) + struct.pack(e + "I", 28)
    opts = b""
    if tsresol is not None:
        opts = struct.pack(e + "HH", 9, 1) + bytes([tsresol, 0, 0, 0]) + struct.pack(e + "HH", 0, 0)
    out += block(1, struct.pack(e + "HHI", lt, 0, 65535) + opts)
    if tsresol is None:
        units = 10**6
    elif tsresol & 0x80:
        units = 2 ** (tsresol & 0x7F)
    else:
        units = 10**tsresol
    for i, (sec, frac, pkt) in enumerate(packets):
        if spb_after and i >= spb_after:
            out += block(3, struct.pack(e + "I", len(pkt)) + pkt)
            continue
        t = sec * units + frac * units // 10**6
        out += block(6, struct.pack(e + "IIIII", 0, t >> 32, t & 0xFFFFFFFF, len(pkt), len(pkt)) + pkt)
    return out


def udp_payloads(lt, pkt):
    """The UDP payload of an Ethernet/IPv4 or raw IPv4 packet, else None."""
    if lt == 1:
        if pkt[12:14] != b"\x08\x00":
            return None
        ip = pkt[14:]
    elif lt in (0, 108):
        ip = pkt[4:]
    else:
        ip = pkt
    if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
        return None
    ihl = (ip[0] & 15) * 4
    return ip[ihl + 8 :]


# ------------------------------------------------------------------ pcap

PCAPS = {
    "zeek-syn-bad.pcap": "pcap-oracles/zeek/core.tcp.bad-checksum-syn/syn-bad.pcap",
    "zeek-q-in-q.pcap": "pcap-oracles/zeek/core.q-in-q/q-in-q.pcap",
    "zeek-miss_end_data.pcap": "pcap-oracles/zeek/core.tcp.miss-end-data/miss_end_data.pcap",
    "zeek-missing-syn.pcap": "pcap-oracles/zeek/core.tcp.missing-syn/missing-syn.pcap",
    "zeek-ftp-ipv4.pcap": "pcap-oracles/zeek/scripts.base.protocols.ftp.ftp-ipv4/ipv4.pcap",
    "zeek-ftp-ipv6.pcap": "pcap-oracles/zeek/scripts.base.protocols.ftp.ftp-ipv6/ipv6.pcap",
}
for n in [
    "icmp-header-trunc",
    "icmp-payload-trunc",
    "ip4-trunc",
    "ip6-ext-trunc",
    "ip6-trunc",
    "ipv4-internally-truncated-header",
    "ipv4-truncated-broken-header",
    "mpls-6in6-6in6-4in6-trunc",
    "trunc-hdr",
]:
    PCAPS[f"zeek-{n}.pcap"] = f"pcap-oracles/zeek/core.truncation/{n}.pcap"
for n in [
    "adb",
    "bigendian",
    "dot1ad",
    "empty",
    "http-syn-ack",
    "ipv6-in-ipv4",
    "nflog",
    "no-syn-ack",
    "pppoe",
    "twovlan",
    "v6",
    "y2038-bgp",
]:
    PCAPS[f"arkime-{n}.pcap"] = f"pcap-oracles/arkime/{n}.pcap"

pcaps = {name: shared(rel) for name, rel in PCAPS.items()}
mpls = gzip.decompress(shared("pcap-oracles/zeek/core.truncation/mpls-6in6-broken.pcap.gz"))
pcaps["zeek-mpls-6in6-broken.pcap"] = mpls[:MAX_SEED]
pcaps["samples-windows-4444.pcap"] = (ROOT / "samples/windows-4444.pcap").read_bytes()
pcaps["samples-linux-8088.pcap"] = gzip.decompress((ROOT / "samples/linux-8088.pcap.gz").read_bytes())
softflowd = sorted((ROOT / "tests/data/softflowd").glob("*.pcap"))
for p in softflowd:
    pcaps[f"softflowd-{p.name}"] = p.read_bytes()
for name, data in pcaps.items():
    put("pcap", name, data)

# ---------------------------------------------------------------- pcapng

put("pcapng", "samples-beacon-9001.pcapng", (ROOT / "samples/beacon-9001.pcapng").read_bytes())
put("pcapng", "samples-rdp-33890.pcapng", (ROOT / "samples/rdp-33890.pcapng").read_bytes())
put("pcapng", "zeek-pcapng-multi-interface.pcapng", shared("pcap-oracles/zeek/core.pcapng-pktsrc/pcapng-multi-interface.pcapng"))
put("pcapng", "zeek-http-on-irc-port-missing-syn.pcapng", shared("pcap-oracles/zeek/core.tcp.flip-without-syn/http-on-irc-port-missing-syn.pcapng"))
put("pcapng", "zeek-ip-discarder-truncated-tcp-oob.pcapng", shared("pcap-oracles/zeek/core.truncation/ip-discarder-truncated-tcp-oob.pcapng"))
# Link types and block kinds the pcapng files above lack, converted from
# the pcap seeds: raw IPv4 (228) in nanoseconds, NFLOG big-endian with
# 2^-20 s stamps, PPPoE with Simple Packet Blocks, IPv6 in microseconds.
for name, src, be, tsresol, spb in [
    ("conv-arkime-adb-ns.pcapng", "arkime-adb.pcap", False, 9, 0),
    ("conv-arkime-nflog-be.pcapng", "arkime-nflog.pcap", True, 0x80 | 20, 0),
    ("conv-arkime-pppoe-spb.pcapng", "arkime-pppoe.pcap", False, None, 4),
    ("conv-zeek-ftp-ipv6.pcapng", "zeek-ftp-ipv6.pcap", False, 6, 0),
]:
    lt, pk = pcap_packets(pcaps[src])
    data = to_pcapng(lt, pk, be=be, tsresol=tsresol, spb_after=spb)
    put("pcapng", name, data[:MAX_SEED])

# ---------------------------------------------------------------- decode

# One seed per distinct packet: the first few of each capture, prefixed by
# the link type's index in LINKTYPES (little-endian u32).
seen = set()


def decode_seed(tag, lt, pkt):
    if lt not in LINKTYPES or pkt in seen:
        return
    seen.add(pkt)
    put("decode", f"{tag}.bin", struct.pack("<I", LINKTYPES.index(lt)) + pkt)


for name, data in pcaps.items():
    if name.startswith("softflowd-"):
        continue
    lt, pk = pcap_packets(data)
    for i, (_, _, pkt) in enumerate(pk[:4]):
        decode_seed(f"{Path(name).stem}-{i}", lt, pkt)
for name in ["samples-beacon-9001.pcapng", "zeek-pcapng-multi-interface.pcapng"]:
    kinds = {}
    for lt, pkt in pcapng_packets((CORPUS / "pcapng" / name).read_bytes()):
        i = kinds.get(lt, 0)
        if i < 4:
            decode_seed(f"{Path(name).stem}-lt{lt}-{i}", lt, pkt)
            kinds[lt] = i + 1

# --------------------------------------------------------------- netflow

LS = "netflow/logstash-codec-netflow"


def ls(name):
    return shared(f"{LS}/{name}")


ls_files = sorted(p.name for p in (SHARED / LS).glob("*.dat"))


def group(name):
    stem = name[: -len(".dat")]
    for cut in ["_tpldata", "_tpl_data", "_tpls", "_tpl", "_opttpl", "_tplopt", "_data", "_dpi"]:
        i = stem.find(cut)
        if i > 0:
            return stem[:i]
    return stem


groups = {}
for n in ls_files:
    groups.setdefault(group(n), []).append(n)


def tpl_first(names):
    return sorted(names, key=lambda n: (0 if "tpl" in n and "data" not in n else 1, n))


def join(dgrams, exporters=None):
    out = b""
    for i, d in enumerate(dgrams):
        if i:
            out += SEP + bytes([exporters[i] if exporters else 0])
        out += d
    return out


for g, names in sorted(groups.items()):
    data = join([ls(n) for n in tpl_first(names)])
    if len(data) <= MAX_SEED:
        put("netflow", f"logstash-{g}.bin", data)
# The same template and data from two exporters: the data of the second
# must wait for its own template.
asa = [ls("netflow9_test_cisco_asa_1_tpl.dat"), ls("netflow9_test_cisco_asa_1_data.dat")]
put("netflow", "logstash-cisco_asa_1-two-exporters.bin", join([asa[1], asa[0], asa[1], asa[0]], [0, 1, 0, 1]))
# Data before its template (waits, then replays).
yaf = [ls("ipfix_test_yaf_data45841.dat"), ls("ipfix_test_yaf_tpl45841.dat")]
put("netflow", "logstash-yaf-data-first.bin", join(yaf))

# softflowd exports (UDP payloads of the tests/data pcaps), in order.
for p in softflowd:
    lt, pk = pcap_packets(p.read_bytes())
    dg = [d for d in (udp_payloads(lt, x) for _, _, x in pk) if d]
    if dg:
        put("netflow", f"softflowd-{p.stem}.bin", join(dg)[:MAX_SEED])

# ------------------------------------------------------------- flow_file

# Files as a collector saves them: IPFIX messages back to back (RFC 5655),
# NetFlow v5 datagrams back to back, one v9 datagram.
for g, names in sorted(groups.items()):
    msgs = [ls(n) for n in tpl_first(names)]
    v = struct.unpack(">H", msgs[0][:2])[0]
    if v == 10 or v == 5:
        data = b"".join(msgs)
        if len(data) <= MAX_SEED:
            put("flow_file", f"logstash-{g}.bin", data)
    elif v == 9:
        for n in names:
            if "tpl" in n and "data" in n or "valid" in n or "dpi" in n or "1941" in n:
                put("flow_file", f"logstash-{n[:-4]}.bin", ls(n))
for p in softflowd:
    lt, pk = pcap_packets(p.read_bytes())
    dg = [d for d in (udp_payloads(lt, x) for _, _, x in pk) if d]
    if not dg:
        continue
    if dg[0][:2] == b"\x00\x09":
        put("flow_file", f"softflowd-{p.stem}-first.bin", dg[0])
    else:
        put("flow_file", f"softflowd-{p.stem}.bin", b"".join(dg)[:MAX_SEED])

# ---------------------------------------------------------------- sysmon

SYS = ROOT / "tests/data/sysmon"
for n in ["events-per-line.xml", "exported.xml", "linux-syslog.log"]:
    put("sysmon_xml", f"tests-{n}", (SYS / n).read_bytes())
exported = (SYS / "exported.xml").read_bytes()
put("sysmon_xml", "tests-exported-utf16le.xml", b"\xff\xfe" + exported.decode("utf-8").encode("utf-16-le"))
put("sysmon_xml", "tests-exported-crlf.xml", exported.replace(b"\n", b"\r\n"))

for n in ["journald.jsonl", "nxlog.jsonl", "winlogbeat.jsonl"]:
    put("sysmon_json", f"tests-{n}", (SYS / n).read_bytes())
nx = (SYS / "nxlog.jsonl").read_bytes()
put("sysmon_json", "tests-nxlog-utf16le.jsonl", b"\xff\xfe" + nx.decode("utf-8").encode("utf-16-le"))


def otrf_lines(zip_rel, want, limit):
    """Lines of an OTRF host log (NXLog JSON) for which want(line) holds,
    up to `limit` bytes."""
    z = zipfile.ZipFile(io.BytesIO(shared(zip_rel)))
    out = b""
    for name in z.namelist():
        for line in z.read(name).splitlines(keepends=True):
            if want(line) and len(out) + len(line) <= limit:
                out += line
    return out


def sysmon_id(line, ids):
    return b'"SourceName":"Microsoft-Windows-Sysmon"' in line and any(
        f'"EventID":{i},'.encode() in line for i in ids
    )


COV = "sysmon/otrf-atomic-pairs/covenant_psremoting_command/host_covenant_psremoting_command.zip"
EMP = "sysmon/otrf-atomic-pairs/empire_psremoting_stager/host_empire_psremoting_stager.zip"
put("sysmon_json", "otrf-covenant-eid3.jsonl", otrf_lines(COV, lambda l: sysmon_id(l, [3]), 48 * 1024))
put("sysmon_json", "otrf-covenant-eid1-13.jsonl", otrf_lines(COV, lambda l: sysmon_id(l, [1, 13]), 48 * 1024))
put("sysmon_json", "otrf-empire-eid1-3.jsonl", otrf_lines(EMP, lambda l: sysmon_id(l, [1, 3]), 48 * 1024))
put("sysmon_json", "otrf-empire-other.jsonl", otrf_lines(EMP, lambda l: b"Microsoft-Windows-Sysmon" not in l, 16 * 1024))

# ------------------------------------------------------------------ evtx

# The file header and the first records of the evtx crate's samples; the
# target pads the rest of the chunk with zeros.
EV = "sysmon/omerbenamram-evtx-samples"
for name, src, cut in [
    ("evtx-sysmon-60k.evtx", "sysmon.evtx", 60 * 1024),
    ("evtx-sysmon-12k.evtx", "sysmon.evtx", 12 * 1024),
    ("evtx-application-no-crc32-60k.evtx", "Application_no_crc32.evtx", 60 * 1024),
    ("evtx-bad-chunk-magic-12k.evtx", "sample_with_a_bad_chunk_magic.evtx", 12 * 1024),
]:
    put("evtx", name, shared(f"{EV}/{src}")[:cut])

for t, names in sorted(written.items()):
    size = sum((CORPUS / t / n).stat().st_size for n in names)
    print(f"{t}: {len(names)} seeds, {size} bytes")
