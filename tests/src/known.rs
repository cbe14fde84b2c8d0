//! Known-failures lists (`tests/known-failures/*.txt`) and the tally of one replay.
//!
//! A list holds one case key per line, then `# reason`. A case on it still counts as failed
//! (it is not passing), and the tally says so; the list only stops the run from failing on
//! it. A listed case that passes, a listed case that is skipped or missing, or an unlisted
//! case that fails, fails the run. `CAIRN_UPDATE_KNOWN_FAILURES=1` rewrites a list from the
//! actual results, keeping the reasons written for cases that still fail.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The environment variable that rewrites the lists instead of checking them.
pub const UPDATE_VAR: &str = "CAIRN_UPDATE_KNOWN_FAILURES";

/// One known-failures list: case key -> why it fails.
#[derive(Debug, Clone, Default)]
pub struct KnownFailures {
    path: PathBuf,
    /// `tests/known-failures/<name>`, as messages show it.
    name: String,
    header: String,
    reasons: BTreeMap<String, String>,
}

impl KnownFailures {
    /// `tests/known-failures/<name>`; an absent file is an empty list.
    pub fn read(name: &str) -> anyhow::Result<KnownFailures> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("known-failures")
            .join(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(err) => anyhow::bail!("cannot read {}: {err}", path.display()),
        };
        let mut list = KnownFailures::parse(&text)
            .map_err(|problem| anyhow::anyhow!("{}: {problem}", path.display()))?;
        list.path = path;
        list.name = format!("tests/known-failures/{name}");
        Ok(list)
    }

    /// Parses a list's text. Every entry must give its reason, and name a case once.
    pub fn parse(text: &str) -> Result<KnownFailures, String> {
        let mut header = String::new();
        let mut reasons = BTreeMap::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.starts_with('#') {
                if reasons.is_empty() {
                    header.push_str(line);
                    header.push('\n');
                }
                continue;
            }
            if line.is_empty() {
                continue;
            }
            let (key, reason) = line.split_once('#').unwrap_or((line, ""));
            let (key, reason) = (key.trim(), reason.trim());
            if reason.is_empty() {
                return Err(format!(
                    "line {}: `{key}` gives no reason (`key # reason`)",
                    number + 1
                ));
            }
            if reasons.insert(key.to_owned(), reason.to_owned()).is_some() {
                return Err(format!("line {}: `{key}` is listed twice", number + 1));
            }
        }
        Ok(KnownFailures {
            path: PathBuf::new(),
            name: "(known-failures list)".to_owned(),
            header,
            reasons,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The list as messages name it: `tests/known-failures/<name>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn contains(&self, key: &str) -> bool {
        self.reasons.contains_key(key)
    }

    pub fn reason(&self, key: &str) -> Option<&str> {
        self.reasons.get(key).map(String::as_str)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.reasons.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.reasons.len()
    }

    pub fn is_empty(&self) -> bool {
        self.reasons.is_empty()
    }

    /// The entries for which `keep` holds (one replay's share of a list several replays use).
    pub fn only(&self, keep: impl Fn(&str) -> bool) -> KnownFailures {
        KnownFailures {
            path: self.path.clone(),
            name: self.name.clone(),
            header: self.header.clone(),
            reasons: self
                .reasons
                .iter()
                .filter(|(key, _)| keep(key))
                .map(|(key, reason)| (key.clone(), reason.clone()))
                .collect(),
        }
    }

    /// Whether this run should rewrite the lists rather than check them.
    pub fn updating() -> bool {
        std::env::var_os(UPDATE_VAR).is_some()
    }

    /// Rewrites the list with exactly `failures` (key, problem found this run): a case that was
    /// listed keeps its written reason, a new one gets its problem as the reason.
    pub fn rewrite<'a>(
        &self,
        default_header: &str,
        failures: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> anyhow::Result<()> {
        let mut text = if self.header.is_empty() {
            default_header.to_owned()
        } else {
            self.header.clone()
        };
        let failures: BTreeMap<&str, &str> = failures.into_iter().collect();
        for (key, problem) in failures {
            let reason = match self.reason(key) {
                Some(reason) => reason.to_owned(),
                None => one_line(problem, 200),
            };
            let _ = writeln!(text, "{key} # {reason}");
        }
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&self.path, text)
            .map_err(|err| anyhow::anyhow!("cannot write {}: {err}", self.path.display()))
    }
}

/// A problem text fit for one line of a list: no line breaks, no `#`, at most `limit` chars.
pub fn one_line(text: &str, limit: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| {
            if matches!(c, '\n' | '\r' | '#') {
                ' '
            } else {
                c
            }
        })
        .collect();
    let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= limit {
        flat
    } else {
        let head: String = flat.chars().take(limit).collect();
        format!("{head}…")
    }
}

/// What became of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed(String),
    /// Not run, and why (the same reason text for every case skipped for it: they are counted
    /// by reason).
    Skipped(String),
}

/// The tally of one replay against its known-failures list.
#[derive(Debug)]
pub struct Tally {
    what: String,
    known: KnownFailures,
    passed: usize,
    failed: Vec<(String, String)>,
    skipped: BTreeMap<String, usize>,
    seen: BTreeSet<String>,
    unexpected: Vec<String>,
}

impl Tally {
    pub fn new(what: impl Into<String>, known: KnownFailures) -> Tally {
        Tally {
            what: what.into(),
            known,
            passed: 0,
            failed: Vec::new(),
            skipped: BTreeMap::new(),
            seen: BTreeSet::new(),
            unexpected: Vec::new(),
        }
    }

