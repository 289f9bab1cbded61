//! RFC 3339 rendering of [`Ts`] without a date-time dependency.
//!
//! Every report shows times the same way (UTC, `Z`, fraction), and must do so
//! for any 64-bit timestamp a capture can carry, so the civil-date conversion
//! is done here once (Howard Hinnant's `civil_from_days`).

use std::fmt;

use crate::event::Ts;

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
fn civil_from_days(z: i64) -> (i64, u32, u32) {
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
}
