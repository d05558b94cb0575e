//! Camunda's lenient date parsing (Java's `SimpleDateFormat`), for `Date` variables.

/// Parses a `Date` value the way Camunda's REST layer does: Java's lenient
/// `SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss.SSSZ")`. Returns milliseconds since the epoch.
///
/// Lenient means: numeric fields take any number of digits (`2015-1-6T1:2:3.4+0200`), values
/// out of range roll over (month 13 is January of the next year, February 30th is March 2nd,
/// hour 25 is 1 o'clock the next day), the zone is `+hhmm`/`-hhmm` or `GMT+hh:mm`, and text
/// after the zone is ignored. `+02:00`, `Z` and a missing `.SSS` are refused, as Camunda does.
pub(crate) fn parse_camunda_date(text: &str) -> Option<i64> {
    let mut rest = text;
    let mut fields = [0i64; 7];
    let separators = ['-', '-', 'T', ':', ':', '.'];
    for (i, field) in fields.iter_mut().enumerate() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        *field = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        if let Some(sep) = separators.get(i) {
            rest = rest.strip_prefix(*sep)?;
        }
    }
    let offset_minutes = parse_zone(rest)?;
    let [year, month, day, hour, minute, second, millis] = fields;
    // Lenient calendar arithmetic: start at January 1st of the year, add the fields.
    let year = i16::try_from(year).ok()?;
    let base = jiff::civil::Date::new(year, 1, 1).ok()?;
    let date = base
        .checked_add(jiff::Span::new().try_months(month - 1).ok()?)
        .ok()?
        .checked_add(jiff::Span::new().try_days(day - 1).ok()?)
        .ok()?;
    let midnight = jiff::tz::TimeZone::UTC
        .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .ok()?
        .as_millisecond();
    let time = ((hour * 60 + minute) * 60 + second) * 1000 + millis;
    Some(midnight + time - offset_minutes * 60_000)
}

/// The zone of a Camunda date (`+hhmm`, `-hhmm`, `GMT+hh:mm`, `GMT+h`); text after it is
/// ignored, as `SimpleDateFormat.parse` does. Returns the offset in minutes.
fn parse_zone(text: &str) -> Option<i64> {
    let (text, general) = match text.strip_prefix("GMT") {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let sign = match text.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ if general => return Some(0),
        _ => return None,
    };
    let text = &text[1..];
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (hours, minutes) = if general {
        let hours: i64 = text.get(..digits.min(2))?.parse().ok()?;
        let after = &text[digits.min(2)..];
        let minutes = match after.strip_prefix(':') {
            Some(m) => m.get(..2)?.parse().ok()?,
            None => 0,
        };
        (hours, minutes)
    } else {
        if digits < 4 {
            return None;
        }
        (text[..2].parse().ok()?, text[2..4].parse().ok()?)
    };
    Some(sign * (hours * 60 + minutes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_parsed_as_leniently_as_camunda_does() {
        let utc = |s: &str| {
            parse_camunda_date(s).map(|ms| {
                jiff::Timestamp::from_millisecond(ms)
                    .map(|t| t.to_string())
                    .unwrap_or_default()
            })
        };
        assert_eq!(
            utc("2015-10-06T16:34:42.000+0200").as_deref(),
            Some("2015-10-06T14:34:42Z")
        );
        // What Operaton 1.0 and Camunda 7.24 store (tests/fixtures/transcripts/*/errors.json).
        assert_eq!(
            utc("2015-13-06T16:34:42.000+0200").as_deref(),
            Some("2016-01-06T14:34:42Z")
        );
        assert_eq!(
            utc("2015-02-30T16:34:42.000+0200").as_deref(),
            Some("2015-03-02T14:34:42Z")
        );
        assert_eq!(
            utc("2015-10-06T25:00:00.000+0000").as_deref(),
            Some("2015-10-07T01:00:00Z")
        );
        assert_eq!(
            utc("2015-1-6T1:2:3.4+0200").as_deref(),
            Some("2015-01-05T23:02:03.004Z")
        );
        assert_eq!(
            utc("2015-10-06T16:34:42.000GMT+02:00").as_deref(),
            Some("2015-10-06T14:34:42Z")
        );
        assert_eq!(
            utc("2015-10-06T16:34:42.000+0200 and more").as_deref(),
            Some("2015-10-06T14:34:42Z")
        );
        for refused in [
            "2015-10-06T16:34:42+02:00",
            "2015-10-06T16:34:42+0200",
            "2015-10-06T16:34:42.000Z",
            "2015-10-06T16:34:42.000+02:00",
            "2015-10-06",
            "tomorrow",
        ] {
            assert_eq!(parse_camunda_date(refused), None, "{refused}");
        }
    }
}
