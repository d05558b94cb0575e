//! Cron expressions on jiff's time: croner parses and searches the expression, this module
//! gives it jiff 1's zoned times (croner's own jiff support targets an older jiff).

use std::cmp::Ordering;

use croner::errors::CronError;
use croner::parser::{CronParser, Seconds};
use croner::{CivilDate, CivilDateTime, CivilTime, Cron, CronDateTime, Resolution, Weekday};
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp, ZonedDateTime};

/// A parsed cron expression: 5 fields (minute hour day-of-month month day-of-week) or 6 (with
/// seconds first), as croner reads them (`*/5`, `1-5`, `MON-FRI`, `L`, `#`, `W`).
#[derive(Debug, Clone)]
pub(crate) struct CronExpr(Cron);

impl CronExpr {
    /// Parse `text`; the error says what is wrong in croner's words.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let fields = text.split_whitespace().count();
        if !(5..=6).contains(&fields) {
            return Err(format!(
                "'{text}' has {fields} field(s): write 5 (minute hour day month weekday, e.g. \"0 2 * * *\") or 6 with seconds first (e.g. \"*/10 * * * * *\")"
            ));
        }
        CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(text)
            .map(CronExpr)
            .map_err(|e| {
                let order = if fields == 5 {
                    "minute hour day-of-month month day-of-week"
                } else {
                    "second minute hour day-of-month month day-of-week"
                };
                format!("'{text}' is not a cron expression ({order}): {e}")
            })
    }

    /// The first tick strictly after `after`, in `zone`'s wall-clock time (`None`: none within
    /// croner's search range).
    pub(crate) fn next_after(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let start = Wall(after.to_zoned_datetime(zone.clone()));
        self.0
            .find_next_occurrence(&start, false)
            .ok()
            .map(|w| w.0.timestamp())
    }

    /// The last tick at or before `at`.
    pub(crate) fn last_at_or_before(&self, at: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let start = Wall(at.to_zoned_datetime(zone.clone()));
        self.0
            .find_previous_occurrence(&start, true)
            .ok()
            .map(|w| w.0.timestamp())
    }
}

/// A zoned time as croner's search sees it.
#[derive(Debug, Clone)]
struct Wall(ZonedDateTime);

fn civil(dt: DateTime) -> CivilDateTime {
    // jiff keeps every part in range.
    CivilDateTime::new(
        CivilDate::from_parts_unchecked(
            i32::from(dt.year()),
            dt.month().unsigned_abs().into(),
            dt.day().unsigned_abs().into(),
        ),
        CivilTime::from_parts_unchecked(
            dt.hour().unsigned_abs().into(),
            dt.minute().unsigned_abs().into(),
            dt.second().unsigned_abs().into(),
        ),
    )
}

fn part(n: u32) -> Result<i8, CronError> {
    i8::try_from(n).map_err(|_| CronError::InvalidDate)
}

impl CronDateTime for Wall {
    fn to_civil(&self) -> CivilDateTime {
        civil(self.0.datetime())
    }

    fn civil_weekday(&self) -> Weekday {
        Weekday::from_days_from_sunday(
            self.0
                .weekday()
                .to_sunday_zero_offset()
                .unsigned_abs()
                .into(),
        )
    }

    fn resolve_civil(&self, c: CivilDateTime) -> Result<Resolution<Self>, CronError> {
        let year = i16::try_from(c.year()).map_err(|_| CronError::InvalidDate)?;
        let dt = DateTime::new(
            year,
            part(c.month())?,
            part(c.day())?,
            part(c.hour())?,
            part(c.minute())?,
            part(c.second())?,
            0,
        )
        .map_err(|_| CronError::InvalidDate)?;
        let ambiguous = self.0.time_zone().to_ambiguous_zoned_datetime(dt);
        let invalid = |_| CronError::InvalidTime;
        Ok(match ambiguous.offset() {
            AmbiguousOffset::Unambiguous { .. } => {
                Resolution::Single(Wall(ambiguous.unambiguous().map_err(invalid)?))
            }
            AmbiguousOffset::Fold { .. } => Resolution::Ambiguous(
                Wall(ambiguous.clone().earlier().map_err(invalid)?),
                Wall(ambiguous.later().map_err(invalid)?),
            ),
            AmbiguousOffset::Gap { .. } => Resolution::Gap,
        })
    }

    fn checked_add_seconds(&self, seconds: i64) -> Option<Self> {
        self.0
            .checked_add(SignedDuration::from_secs(seconds))
            .ok()
            .map(Wall)
    }

    fn cmp_instant(&self, other: &Self) -> Ordering {
        self.0.timestamp().cmp(&other.0.timestamp())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn five_and_six_fields_tick_in_their_zone() {
        let amsterdam = TimeZone::get("Europe/Amsterdam").unwrap();
        let nightly = CronExpr::parse("0 2 * * *").unwrap();
        // 02:00 in Amsterdam is 01:00 UTC in winter.
        assert_eq!(
            nightly.next_after(ts("2026-12-02T14:00:00Z"), &amsterdam),
            Some(ts("2026-12-03T01:00:00Z"))
        );
        let every_ten = CronExpr::parse("*/10 * * * * *").unwrap();
        assert_eq!(
            every_ten.next_after(ts("2026-12-02T14:00:00Z"), &TimeZone::UTC),
            Some(ts("2026-12-02T14:00:10Z"))
        );
        assert_eq!(
            every_ten.last_at_or_before(ts("2026-12-02T14:00:19.5Z"), &TimeZone::UTC),
            Some(ts("2026-12-02T14:00:10Z"))
        );
        assert_eq!(
            every_ten.last_at_or_before(ts("2026-12-02T14:00:10Z"), &TimeZone::UTC),
            Some(ts("2026-12-02T14:00:10Z"))
        );
    }

    #[test]
    fn a_tick_in_a_dst_gap_is_not_invented_twice() {
        // 2026-03-29: Amsterdam skips from 02:00 to 03:00.
        let amsterdam = TimeZone::get("Europe/Amsterdam").unwrap();
        let hourly = CronExpr::parse("30 * * * *").unwrap();
        let after_one = hourly
            .next_after(ts("2026-03-29T00:30:00Z"), &amsterdam)
            .unwrap();
        assert_eq!(
            after_one,
            ts("2026-03-29T01:30:00Z"),
            "03:30 local, 02:30 does not exist"
        );
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        let err = CronExpr::parse("0 2 * *").unwrap_err();
        assert!(err.contains("has 4 field(s)"), "{err}");
        let err = CronExpr::parse("0 25 * * *").unwrap_err();
        assert!(
            err.starts_with("'0 25 * * *' is not a cron expression"),
            "{err}"
        );
    }
}
