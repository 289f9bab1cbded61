//! One flow record's fields as the wire has them, and its times in UTC:
//! exporter uptime (v9, IPFIX sysUpTime fields) against the export time,
//! IPFIX absolute and delta times, systemInitTimeMilliseconds.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::event::Origin;
use crate::source::netflow::{uint, Field};
use crate::time::Ts;

/// Seconds from the NTP epoch (1900) to the Unix epoch.
const NTP_UNIX_OFFSET_S: u64 = 2_208_988_800;

/// The header facts a record's times depend on.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ctx {
    pub(super) version: u8,
    pub(super) export: Ts,
    /// NetFlow v9: the exporter's uptime at export, in ms.
    pub(super) sys_up_time_ms: Option<u32>,
    pub(super) exporter: Option<(IpAddr, u16)>,
    pub(super) domain: u32,
    pub(super) origin: Origin,
    /// Where the message starts in the input.
    pub(super) offset: u64,
}

/// Which elements portent reads (the rest of a fixed-length record is
/// skipped without looking).
pub(super) fn wanted(f: Field) -> bool {
    match f {
        Field::Iana(id) => matches!(
            id,
            1 | 2 | 4 | 6 | 7 | 8 | 10 | 11 | 12 | 14 | 21 | 22 | 27 | 28 | 34 | 50 | 85 | 86 | 150
                ..=160 | 239 | 305
        ),
        Field::Reverse(id) => matches!(id, 1 | 2 | 6 | 85 | 86),
        Field::Other => false,
    }
}

/// The fields of one record portent reads.
#[derive(Default)]
pub(super) struct RawRecord {
    pub(super) src: Option<IpAddr>,
    pub(super) dst: Option<IpAddr>,
    pub(super) sport: Option<u16>,
    pub(super) dport: Option<u16>,
    pub(super) proto: Option<u8>,
    pub(super) flags: Option<u8>,
    pub(super) packets: Option<u64>,
    pub(super) bytes: Option<u64>,
    pub(super) in_if: Option<u32>,
    pub(super) out_if: Option<u32>,
    pub(super) sampling: Option<u32>,
    pub(super) rev_packets: Option<u64>,
    pub(super) rev_bytes: Option<u64>,
    pub(super) rev_flags: Option<u8>,
    pub(super) biflow_direction: Option<u8>,
    /// Absolute start and end (IPFIX dateTime fields).
    pub(super) abs_start: Option<Ts>,
    pub(super) abs_end: Option<Ts>,
    /// Start and end in exporter uptime, ms (v9 FIRST/LAST_SWITCHED, IPFIX
    /// flowStart/EndSysUpTime).
    pub(super) up_start: Option<u32>,
    pub(super) up_end: Option<u32>,
    /// IPFIX systemInitTimeMilliseconds: when uptime was 0.
    pub(super) sys_init: Option<Ts>,
    /// IPFIX flowStart/EndDeltaMicroseconds: before the export time.
    pub(super) delta_start_us: Option<u64>,
    pub(super) delta_end_us: Option<u64>,
}

