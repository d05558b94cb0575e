//! The overview's chart: completed, BPMN errors and failures per hour over the last 24 hours,
//! as inline SVG (no JavaScript), stacked bars with a legend and a value in each bar's title.

use bptl_core::HourlyRow;
use jiff::{SignedDuration, Timestamp};
use maud::{Markup, html};

const WIDTH: i64 = 960;
const HEIGHT: i64 = 240;
const LEFT: i64 = 48;
const BOTTOM: i64 = 28;
const TOP: i64 = 12;

/// The 24 hours ending with the current one, each with its counts (zero when absent).
pub(crate) fn last_24_hours(rows: &[HourlyRow], now: Timestamp) -> Vec<HourlyRow> {
    let current = bptl_core::store::hour_of(now);
    (0..24)
        .rev()
        .map(|back| {
            let hour = current - SignedDuration::from_hours(back);
            rows.iter()
                .find(|r| r.hour == hour)
                .copied()
                .unwrap_or(HourlyRow {
                    hour,
                    completed: 0,
                    bpmn_errors: 0,
                    failed: 0,
                })
        })
        .collect()
}

fn scale(count: u64, max: u64) -> i64 {
    let plot = u64::try_from(HEIGHT - TOP - BOTTOM).unwrap_or(1);
    i64::try_from(count.saturating_mul(plot) / max.max(1)).unwrap_or(0)
}

/// The chart of `hours` (24 rows, oldest first).
pub(crate) fn chart(hours: &[HourlyRow]) -> Markup {
    let max = hours
        .iter()
        .map(|h| h.completed + h.bpmn_errors + h.failed)
        .max()
        .unwrap_or(0)
        .max(1);
    let n = i64::try_from(hours.len().max(1)).unwrap_or(24);
    let slot = (WIDTH - LEFT) / n;
    let bar = (slot * 7 / 10).max(1);
    let base = HEIGHT - BOTTOM;
    html! {
        svg class="chart" viewBox={ "0 0 " (WIDTH) " " (HEIGHT + 24) } role="img"
            aria-label="Completed, BPMN errors and failed tasks per hour, last 24 hours"
            xmlns="http://www.w3.org/2000/svg" {
            title { "Completed, BPMN errors and failed tasks per hour, last 24 hours" }
            line x1=(LEFT) y1=(base) x2=(WIDTH) y2=(base) stroke="#888" {}
            line x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(base) stroke="#888" {}
            text x=(LEFT - 6) y=(TOP + 4) text-anchor="end" font-size="11" fill="#444" { (max) }
            text x=(LEFT - 6) y=(base) text-anchor="end" font-size="11" fill="#444" { "0" }
            @for (i, h) in hours.iter().enumerate() {
                @let i = i64::try_from(i).unwrap_or(0);
                @let x = LEFT + i * slot + (slot - bar) / 2;
                @let c = scale(h.completed, max);
                @let b = scale(h.bpmn_errors, max);
                @let f = scale(h.failed, max);
                @let label = h.hour.strftime("%H:00").to_string();
                g.bar {
                    title { (label) " UTC: " (h.completed) " completed, " (h.bpmn_errors) " BPMN errors, " (h.failed) " failed" }
                    rect x=(x) y=(base - c) width=(bar) height=(c) fill="#2e7d32" {}
                    rect x=(x) y=(base - c - b) width=(bar) height=(b) fill="#ef8f00" {}
                    rect x=(x) y=(base - c - b - f) width=(bar) height=(f) fill="#c62828" {}
                }
                @if i % 3 == 0 {
                    text x=(x + bar / 2) y=(base + 16) text-anchor="middle" font-size="11" fill="#444" { (label) }
                }
            }
            g font-size="12" fill="#222" {
                rect x=(LEFT) y=(HEIGHT + 6) width="12" height="12" fill="#2e7d32" {}
                text x=(LEFT + 18) y=(HEIGHT + 16) { "completed" }
                rect x=(LEFT + 110) y=(HEIGHT + 6) width="12" height="12" fill="#ef8f00" {}
                text x=(LEFT + 128) y=(HEIGHT + 16) { "BPMN error" }
                rect x=(LEFT + 230) y=(HEIGHT + 6) width="12" height="12" fill="#c62828" {}
                text x=(LEFT + 248) y=(HEIGHT + 16) { "failed" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_has_24_hours_with_their_counts_in_order() {
        let now: Timestamp = "2026-12-02T10:30:00Z".parse().unwrap_or_default();
        let hour: Timestamp = "2026-12-02T08:00:00Z".parse().unwrap_or_default();
        let rows = [HourlyRow {
            hour,
            completed: 5,
            bpmn_errors: 1,
            failed: 2,
        }];
        let hours = last_24_hours(&rows, now);
        assert_eq!(hours.len(), 24);
        assert_eq!(hours[23].hour.to_string(), "2026-12-02T10:00:00Z");
        assert_eq!(hours[21], rows[0]);
        assert_eq!(hours[0].completed + hours[0].failed, 0);
        let svg = chart(&hours).into_string();
        assert!(
            svg.contains("08:00 UTC: 5 completed, 1 BPMN errors, 2 failed"),
            "{svg}"
        );
        assert_eq!(svg.matches("<rect").count(), 24 * 3 + 3);
    }
}
