//! Human-friendly durations for configuration: `500ms`, `30s`, `5m`, `1h30m`, `2d`.

use std::time::Duration;

/// A duration string that could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.message())]
pub struct DurationParseError {
    /// The text that failed to parse.
    pub text: String,
    /// Whether the text was well formed but longer than a duration can be (about 584 942
    /// years).
    pub too_large: bool,
}

impl DurationParseError {
    fn message(&self) -> String {
        let text = &self.text;
        if self.too_large {
            format!("'{text}' is too long a duration: write at most a few years, e.g. \"30d\"")
        } else {
            format!(
                "'{text}' is not a duration: write a number with a unit, e.g. \"500ms\", \"30s\", \"5m\", \"1h30m\" (units: ms, s, m, h, d)"
            )
        }
    }
}

/// Parse `500ms`, `30s`, `5m`, `1h30m`, `2d` (a plain number means seconds is refused to
/// avoid ambiguity; write the unit).
///
/// ```
/// use bptl_core::duration::parse_duration;
/// use std::time::Duration;
/// assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
/// assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
/// assert!(parse_duration("5 parsecs").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationParseError> {
    let err = || DurationParseError {
        text: text.to_owned(),
        too_large: false,
    };
    let too_large = || DurationParseError {
        text: text.to_owned(),
        too_large: true,
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(err());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        if digits == 0 {
            return Err(err());
        }
        let number: f64 = rest[..digits].parse().map_err(|_| err())?;
        rest = rest[digits..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        let millis = match unit {
            "ms" => 1.0,
            "s" | "sec" | "secs" => 1_000.0,
            "m" | "min" | "mins" => 60_000.0,
            "h" | "hr" | "hrs" => 3_600_000.0,
            "d" | "day" | "days" => 86_400_000.0,
            _ => return Err(err()),
        };
        // `try_from`: a number too large for a `Duration` is an error to report, not a panic.
        let part =
            Duration::try_from_secs_f64(number * millis / 1000.0).map_err(|_| too_large())?;
        total = total.checked_add(part).ok_or_else(too_large)?;
    }
    Ok(total)
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
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(30 * 86_400)), "30d");
        assert_eq!(format_duration(Duration::from_secs(86_400 + 3600)), "1d1h");
        assert_eq!(format_duration(Duration::from_millis(20)), "20ms");
    }
}