impl RawRecord {
    /// One field's value, as the wire has it.
    pub(super) fn take(&mut self, f: Field, v: &[u8]) {
        let n = || uint(v);
        match f {
            Field::Iana(id) => match id {
                8 | 27 => self.src = addr(v),
                12 | 28 => self.dst = addr(v),
                7 => self.sport = n().map(|n| n as u16),
                11 => self.dport = n().map(|n| n as u16),
                4 => self.proto = n().map(|n| n as u8),
                // tcpControlBits is 16 bits in IPFIX; the flags are the low 8.
                6 => self.flags = n().map(|n| n as u8),
                2 | 86 => self.packets = self.packets.or(n()),
                1 | 85 => self.bytes = self.bytes.or(n()),
                10 => self.in_if = n().map(|n| n as u32),
                14 => self.out_if = n().map(|n| n as u32),
                34 | 305 | 50 => self.sampling = n().and_then(|n| u32::try_from(n).ok()),
                239 => self.biflow_direction = n().map(|n| n as u8),
                150 | 152 | 154 | 156 => self.abs_start = self.abs_start.or(abs_time(id, v)),
                151 | 153 | 155 | 157 => self.abs_end = self.abs_end.or(abs_time(id, v)),
                22 => self.up_start = n().and_then(|n| u32::try_from(n).ok()),
                21 => self.up_end = n().and_then(|n| u32::try_from(n).ok()),
                160 => self.sys_init = abs_time(152, v),
                158 => self.delta_start_us = n(),
                159 => self.delta_end_us = n(),
                _ => {}
            },
            Field::Reverse(id) => match id {
                2 | 86 => self.rev_packets = self.rev_packets.or(n()),
                1 | 85 => self.rev_bytes = self.rev_bytes.or(n()),
                6 => self.rev_flags = n().map(|n| n as u8),
                _ => {}
            },
            Field::Other => {}
        }
    }

    /// The flow's start and end in UTC, from whichever time fields the
    /// record has; the export time when it has none. `sys_init` is the
    /// exporter's boot time from options data, for uptime fields.
    pub(super) fn times(&self, ctx: &Ctx, sys_init: Option<Ts>) -> (Ts, Ts) {
        let init = self.sys_init.or(sys_init);
        let from_uptime = |up: Option<u32>| -> Option<Ts> {
            let up = up?;
            if let Some(init) = init {
                return Some(Ts(init.0 + i64::from(up) * 1_000_000));
            }
            ctx.sys_up_time_ms
                .map(|now| uptime_to_utc(ctx.export, now, up))
        };
        let delta =
            |d: Option<u64>| d.map(|us| Ts(ctx.export.0 - (us as i64).min(i64::MAX / 2000) * 1000));
        let start = self
            .abs_start
            .or_else(|| from_uptime(self.up_start))
            .or_else(|| delta(self.delta_start_us))
            .unwrap_or(ctx.export);
        let end = self
            .abs_end
            .or_else(|| from_uptime(self.up_end))
            .or_else(|| delta(self.delta_end_us))
            .unwrap_or(start);
        (start, end.max(start))
    }
}

/// A time in exporter uptime (ms) to UTC, given the export time and the
/// uptime at export. Wrapping arithmetic: the 32-bit uptime wraps every 49.7
/// days, and a flow from just before the wrap is still in the past.
pub(super) fn uptime_to_utc(export: Ts, now_ms: u32, at_ms: u32) -> Ts {
    let ago = now_ms.wrapping_sub(at_ms);
    // A flow "in the future" by less than a minute (clock skew between the
    // uptime stamps): treat as at export time.
    let ago = if ago > u32::MAX - 60_000 { 0 } else { ago };
    Ts(export.0 - i64::from(ago) * 1_000_000)
}

/// An IPFIX dateTime field as UTC: seconds (150, 151) or milliseconds (152,
/// 153, 160) since the Unix epoch, or NTP timestamps (154–157: seconds
/// since 1900 and a binary fraction).
pub(super) fn abs_time(id: u16, v: &[u8]) -> Option<Ts> {
    let n = uint(v)?;
    let nanos: i128 = match id {
        150 | 151 => i128::from(n) * 1_000_000_000,
        154..=157 => {
            if v.len() != 8 {
                return None;
            }
            let secs = (n >> 32).checked_sub(NTP_UNIX_OFFSET_S)?;
            let frac = (u128::from(n & 0xffff_ffff) * 1_000_000_000) >> 32;
            i128::from(secs) * 1_000_000_000 + frac as i128
        }
        _ => i128::from(n) * 1_000_000,
    };
    i64::try_from(nanos).ok().map(Ts)
}

pub(super) fn addr(v: &[u8]) -> Option<IpAddr> {
    match v.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(v).ok()?))),
        16 => Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(v).ok()?))),
        _ => None,
    }
}
