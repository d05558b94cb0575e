//! Human-friendly durations for configuration: `500ms`, `30s`, `5m`, `1h30m`, `2d` (jiff's
//! friendly format), or ISO 8601 such as `PT5M`.

use std::time::Duration;

use jiff::{Span, SpanRelativeTo};

/// A duration string that could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.message())]
pub struct DurationParseError {
    /// The text that failed to parse.
    pub text: String,
    /// Whether the text was well formed but longer than a duration can be.
    pub too_large: bool,
}

impl DurationParseError {
    fn message(&self) -> String {
        let text = &self.text;
        if self.too_large {
            format!(
                "'{text}' is too long a duration: write at most {} (100 years), e.g. \"30d\"",
                format_duration(MAX_DURATION)
            )
        } else {
            format!(
                "'{text}' is not a duration: write a number with a unit, e.g. \"500ms\", \"30s\", \"5m\", \"1h30m\" (units: ms, s, m, h, d)"
            )
        }
    }
}

/// The longest duration [`parse_duration`] accepts: 100 years of 365.25 days (`36525d`).
///
/// Longer ones are refused as too large: an instant that far ahead may not exist
/// (`Instant + d` panics), and [`format_duration`] writes days, which jiff reads up to about
/// 20,000 years only.
pub const MAX_DURATION: Duration = Duration::from_secs(36_525 * 86_400);

/// Parse a duration in jiff's friendly format (`500ms`, `30s`, `5m`, `1h30m`, `2d`,
/// `1h 30min`; a day is 24 hours) or in ISO 8601 (`PT5M`, `P1DT12H`). A plain number is refused
/// to avoid ambiguity (write the unit), and so are negative durations, months, years and
/// durations over [`MAX_DURATION`].
///
/// ```
/// use bptl_core::duration::parse_duration;
/// use std::time::Duration;
/// assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
/// assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
/// assert_eq!(parse_duration("PT5M").unwrap(), Duration::from_secs(300));
/// assert!(parse_duration("5 parsecs").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationParseError> {
    let error = |too_large| DurationParseError {
        text: text.to_owned(),
        too_large,
    };
    let trimmed = text.trim();
    if let Some(d) = to_duration(trimmed) {
        return Ok(d);
    }
    // Well formed but too large: the same text with every number made small would parse.
    let mut small = String::with_capacity(trimmed.len());
    let mut in_number = false;
    for c in trimmed.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                small.push('1');
            }
            in_number = true;
        } else {
            small.push(c);
            in_number = false;
        }
    }
    Err(error(small != trimmed && to_duration(&small).is_some()))
}

/// Deserialise a duration string as [`parse_duration`] reads it, for
/// `#[serde(deserialize_with = "bptl_core::duration::deserialize")]`.
pub fn deserialize<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    deserializer.deserialize_any(DurationVisitor)
}

/// [`deserialize`] for an optional duration.
pub fn deserialize_option<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    deserialize(deserializer).map(Some)
}

struct DurationVisitor;

impl serde::de::Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a duration string such as \"30s\" or \"5m\"")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Duration, E> {
        parse_duration(text).map_err(E::custom)
    }
}

/// `text` as a non-negative duration up to [`MAX_DURATION`], days being 24 hours.
fn to_duration(text: &str) -> Option<Duration> {
    let span: Span = text.parse().ok()?;
    let signed = span.to_duration(SpanRelativeTo::days_are_24_hours()).ok()?;
    Duration::try_from(signed)
        .ok()
        .filter(|d| *d <= MAX_DURATION)
}

/// Format a duration compactly: `1.5s`, `250ms`, `5m`, `1h30m`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if ms < 60_000 {
        let secs = d.as_secs_f64();
        return if ms.is_multiple_of(1000) {
            format!("{}s", ms / 1000)
        } else {
            format!("{secs:.1}s")
        };
    }
    let secs = d.as_secs();
    let (days, h, m, s) = (
        secs / 86_400,
        (secs % 86_400) / 3600,
        (secs % 3600) / 60,
        secs % 60,
    );
    let mut out = String::new();
    if days > 0 {
        out.push_str(&format!("{days}d"));
    }
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        assert_eq!(parse_duration("5m").ok(), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("30s").ok(), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_duration("1.5s").ok(),
            Some(Duration::from_millis(1500))
        );
        assert!(parse_duration("30").is_err());
        // Too large for a `Duration`: an error, never a panic.
        let huge = parse_duration("99999999999999999999d")
            .map(|_| ())
            .unwrap_err();
        assert!(huge.to_string().contains("too long a duration"), "{huge}");
        assert!(parse_duration("18446744073709551615s1s").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-5m").is_err());
        assert!(parse_duration("1 month").is_err());
        assert_eq!(
            parse_duration("2d").ok(),
            Some(Duration::from_secs(172_800))
        );
        assert_eq!(
            parse_duration("1h 30min").ok(),
            Some(Duration::from_secs(5400))
        );
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(30 * 86_400)), "30d");
        assert_eq!(format_duration(Duration::from_secs(86_400 + 3600)), "1d1h");
        assert_eq!(format_duration(Duration::from_millis(20)), "20ms");
    }

    /// Found by the `duration` fuzz target: jiff read 666600336666720ms (21,000 years), which
    /// `format_duration` wrote as `7715281d16h11m6s`, more days than jiff reads back.
    #[test]
    fn durations_over_a_hundred_years_are_refused() {
        let err = parse_duration("00666600336666720ms").unwrap_err();
        assert!(err.too_large, "{err}");
        assert_eq!(
            err.to_string(),
            "'00666600336666720ms' is too long a duration: write at most 36525d (100 years), e.g. \"30d\""
        );
        assert_eq!(parse_duration("36525d").ok(), Some(MAX_DURATION));
        assert!(parse_duration("36525d1ms").unwrap_err().too_large);
        let max = format_duration(MAX_DURATION);
        assert_eq!(parse_duration(&max).ok(), Some(MAX_DURATION));
    }

    #[test]
    fn iso_8601_durations_are_accepted() {
        assert_eq!(parse_duration("PT5M").ok(), Some(Duration::from_secs(300)));
        assert_eq!(
            parse_duration("pt1h30m").ok(),
            Some(Duration::from_secs(5400))
        );
        assert_eq!(
            parse_duration("P1DT12H").ok(),
            Some(Duration::from_secs(129_600))
        );
        assert_eq!(
            parse_duration("PT0.5S").ok(),
            Some(Duration::from_millis(500))
        );
    }

    #[test]
    fn a_bad_value_says_what_to_write() {
        let bad = parse_duration("soon").unwrap_err().to_string();
        assert_eq!(
            bad,
            "'soon' is not a duration: write a number with a unit, e.g. \"500ms\", \"30s\", \"5m\", \"1h30m\" (units: ms, s, m, h, d)"
        );
        assert!(!parse_duration("PT5X").unwrap_err().too_large);
        assert!(
            parse_duration("PT99999999999999999999S")
                .unwrap_err()
                .too_large
        );
    }
}
