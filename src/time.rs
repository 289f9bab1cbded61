//! Time: [`Ts`], the instant every source and report uses, and its RFC 3339
//! rendering and parsing without a date-time dependency.
//!
//! Every report shows times the same way (UTC, `Z`, fraction), and must do so
//! for any 64-bit timestamp a capture can carry, so the civil-date conversion
//! is done here once (Howard Hinnant's `civil_from_days`).

use std::fmt;

/// A point in time, nanoseconds since the Unix epoch, UTC.
///
/// An `i64` of nanoseconds covers 1677–2262, enough for any capture (including
/// pcapng timestamps past 2038 that 32-bit seconds cannot hold).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ts(pub i64);

impl Ts {
    pub const NANOS_PER_SEC: i64 = 1_000_000_000;

    /// From whole seconds and a nanosecond fraction, saturating at the ends
    /// of the representable range rather than wrapping.
    pub fn from_parts(secs: i64, nanos: u32) -> Ts {
        Ts(secs
            .saturating_mul(Self::NANOS_PER_SEC)
            .saturating_add(i64::from(nanos)))
    }

    pub fn secs_f64(self) -> f64 {
        self.0 as f64 / Self::NANOS_PER_SEC as f64
    }

    /// Absolute distance between two instants, in nanoseconds.
    pub fn abs_diff(self, other: Ts) -> u64 {
        self.0.abs_diff(other.0)
    }
}

impl fmt::Display for Ts {
    /// RFC 3339, UTC, with microseconds: `2026-11-23T21:37:44.123456Z`.
    /// Sub-microsecond digits are kept only when the timestamp has them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_rfc3339(f, *self)
    }
}

/// Writes `YYYY-MM-DDTHH:MM:SS.ffffffZ`; nine fraction digits when the
/// timestamp has sub-microsecond precision, six otherwise.
pub fn write_rfc3339(f: &mut impl fmt::Write, ts: Ts) -> fmt::Result {
    let secs = ts.0.div_euclid(Ts::NANOS_PER_SEC);
    let nanos = ts.0.rem_euclid(Ts::NANOS_PER_SEC);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    write!(
        f,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )?;
    if nanos % 1000 == 0 {
        write!(f, ".{:06}Z", nanos / 1000)
    } else {
        write!(f, ".{nanos:09}Z")
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses an RFC 3339 timestamp (as accepted by `humantime`), for policy
/// files and command-line options.
pub fn parse_rfc3339(s: &str) -> Result<Ts, String> {
    let t = humantime::parse_rfc3339_weak(s.trim()).map_err(|e| format!("{s:?}: {e}"))?;
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => Ok(Ts::from_parts(d.as_secs() as i64, d.subsec_nanos())),
        Err(e) => {
            let d = e.duration();
            Ok(Ts(-(d.as_nanos() as i64)))
        }
    }
}

/// (year, month, day) in the proleptic Gregorian calendar to days since
/// 1970-01-01 (the inverse of [`civil_from_days`]).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses the times endpoint logs carry, which are not all RFC 3339:
/// Sysmon's own `UtcTime` (`2020-08-06 15:56:22.770`, UTC without a zone),
/// the Windows `SystemTime` attribute (`2020-08-06T15:56:22.7701234Z`, seven
/// fraction digits), ECS `@timestamp` (`2020-08-06T15:56:22.770Z`) and RFC
/// 3339 with an offset (`+02:00`, `-0500`). A time without a zone is UTC.
/// `None` for anything else (the caller says which record it was).
pub fn parse_log_time(s: &str) -> Option<Ts> {
    let b = s.trim().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let d = b.get(r)?;
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| d.iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0')))
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
    {
        return None;
    }
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let month_len = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => return None,
    };
    // 60 is a leap second; it is read as the next second's start.
    if d == 0 || d > month_len || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            // Digits past nanoseconds are dropped, not rounded.
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(c - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..9 {
            nanos *= 10;
        }
    }
    let offset_s: i64 = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = num(i + 1..i + 3)?;
            let om = match (b.get(i + 3), b.len() - i) {
                (Some(b':'), 6) => num(i + 4..i + 6)?,
                (Some(_), 5) => num(i + 3..i + 5)?,
                (None, 3) => 0,
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let o = i64::from(oh * 3600 + om * 60);
            if sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(y), mo, d);
    let secs = days * 86_400 + i64::from(h * 3600 + mi * 60 + sec) - offset_s;
    // Beyond 146 years of 1970 (1824 to 2116) two times could be further
    // apart than a `Ts` difference holds, and arithmetic on them overflow:
    // no log of a real host has such a time.
    if !(MIN_TS_SECS..=MAX_TS_SECS).contains(&secs) {
        return None;
    }
    Some(Ts::from_parts(secs, nanos))
}

