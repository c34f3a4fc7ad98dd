//! Selection figures by group, reported with every run rather than left for someone to compute.
//!
//! The score never reads country, gender, age or disability; these figures show whether the
//! result nevertheless treats groups differently (through availability, languages, skills,
//! preferences), so that coordinators can see it and act.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::Model;
use super::{Input, Origin};
use crate::applicant::{Applicant, ApplicantId, Gender};

/// Counts for one group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupFigures {
    /// The group's label, e.g. `FR`, `woman`, `18-24`, `disability`.
    pub group: String,
    /// Applications.
    pub applicants: u32,
    /// Applicants who pass the entry rules.
    pub eligible: u32,
    /// Proposed by this run (forced ones included).
    pub proposed: u32,
    /// Already placed (fixed) before this run.
    pub placed: u32,
}

impl GroupFigures {
    /// Share of the group's applicants proposed or placed, in `0.0..=1.0` (0 for an empty group).
    pub fn selection_rate(&self) -> f64 {
        if self.applicants == 0 {
            0.0
        } else {
            f64::from(self.proposed + self.placed) / f64::from(self.applicants)
        }
    }
}

/// Selection figures by country, gender, age band and disability, each sorted by label.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fairness {
    /// By country of residence.
    pub by_country: Vec<GroupFigures>,
    /// By declared gender.
    pub by_gender: Vec<GroupFigures>,
    /// By age band on the eligibility day.
    pub by_age_band: Vec<GroupFigures>,
    /// With or without a declared disability.
    pub by_disability: Vec<GroupFigures>,
}

impl Fairness {
    /// The lowest selection rate divided by the highest, over groups of at least `min_size`
    /// applicants (the "four-fifths rule" reads it against 0.8); `None` with fewer than two
    /// such groups or no selection at all.
    pub fn impact_ratio(groups: &[GroupFigures], min_size: u32) -> Option<f64> {
        let rates: Vec<f64> =
            groups.iter().filter(|g| g.applicants >= min_size).map(GroupFigures::selection_rate).collect();
        let max = rates.iter().copied().fold(0.0, f64::max);
        let min = rates.iter().copied().fold(f64::INFINITY, f64::min);
        (rates.len() >= 2 && max > 0.0).then(|| min / max)
    }
}

/// The age band label for an age in years.
pub(crate) fn age_band(age: u32) -> &'static str {
    match age {
        0..=17 => "under-18",
        18..=24 => "18-24",
        25..=34 => "25-34",
        35..=54 => "35-54",
        _ => "55+",
    }
}

fn gender_label(g: Gender) -> &'static str {
    match g {
        Gender::Woman => "woman",
        Gender::Man => "man",
        Gender::Other => "other",
        Gender::NotSaid => "not-said",
    }
}

pub(crate) fn figures(
    input: &Input,
    model: &Model<'_>,
    chosen: &BTreeMap<ApplicantId, (usize, Origin)>,
    placed: &BTreeMap<ApplicantId, usize>,
) -> Fairness {
    let rules = &model.policy.eligibility;
    let mut country: BTreeMap<String, GroupFigures> = BTreeMap::new();
    let mut gender: BTreeMap<String, GroupFigures> = BTreeMap::new();
    let mut age: BTreeMap<String, GroupFigures> = BTreeMap::new();
    let mut disability: BTreeMap<String, GroupFigures> = BTreeMap::new();
    let add = |map: &mut BTreeMap<String, GroupFigures>, label: String, a: &Applicant| {
        let g = map.entry(label.clone()).or_insert_with(|| GroupFigures { group: label, ..GroupFigures::default() });
        g.applicants += 1;
        g.eligible += u32::from(rules.check(a).is_empty());
        g.proposed += u32::from(chosen.contains_key(&a.id));
        g.placed += u32::from(placed.contains_key(&a.id));
    };
    for a in &input.applicants {
        add(&mut country, a.country.to_string(), a);
        add(&mut gender, gender_label(a.gender).to_owned(), a);
        add(&mut age, age_band(a.age_on(rules.age_on)).to_owned(), a);
        add(&mut disability, if a.disability { "disability" } else { "no-disability" }.to_owned(), a);
    }
    let v = |m: BTreeMap<String, GroupFigures>| m.into_values().collect();
    Fairness { by_country: v(country), by_gender: v(gender), by_age_band: v(age), by_disability: v(disability) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(applicants: u32, proposed: u32) -> GroupFigures {
        GroupFigures { group: String::new(), applicants, eligible: applicants, proposed, placed: 0 }
    }

    #[test]
    fn rates_and_impact_ratio() {
        assert_eq!(g(0, 0).selection_rate(), 0.0);
        assert_eq!(g(4, 1).selection_rate(), 0.25);
        let ratio = Fairness::impact_ratio(&[g(100, 20), g(100, 10), g(1, 1)], 10).unwrap();
        assert!((ratio - 0.5).abs() < 1e-12, "{ratio}");
        assert_eq!(Fairness::impact_ratio(&[g(100, 20)], 10), None);
        assert_eq!(Fairness::impact_ratio(&[g(100, 0), g(100, 0)], 10), None);
    }

    #[test]
    fn age_bands_have_edges_where_the_labels_say() {
        assert_eq!(age_band(17), "under-18");
        assert_eq!(age_band(18), "18-24");
        assert_eq!(age_band(24), "18-24");
        assert_eq!(age_band(25), "25-34");
        assert_eq!(age_band(55), "55+");
    }
}
