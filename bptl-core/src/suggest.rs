//! "Did you mean ...?": the one rule that picks what a misspelt name may have meant, used for
//! configuration keys, environment overrides and unit paths alike.

/// The known names that `word` is most likely a typo of, sorted; empty when none is close.
///
/// Names are compared without regard to case by their Levenshtein distance ([`strsim`]); a
/// name is close when at most 2 edits, or a third of its length, away. A unit path (`a::B`)
/// whose last segment equals `word`'s last segment counts as an exact match (the unit is in
/// another module, or `word` names it without its module). Only the closest names are returned (several when they are equally close).
///
/// ```
/// use bptl_core::suggest::did_you_mean;
/// let keys = ["max_tasks", "lock_duration", "timeout"];
/// assert_eq!(did_you_mean("max_task", keys), ["max_tasks"]);
/// assert_eq!(did_you_mean("colour", keys), Vec::<&str>::new());
/// let units = ["bptl_dummy::Double", "bptl_dummy::echo", "other::Double"];
/// assert_eq!(did_you_mean("bptl_dummy::double", units), ["bptl_dummy::Double", "other::Double"]);
/// ```
pub fn did_you_mean<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let word_lower = word.to_lowercase();
    let word_short = short_name(&word_lower);
    let mut best: Vec<(usize, &'a str)> = Vec::new();
    for name in known {
        let lower = name.to_lowercase();
        let distance = if name.contains("::") && short_name(&lower) == word_short {
            0
        } else {
            strsim::levenshtein(&word_lower, &lower)
        };
        if distance > 2.max(name.chars().count() / 3) {
            continue;
        }
        match best.first() {
            Some((d, _)) if *d < distance => {}
            Some((d, _)) if *d > distance => best = vec![(distance, name)],
            _ => best.push((distance, name)),
        }
    }
    let mut names: Vec<&'a str> = best.into_iter().map(|(_, name)| name).collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// "did you mean 'a'?" or "did you mean 'a', 'b'?" for [`did_you_mean`]'s answer; `None` when
/// it is empty.
pub fn did_you_mean_text(names: &[&str]) -> Option<String> {
    (!names.is_empty()).then(|| format!("did you mean '{}'?", names.join("', '")))
}

fn short_name(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn typos_a_few_edits_away_are_suggested() {
        assert_eq!(
            strsim::levenshtein("bptl_dummy::Dubble", "bptl_dummy::Double"),
            2
        );
        assert_eq!(strsim::levenshtein("", "abc"), 3);
        assert_eq!(strsim::levenshtein("same", "same"), 0);
        assert_eq!(strsim::levenshtein("kitten", "sitting"), 3);
        let keys = [
            "retries",
            "retry_timeout",
            "retry_backoff",
            "max_retry_timeout",
        ];
        assert_eq!(did_you_mean("retrys", keys), ["retries"]);
        assert_eq!(did_you_mean("retry_timout", keys), ["retry_timeout"]);
        assert_eq!(did_you_mean("RETRIES", keys), ["retries"]);
        assert!(did_you_mean("colour", keys).is_empty());
        let units = ["bptl_dummy::Double", "bptl_dummy::fetch_json"];
        assert_eq!(
            did_you_mean("bptl_dummy::Dubble", units),
            ["bptl_dummy::Double"]
        );
        assert_eq!(
            did_you_mean("my_units::Double", units),
            ["bptl_dummy::Double"]
        );
        assert!(did_you_mean("my_units::CreateZaak", units).is_empty());
    }
}
