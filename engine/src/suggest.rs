//! "Did you mean": the closest names to a misspelt one.

/// Up to three candidates close to `wrong`, closest first; none if nothing is close.
pub fn closest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let w = wrong.to_lowercase();
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter_map(|c| {
            let d = strsim::damerau_levenshtein(&w, &c.to_lowercase());
            let limit = (w.chars().count().max(c.chars().count()) / 3).max(1);
            // A part of a longer id (`ressource` for `metropole-ressource`) is a strong hint.
            let lc = c.to_lowercase();
            let prefix = c.len() >= 4 && w.len() >= 4 && (lc.contains(&w) || w.contains(&lc));
            (((d <= limit) && d < w.chars().count().max(c.chars().count())) || prefix)
                .then_some((if prefix { d.min(limit) } else { d }, c))
        })
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn finds_typos_and_ignores_strangers() {
        let ids = ["atelier-elus", "label-diversite", "guide-bonnes-pratiques"];
        assert_eq!(closest("atelier-elu", ids), vec!["atelier-elus"]);
        assert_eq!(closest("label-diversit", ids), vec!["label-diversite"]);
        assert!(closest("budget", ids).is_empty());
        assert_eq!(
            closest("ressource", ["metropole-ressource", "metropole-exemplaire"]),
            vec!["metropole-ressource"]
        );
    }
}