    pub fn record(&mut self, key: &str, outcome: Outcome) {
        self.seen.insert(key.to_owned());
        let listed = self.known.contains(key);
        match outcome {
            Outcome::Passed => {
                self.passed += 1;
                if listed {
                    self.unexpected
                        .push(format!("{key} passes now: remove it from the list"));
                }
            }
            Outcome::Failed(problem) => {
                if !listed {
                    self.unexpected
                        .push(format!("{key} fails and is not listed:\n      {problem}"));
                }
                self.failed.push((key.to_owned(), problem));
            }
            Outcome::Skipped(reason) => {
                if listed {
                    self.unexpected
                        .push(format!("{key} is listed but was skipped ({reason})"));
                }
                *self.skipped.entry(reason).or_default() += 1;
            }
        }
    }

    pub fn passed(&self) -> usize {
        self.passed
    }

    pub fn failed(&self) -> usize {
        self.failed.len()
    }

    pub fn skipped(&self) -> usize {
        self.skipped.values().sum()
    }

    /// Every failed case with its problem, known or not.
    pub fn failures(&self) -> impl Iterator<Item = (&str, &str)> {
        self.failed.iter().map(|(k, p)| (k.as_str(), p.as_str()))
    }

    /// Failed cases that are on the list.
    pub fn known_failed(&self) -> usize {
        self.failed
            .iter()
            .filter(|(key, _)| self.known.contains(key))
            .count()
    }

    /// The tally as printed: the totals, then the failures by reason (known ones with their
    /// listed reason) and the skips by reason, each with its count.
    pub fn report(&self) -> String {
        let total = self.passed + self.failed() + self.skipped();
        let mut text = format!(
            "{}: {} passed, {} failed ({} known), {} skipped (of {total})\n",
            self.what,
            self.passed,
            self.failed(),
            self.known_failed(),
            self.skipped()
        );
        let mut known_reasons: BTreeMap<&str, usize> = BTreeMap::new();
        let mut new_failures = 0;
        for (key, _) in &self.failed {
            match self.known.reason(key) {
                Some(reason) => *known_reasons.entry(reason).or_default() += 1,
                None => new_failures += 1,
            }
        }
        for (reason, count) in &known_reasons {
            let _ = writeln!(text, "  failed {count:4} (known): {reason}");
        }
        if new_failures > 0 {
            let _ = writeln!(
                text,
                "  failed {new_failures:4} (NOT on the list, see below)"
            );
        }
        for (reason, count) in &self.skipped {
            let _ = writeln!(text, "  skipped {count:3}: {reason}");
        }
        text
    }

    /// Prints the tally, then rewrites the list (under `CAIRN_UPDATE_KNOWN_FAILURES`) or panics
    /// on any case that disagrees with it.
    pub fn finish(self, default_header: &str) {
        print!("{}", self.report());
        if KnownFailures::updating() {
            match self.known.rewrite(default_header, self.failures()) {
                Ok(()) => println!("rewrote {}", self.known.name()),
                Err(err) => panic!("{err}"),
            }
            return;
        }
        if let Err(problems) = self.check() {
            panic!("{problems}");
        }
    }

    /// Every case that disagrees with the list: unlisted failures, listed cases that passed or
    /// were skipped, and listed keys that are not cases of this replay.
    pub fn check(&self) -> Result<(), String> {
        let mut problems = self.unexpected.clone();
        for key in self.known.keys() {
            if !self.seen.contains(key) {
                problems.push(format!("{key} is listed but is not a case of this replay"));
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{}: {} result(s) disagree with {}:\n  {}\n(rewrite the list with {UPDATE_VAR}=1)",
            self.what,
            problems.len(),
            self.known.name(),
            problems.join("\n  ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_gives_a_reason() {
        let list = KnownFailures::parse("# header\na # why\n\nb#because\n").expect("valid");
        assert_eq!(list.reason("a"), Some("why"));
        assert_eq!(list.reason("b"), Some("because"));
        assert!(KnownFailures::parse("a\n").is_err());
        assert!(KnownFailures::parse("a # x\na # y\n").is_err());
    }

    #[test]
    fn known_failures_count_as_failures() {
        let list = KnownFailures::parse("k # not yet\n").expect("valid");
        let mut tally = Tally::new("t", list);
        tally.record("p", Outcome::Passed);
        tally.record("k", Outcome::Failed("differs".into()));
        tally.record("s", Outcome::Skipped("no definition".into()));
        assert_eq!(
            tally.report(),
            "t: 1 passed, 1 failed (1 known), 1 skipped (of 3)\n  failed    1 (known): not yet\n  skipped   1: no definition\n"
        );
        assert_eq!(tally.check(), Ok(()));
    }

    #[test]
    fn a_listed_case_that_passes_or_is_skipped_or_missing_fails_the_run() {
        let list =
            KnownFailures::parse("k # not yet\ns # not yet\ngone # not yet\n").expect("valid");
        let mut tally = Tally::new("t", list);
        tally.record("k", Outcome::Passed);
        tally.record("s", Outcome::Skipped("stubbed".into()));
        let problems = tally.check().expect_err("three problems");
        assert!(problems.contains("k passes now"), "{problems}");
        assert!(
            problems.contains("s is listed but was skipped"),
            "{problems}"
        );
        assert!(
            problems.contains("gone is listed but is not a case"),
            "{problems}"
        );
    }

    #[test]
    fn an_unlisted_failure_fails_the_run() {
        let mut tally = Tally::new("t", KnownFailures::default());
        tally.record("k", Outcome::Failed("differs".into()));
        let problems = tally.check().expect_err("unlisted failure");
        assert!(problems.contains("k fails and is not listed"), "{problems}");
        assert!(tally.report().contains("1 failed (0 known)"));
    }

    #[test]
    fn one_line_flattens() {
        assert_eq!(one_line("a\n  b # c", 100), "a b c");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }
}
