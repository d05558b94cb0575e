//! [`DateValue`]: a date as engines exchange it.

use std::fmt;

use jiff::Timestamp;
use jiff::tz::Offset;

/// A date as engines exchange it: an instant plus the UTC offset it was written with.
///
/// Keeping the offset means a date read from the engine goes back byte for byte
/// (`2015-10-06T16:34:42.000+0200` stays `+0200`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateValue {
    /// The instant.
    pub timestamp: Timestamp,
    /// The offset from UTC the date is expressed in.
    pub offset: Offset,
}

impl DateValue {
    /// A date at `timestamp`, expressed in UTC.
    pub fn utc(timestamp: Timestamp) -> Self {
        Self {
            timestamp,
            offset: Offset::UTC,
        }
    }

    /// Camunda's date format: `yyyy-MM-dd'T'HH:mm:ss.SSS+hhmm`.
    pub fn to_camunda_string(&self) -> String {
        let dt = self.offset.to_datetime(self.timestamp);
        let secs = self.offset.seconds();
        let sign = if secs < 0 { '-' } else { '+' };
        let abs = secs.unsigned_abs();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{}{:02}{:02}",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second(),
            dt.subsec_nanosecond() / 1_000_000,
            sign,
            abs / 3600,
            (abs % 3600) / 60
        )
    }

    /// Parse Camunda's date format `yyyy-MM-dd'T'HH:mm:ss.SSS+hhmm`; also accepts RFC 3339
    /// (`...Z`, `+02:00`) and a missing fraction, which other engines send. An offset with
    /// seconds (`+042201`) is refused: neither format has them, and Camunda's could not write
    /// the date back.
    pub fn parse(text: &str) -> Result<Self, DateParseError> {
        let err = || DateParseError {
            text: text.to_owned(),
        };
        let formats = [
            "%Y-%m-%dT%H:%M:%S%.f%z",
            "%Y-%m-%dT%H:%M:%S%z",
            "%Y-%m-%dT%H:%M:%S%.f%:z",
            "%Y-%m-%dT%H:%M:%S%:z",
        ];
        for format in formats {
            if let Ok(parsed) = jiff::fmt::strtime::parse(format, text)
                && let (Ok(ts), Some(offset)) = (parsed.to_timestamp(), parsed.offset())
            {
                if offset.seconds() % 60 != 0 {
                    return Err(err());
                }
                return Ok(Self {
                    timestamp: ts,
                    offset,
                });
            }
        }
        if let Some(stripped) = text.strip_suffix('Z')
            && let Ok(dt) = stripped.parse::<jiff::civil::DateTime>()
            && let Ok(ts) = dt.to_zoned_datetime(jiff::tz::TimeZone::UTC)
        {
            return Ok(Self::utc(ts.timestamp()));
        }
        Err(err())
    }
}

impl fmt::Debug for DateValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Date({})", self.to_camunda_string())
    }
}

impl fmt::Display for DateValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_camunda_string())
    }
}

/// A date string that is not in a supported format.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "'{text}' is not a date in the format yyyy-MM-dd'T'HH:mm:ss.SSS+hhmm (e.g. 2015-10-06T16:34:42.000+0200)"
)]
pub struct DateParseError {
    /// The text that failed to parse.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `date_value` fuzz target: jiff's `%z` reads `+HHMMSS`, but Camunda's format
    /// writes hours and minutes only, so the date written back named another instant.
    #[test]
    fn an_offset_with_seconds_is_refused() {
        for text in [
            "0215-10-\t\t\t\t06T16:34:42+042201",
            "2015-10-06T16:34:42.000+042201",
            "2015-10-06T16:34:42.000+04:22:01",
        ] {
            let err = DateValue::parse(text).map(|d| d.to_camunda_string());
            assert!(err.is_err(), "{text:?} read as {err:?}");
        }
        let whole =
            DateValue::parse("2015-10-06T16:34:42.000+042200").map(|d| d.to_camunda_string());
        assert_eq!(whole.ok().as_deref(), Some("2015-10-06T16:34:42.000+0422"));
    }
}