/// Half the seconds a [`Ts`] holds, each way.
const MIN_TS_SECS: i64 = -MAX_TS_SECS;
const MAX_TS_SECS: i64 = i64::MAX / Ts::NANOS_PER_SEC / 2;

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(ts: Ts) -> String {
        let mut s = String::new();
        write_rfc3339(&mut s, ts).unwrap();
        s
    }

    #[test]
    fn formats_epoch_leap_day_and_fractions() {
        assert_eq!(fmt(Ts(0)), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            fmt(Ts::from_parts(951_782_400, 1_000)),
            "2000-02-29T00:00:00.000001Z"
        );
        assert_eq!(
            fmt(Ts::from_parts(1_482_381_409, 512_345_678)),
            "2016-12-22T04:36:49.512345678Z"
        );
        // Past the 32-bit rollover.
        assert_eq!(
            fmt(Ts::from_parts(2_147_483_648, 0)),
            "2038-01-19T03:14:08.000000Z"
        );
        assert_eq!(fmt(Ts(-1_000)), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn parse_round_trips() {
        let ts = parse_rfc3339("2016-12-22T04:36:49.512345Z").unwrap();
        assert_eq!(fmt(ts), "2016-12-22T04:36:49.512345Z");
        assert!(parse_rfc3339("yesterday").is_err());
    }

    #[test]
    fn log_times_in_the_forms_endpoint_logs_write() {
        let f = |s: &str| parse_log_time(s).map(fmt);
        // Sysmon's UtcTime: UTC, no zone, milliseconds.
        assert_eq!(
            f("2020-08-06 15:56:22.770").as_deref(),
            Some("2020-08-06T15:56:22.770000Z")
        );
        // Windows SystemTime: seven fraction digits.
        assert_eq!(
            f("2019-03-18T16:57:38.6363871Z").as_deref(),
            Some("2019-03-18T16:57:38.636387100Z")
        );
        assert_eq!(
            f("2020-02-29T23:30:00+02:00").as_deref(),
            Some("2020-02-29T21:30:00.000000Z")
        );
        assert_eq!(
            f("2020-03-01T00:30:00-0130").as_deref(),
            Some("2020-03-01T02:00:00.000000Z")
        );
        assert_eq!(
            f(" 1969-12-31 23:59:59 ").as_deref(),
            Some("1969-12-31T23:59:59.000000Z")
        );
        // Every form humantime reads gives the same instant.
        assert_eq!(
            parse_log_time("2016-12-22T04:36:49.512345Z"),
            parse_rfc3339("2016-12-22T04:36:49.512345Z").ok()
        );
        for bad in [
            "",
            "2020-02-30 00:00:00",
            "2021-02-29 00:00:00",
            "2020-13-01 00:00:00",
            "2020-08-06 24:00:00",
            "2020-08-06 15:56:22.",
            "2020-08-06 15:56:22.770Zjunk",
            "2020-08-06 15:56:22+2",
            "2020/08/06 15:56:22",
            "2020-08-06",
            "２020-08-06 15:56:22",
            // Outside what a Ts holds.
            "0001-01-01 00:00:00.000",
            "9999-12-31T23:59:59Z",
            "1700-01-01 00:00:00.000",
            "2200-01-01 00:00:00.000",
        ] {
            assert_eq!(parse_log_time(bad), None, "{bad:?}");
        }
    }
}
