"""Compresses a classic pcap's time: each packet's offset from the first is
divided by FACTOR, as a replay at FACTOR times the speed would make it.
Used by make.sh for the v5fast exports.

usage: compress.py IN.pcap OUT.pcap FACTOR (either byte order, us or ns)
"""
import struct, sys
src, dst, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = open(src, 'rb').read()
magic = d[:4]
end = {b'\xd4\xc3\xb2\xa1': '<', b'\xa1\xb2\xc3\xd4': '>', b'\x4d\x3c\xb2\xa1': '<', b'\xa1\xb2\x3c\x4d': '>'}[magic]
unit = 1_000_000_000 if magic in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d') else 1_000_000
out = bytearray(d[:24]); at = 24; t0 = None
while at + 16 <= len(d):
    s, f, incl, orig = struct.unpack(end + 'IIII', d[at:at + 16])
    t = s * unit + f
    if t0 is None: t0 = t
    t = t0 + (t - t0) // k
    out += struct.pack(end + 'IIII', t // unit, t % unit, incl, orig) + d[at + 16:at + 16 + incl]
    at += 16 + incl
open(dst, 'wb').write(out)
