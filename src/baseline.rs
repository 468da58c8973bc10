//! Baselines: failures a plugin's repository has accepted for now. A run
//! then fails only on a failure not listed, and on a listed one that no
//! longer fails (a stale entry), so the list can only shrink honestly.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::checks::Outcome;
use crate::report::Report;

/// A baseline file: `[[known]]` entries.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    #[serde(default)]
    pub known: Vec<Known>,
}

/// One failure known to happen.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Known {
    /// The check id.
    pub check: String,
    /// Only under this profile; every profile if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The failure's message must be exactly this, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Why it is accepted (free text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A baseline applied to the reports of a run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Judgement {
    /// Failures the baseline lists.
    pub known: Vec<String>,
    /// Failures it does not list: these fail the run.
    pub new: Vec<String>,
    /// Entries whose check now passes: these fail the run too.
    pub stale: Vec<String>,
}

impl Judgement {
    pub fn failed(&self) -> bool {
        !self.new.is_empty() || !self.stale.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("baseline {path}: {message}")]
pub struct BaselineError {
    pub path: String,
    pub message: String,
}

impl Baseline {
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let err = |message: String| BaselineError { path: path.display().to_string(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let b: Baseline = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        for k in &b.known {
            if crate::checks::find(&k.check).is_none() {
                return Err(err(format!("unknown check id '{}' (see `cln-harness list`)", k.check)));
            }
        }
        Ok(b)
    }

    /// A baseline listing every failure of these reports, messages included.
    pub fn from_reports(reports: &[Report]) -> Baseline {
        let mut known = Vec::new();
        for r in reports {
            for c in r.checks.iter().filter(|c| c.outcome == Outcome::Fail) {
                known.push(Known {
                    check: c.id.to_owned(),
                    profile: (reports.len() > 1).then(|| r.profile.clone()),
                    message: Some(c.message.clone()),
                    reason: None,
                });
            }
        }
        Baseline { known }
    }

    pub fn to_toml(&self) -> String {
        let body = toml::to_string_pretty(self).unwrap_or_default();
        format!(
            "# cln-harness baseline: failures accepted for now. A run fails on any\n# failure not listed here, and on an entry that no longer fails.\n{body}"
        )
    }

    fn matches(&self, k: &Known, profile: &str, id: &str, message: &str) -> bool {
        k.check == id && k.profile.as_deref().is_none_or(|p| p == profile) && k.message.as_deref().is_none_or(|m| m == message)
    }

    pub fn apply(&self, reports: &[Report]) -> Judgement {
        let mut j = Judgement::default();
        for r in reports {
            for c in r.checks.iter().filter(|c| c.outcome == Outcome::Fail) {
                let label = format!("{} ({}): {}", c.id, r.profile, c.message);
                if self.known.iter().any(|k| self.matches(k, &r.profile, c.id, &c.message)) {
                    j.known.push(label);
                } else {
                    j.new.push(label);
                }
            }
        }
        for k in &self.known {
            for r in reports.iter().filter(|r| k.profile.as_deref().is_none_or(|p| p == r.profile)) {
                let now = r.check(&k.check).map(|c| c.outcome);
                if matches!(now, Some(Outcome::Pass | Outcome::Warn)) {
                    j.stale.push(format!("{} ({}): listed as failing, now passes", k.check, r.profile));
                }
            }
        }
        j
    }
}
