//! Packet timestamps. Analysis time always comes from packets, never from the wall clock.

use std::fmt;

/// Nanoseconds since the Unix epoch, as carried by the capture.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp(0);

    pub fn from_secs_nanos(secs: u64, nanos: u64) -> Timestamp {
        Timestamp(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
    }

    pub fn secs(self) -> u64 {
        self.0 / 1_000_000_000
    }

    pub fn subsec_nanos(self) -> u32 {
        (self.0 % 1_000_000_000) as u32
    }

    /// RFC 3339 in UTC with microsecond precision when the fraction is a whole number of
    /// microseconds, else nanoseconds (`2015-10-22T09:12:35.123456Z`).
    pub fn rfc3339(self) -> String {
        self.to_string()
    }

    /// Parses the form [`Timestamp::rfc3339`] writes (UTC, `Z` suffix, optional fraction).
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let s = s.strip_suffix('Z')?;
        let (date, time) = s.split_once('T')?;
        let mut d = date.splitn(3, '-');
        let year: i64 = d.next()?.parse().ok()?;
        let month: u32 = d.next()?.parse().ok()?;
        let day: u32 = d.next()?.parse().ok()?;
        let (hms, frac) = match time.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (time, None),
        };
        let mut t = hms.splitn(3, ':');
        let h: u64 = t.next()?.parse().ok()?;
        let mi: u64 = t.next()?.parse().ok()?;
        let se: u64 = t.next()?.parse().ok()?;
        let nanos = match frac {
            Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
                f.parse::<u64>().ok()? * 10u64.pow(9 - f.len() as u32)
            }
            Some(_) => return None,
            None => 0,
        };
        let days = days_from_civil(year, month, day);
        if days < 0 || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        Some(Timestamp::from_secs_nanos(
            days as u64 * 86_400 + h * 3600 + mi * 60 + se,
            nanos,
        ))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.secs();
        let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
        let rem = secs % 86_400;
        write!(
            f,
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        )?;
        let ns = self.subsec_nanos();
        if ns % 1000 == 0 {
            write!(f, ".{:06}Z", ns / 1000)
        } else {
            write!(f, ".{ns:09}Z")
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

// Howard Hinnant's civil-calendar algorithms (public domain description of the proleptic
// Gregorian calendar), valid for all dates we can meet in a capture.
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

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(Timestamp(0).rfc3339(), "1970-01-01T00:00:00.000000Z");
        // 2015-10-22 09:12:35.5 UTC
        let t = Timestamp::from_secs_nanos(1_445_505_155, 500_000_000);
        assert_eq!(t.rfc3339(), "2015-10-22T09:12:35.500000Z");
        assert_eq!(
            Timestamp::from_secs_nanos(951_782_400, 7).rfc3339(),
            "2000-02-29T00:00:00.000000007Z"
        );
    }

    #[test]
    fn parses_what_it_writes() {
        for t in [
            0,
            1_445_505_155_500_000_000,
            951_782_400_000_000_007,
            4_102_444_800_000_001_000,
        ] {
            let ts = Timestamp(t);
            assert_eq!(Timestamp::parse_rfc3339(&ts.rfc3339()), Some(ts));
        }
        assert_eq!(Timestamp::parse_rfc3339("garbage"), None);
    }
}
