//! Shifts for accepted volunteers, per venue and day, under rest rules.
//!
//! A greedy with a stated order, deterministic: shifts by (start, end, bucket, id); for each,
//! the volunteers of that (mission, venue) who are available that day and for whom the shift
//! keeps every rest rule, ranked by (days already worked, applicant id) so the load spreads.
//! The first seat goes to an experienced volunteer when one fits, then seats are filled in rank
//! order: a trainee then never holds a shift alone when an experienced volunteer could have been
//! there. The greedy never breaks a rest rule; what it cannot do (seats left empty, a trainee
//! without an experienced volunteer) comes back as values. [`check`] audits any roster, for
//! instance one edited by hand, against the same rules.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::{Date, Duration, PrimitiveDateTime};

use crate::applicant::{ApplicantId, Availability};
use crate::mission::{BucketKey, VenueId};

/// A shift's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ShiftId(pub u32);

/// Seats to fill for a mission at a venue over a stretch of time, local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    /// Unique number.
    pub id: ShiftId,
    /// The (mission, venue).
    pub bucket: BucketKey,
    /// Start; the shift belongs to this day.
    pub start: PrimitiveDateTime,
    /// End, after the start (may be the next day).
    pub end: PrimitiveDateTime,
    /// Seats.
    pub needed: u32,
}

/// An accepted volunteer to roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volunteer {
    /// The applicant.
    pub applicant: ApplicantId,
    /// The (mission, venue) accepted.
    pub bucket: BucketKey,
    /// Has served before; trainees are paired with such volunteers.
    pub experienced: bool,
    /// Days available.
    pub availability: Availability,
}

/// Rest rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestRules {
    /// Hours between the end of one shift and the start of the next.
    pub min_rest_hours: u32,
    /// Longest run of consecutive days worked.
    pub max_consecutive_days: u32,
    /// Most days worked in total.
    pub max_days_total: u32,
}

/// A volunteer on a shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Assignment {
    /// The shift.
    pub shift: ShiftId,
    /// The volunteer.
    pub applicant: ApplicantId,
}

/// A rule a roster breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Breach {
    /// Two shifts closer than the minimum rest (or overlapping).
    RestTooShort {
        /// The volunteer.
        applicant: ApplicantId,
        /// The earlier shift.
        first: ShiftId,
        /// The later shift.
        second: ShiftId,
    },
    /// Too many consecutive days.
    TooManyConsecutiveDays {
        /// The volunteer.
        applicant: ApplicantId,
        /// The longest run.
        days: u32,
    },
    /// Too many days in total.
    TooManyDays {
        /// The volunteer.
        applicant: ApplicantId,
        /// Days worked.
        days: u32,
    },
    /// On a shift of another mission or venue, on a day not available, or unknown.
    NotEligible {
        /// The volunteer.
        applicant: ApplicantId,
        /// The shift.
        shift: ShiftId,
    },
    /// More volunteers than seats.
    OverFilled {
        /// The shift.
        shift: ShiftId,
    },
    /// A trainee on a shift without an experienced volunteer.
    TraineeUnpaired {
        /// The shift.
        shift: ShiftId,
    },
}

/// A shift left with empty seats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnfilledShift {
    /// The shift.
    pub shift: ShiftId,
    /// Empty seats.
    pub missing: u32,
}

/// The roster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    /// Who works which shift, sorted.
    pub assignments: Vec<Assignment>,
    /// Shifts with empty seats, by shift id.
    pub unfilled: Vec<UnfilledShift>,
    /// Soft rules the greedy could not keep (trainees unpaired).
    pub breaches: Vec<Breach>,
}

/// Why shifts or volunteers cannot be rostered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosterError {
    /// Two shifts share an id.
    #[error("shift {0:?} is defined twice")]
    DuplicateShift(ShiftId),
    /// A shift ends before it starts.
    #[error("shift {0:?} ends before it starts")]
    EndBeforeStart(ShiftId),
    /// A volunteer is listed twice.
    #[error("volunteer {0} is listed twice")]
    DuplicateVolunteer(ApplicantId),
}

/// Shift lists by (venue, day): each shift with its volunteers.
pub type DeskLists = BTreeMap<(VenueId, Date), Vec<(ShiftId, Vec<ApplicantId>)>>;

impl Roster {
    /// Shift lists for each venue desk: by (venue, day), the shifts in start order with their
    /// volunteers.
    pub fn by_venue_day(&self, shifts: &[Shift]) -> DeskLists {
        let of: BTreeMap<ShiftId, &Shift> = shifts.iter().map(|s| (s.id, s)).collect();
        let mut people: BTreeMap<ShiftId, Vec<ApplicantId>> = BTreeMap::new();
        for a in &self.assignments {
            people.entry(a.shift).or_default().push(a.applicant);
        }
        type Timed = Vec<(PrimitiveDateTime, ShiftId, Vec<ApplicantId>)>;
        let mut out: BTreeMap<(VenueId, Date), Timed> = BTreeMap::new();
        for (id, list) in people {
            if let Some(s) = of.get(&id) {
                out.entry((s.bucket.venue.clone(), s.start.date())).or_default().push((s.start, id, list));
            }
        }
        out.into_iter()
            .map(|(k, mut v)| {
                v.sort();
                (k, v.into_iter().map(|(_, id, l)| (id, l)).collect())
            })
            .collect()
    }
}

/// One volunteer's shifts so far.
#[derive(Default)]
struct Schedule {
    shifts: Vec<(PrimitiveDateTime, PrimitiveDateTime)>,
    days: BTreeSet<Date>,
}

fn longest_run(days: &BTreeSet<Date>) -> u32 {
    let (mut best, mut run, mut prev): (u32, u32, Option<Date>) = (0, 0, None);
    for &d in days {
        run = if prev.and_then(Date::next_day) == Some(d) { run + 1 } else { 1 };
        best = best.max(run);
        prev = Some(d);
    }
    best
}

impl Schedule {
    fn fits(&self, s: &Shift, rules: &RestRules) -> bool {
        let rest = Duration::hours(i64::from(rules.min_rest_hours));
        let rested = self.shifts.iter().all(|&(start, end)| end + rest <= s.start || s.end + rest <= start);
        if !rested {
            return false;
        }
        let day = s.start.date();
        if self.days.contains(&day) {
            return true;
        }
        if self.days.len() as u32 + 1 > rules.max_days_total {
            return false;
        }
        let mut days = self.days.clone();
        days.insert(day);
        longest_run(&days) <= rules.max_consecutive_days
    }
}

fn validate(shifts: &[Shift], volunteers: &[Volunteer]) -> Result<(), RosterError> {
    let mut ids = BTreeSet::new();
    for s in shifts {
        if !ids.insert(s.id) {
            return Err(RosterError::DuplicateShift(s.id));
        }
        if s.end <= s.start {
            return Err(RosterError::EndBeforeStart(s.id));
        }
    }
    let mut seen = BTreeSet::new();
    for v in volunteers {
        if !seen.insert(v.applicant) {
            return Err(RosterError::DuplicateVolunteer(v.applicant));
        }
    }
    Ok(())
}

/// Rosters `volunteers` onto `shifts` under `rules` (see the module documentation for the order).
pub fn roster(shifts: &[Shift], volunteers: &[Volunteer], rules: &RestRules) -> Result<Roster, RosterError> {
    validate(shifts, volunteers)?;
    let mut order: Vec<&Shift> = shifts.iter().collect();
    order.sort_by(|a, b| (a.start, a.end, &a.bucket, a.id).cmp(&(b.start, b.end, &b.bucket, b.id)));
    let mut vols: Vec<&Volunteer> = volunteers.iter().collect();
    vols.sort_by_key(|v| v.applicant);
    let mut by_bucket: BTreeMap<&BucketKey, Vec<usize>> = BTreeMap::new();
    for (i, v) in vols.iter().enumerate() {
        by_bucket.entry(&v.bucket).or_default().push(i);
    }
    let mut schedules: Vec<Schedule> = vols.iter().map(|_| Schedule::default()).collect();
    let mut out = Roster::default();
    for s in order {
        let day = s.start.date();
        let mut candidates: Vec<usize> = by_bucket
            .get(&s.bucket)
            .map(|list| {
                list.iter()
                    .copied()
                    .filter(|&i| vols[i].availability.contains(day) && schedules[i].fits(s, rules))
                    .collect()
            })
            .unwrap_or_default();
        candidates.sort_by_key(|&i| (schedules[i].days.len(), vols[i].applicant));
        let mut seated: Vec<usize> = Vec::new();
        if s.needed > 0 {
            if let Some(k) = candidates.iter().position(|&i| vols[i].experienced) {
                seated.push(candidates.remove(k));
            }
        }
        seated.extend(candidates.into_iter().take((s.needed as usize).saturating_sub(seated.len())));
        for &i in &seated {
            schedules[i].shifts.push((s.start, s.end));
            schedules[i].days.insert(day);
            out.assignments.push(Assignment { shift: s.id, applicant: vols[i].applicant });
        }
        if (seated.len() as u32) < s.needed {
            out.unfilled.push(UnfilledShift { shift: s.id, missing: s.needed - seated.len() as u32 });
        }
        if seated.iter().any(|&i| !vols[i].experienced) && !seated.iter().any(|&i| vols[i].experienced) {
            out.breaches.push(Breach::TraineeUnpaired { shift: s.id });
        }
    }
    out.assignments.sort();
    out.unfilled.sort_by_key(|u| u.shift);
    out.breaches.sort_by_key(|b| match b {
        Breach::TraineeUnpaired { shift } => *shift,
        _ => ShiftId(u32::MAX),
    });
    Ok(out)
}

/// Every rule `assignments` break: rest, consecutive and total days, eligibility for the shift,
/// seats, and trainee pairing.
pub fn check(shifts: &[Shift], volunteers: &[Volunteer], rules: &RestRules, assignments: &[Assignment]) -> Vec<Breach> {
    let of: BTreeMap<ShiftId, &Shift> = shifts.iter().map(|s| (s.id, s)).collect();
    let vol: BTreeMap<ApplicantId, &Volunteer> = volunteers.iter().map(|v| (v.applicant, v)).collect();
    let mut out = Vec::new();
    let mut per_shift: BTreeMap<ShiftId, Vec<&Volunteer>> = BTreeMap::new();
    let mut per_person: BTreeMap<ApplicantId, Vec<&Shift>> = BTreeMap::new();
    for a in assignments {
        match (of.get(&a.shift), vol.get(&a.applicant)) {
            (Some(s), Some(v)) if s.bucket == v.bucket && v.availability.contains(s.start.date()) => {
                per_shift.entry(s.id).or_default().push(v);
                per_person.entry(v.applicant).or_default().push(s);
            }
            _ => out.push(Breach::NotEligible { applicant: a.applicant, shift: a.shift }),
        }
    }
    let rest = Duration::hours(i64::from(rules.min_rest_hours));
    for (applicant, mut list) in per_person {
        list.sort_by_key(|s| (s.start, s.id));
        for (i, first) in list.iter().enumerate() {
            for second in &list[i + 1..] {
                if first.end + rest > second.start {
                    out.push(Breach::RestTooShort { applicant, first: first.id, second: second.id });
                }
            }
        }
        let days: BTreeSet<Date> = list.iter().map(|s| s.start.date()).collect();
        let run = longest_run(&days);
        if run > rules.max_consecutive_days {
            out.push(Breach::TooManyConsecutiveDays { applicant, days: run });
        }
        if days.len() as u32 > rules.max_days_total {
            out.push(Breach::TooManyDays { applicant, days: days.len() as u32 });
        }
    }
    for (id, people) in per_shift {
        if people.len() as u32 > of[&id].needed {
            out.push(Breach::OverFilled { shift: id });
        }
        if people.iter().any(|v| !v.experienced) && !people.iter().any(|v| v.experienced) {
            out.push(Breach::TraineeUnpaired { shift: id });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mission::MissionCode;
    use proptest::prelude::*;
    use time::macros::date;

    fn key(v: &str) -> BucketKey {
        BucketKey { mission: MissionCode::new("HOST").unwrap(), venue: VenueId::new(v).unwrap() }
    }

    fn shift(id: u32, day: Date, from: u8, hours: i64, needed: u32) -> Shift {
        let start = day.with_hms(from, 0, 0).unwrap();
        Shift { id: ShiftId(id), bucket: key("V1"), start, end: start + Duration::hours(hours), needed }
    }

    fn vol(id: u32, experienced: bool) -> Volunteer {
        Volunteer {
            applicant: ApplicantId(id),
            bucket: key("V1"),
            experienced,
            availability: Availability::range(date!(2024 - 07 - 20), date!(2024 - 08 - 20)),
        }
    }

    const RULES: RestRules = RestRules { min_rest_hours: 11, max_consecutive_days: 3, max_days_total: 5 };

    #[test]
    fn rest_between_shifts_is_kept() {
        let d = date!(2024 - 07 - 27);
        // Evening shift ends 23:00, next morning 07:00: 8 hours, too short for one person.
        let shifts = [shift(1, d, 15, 8, 1), shift(2, d.next_day().unwrap(), 7, 8, 1)];
        let r = roster(&shifts, &[vol(1, true)], &RULES).unwrap();
        assert_eq!(r.assignments, vec![Assignment { shift: ShiftId(1), applicant: ApplicantId(1) }]);
        assert_eq!(r.unfilled, vec![UnfilledShift { shift: ShiftId(2), missing: 1 }]);
        // The checker sees the breach in a hand-made roster.
        let bad = [
            Assignment { shift: ShiftId(1), applicant: ApplicantId(1) },
            Assignment { shift: ShiftId(2), applicant: ApplicantId(1) },
        ];
        assert_eq!(
            check(&shifts, &[vol(1, true)], &RULES, &bad),
            vec![Breach::RestTooShort { applicant: ApplicantId(1), first: ShiftId(1), second: ShiftId(2) }]
        );
    }

    #[test]
    fn consecutive_and_total_days_are_capped() {
        let shifts: Vec<Shift> =
            (0..7).map(|i| shift(i, date!(2024 - 07 - 27) + Duration::days(i64::from(i)), 9, 8, 1)).collect();
        let r = roster(&shifts, &[vol(1, true)], &RULES).unwrap();
        let worked: Vec<u32> = r.assignments.iter().map(|a| a.shift.0).collect();
        // Three days on, then a day off, then two more (five in total).
        assert_eq!(worked, vec![0, 1, 2, 4, 5]);
        assert!(check(&shifts, &[vol(1, true)], &RULES, &r.assignments).is_empty());
        let all: Vec<Assignment> =
            (0..7).map(|i| Assignment { shift: ShiftId(i), applicant: ApplicantId(1) }).collect();
        let breaches = check(&shifts, &[vol(1, true)], &RULES, &all);
        assert!(breaches.contains(&Breach::TooManyConsecutiveDays { applicant: ApplicantId(1), days: 7 }));
        assert!(breaches.contains(&Breach::TooManyDays { applicant: ApplicantId(1), days: 7 }));
    }

    #[test]
    fn trainees_are_paired_when_possible_and_reported_when_not() {
        let d = date!(2024 - 07 - 27);
        let shifts = [shift(1, d, 9, 4, 2), shift(2, d, 11, 4, 1)];
        // Ids put trainees first in the load order: the first seat must still go to 9.
        let vols = [vol(1, false), vol(2, false), vol(9, true)];
        let r = roster(&shifts, &vols, &RestRules { min_rest_hours: 0, ..RULES }).unwrap();
        let on1: Vec<u32> = r.assignments.iter().filter(|a| a.shift == ShiftId(1)).map(|a| a.applicant.0).collect();
        assert_eq!(on1, vec![1, 9]);
        // Shift 2 overlaps shift 1: only volunteer 2, a trainee, is free, and works it alone.
        assert_eq!(r.breaches, vec![Breach::TraineeUnpaired { shift: ShiftId(2) }]);
    }

    #[test]
    fn desks_get_lists_by_venue_and_day() {
        let d = date!(2024 - 07 - 27);
        let shifts = [shift(2, d, 15, 4, 1), shift(1, d, 9, 4, 1)];
        let r = roster(&shifts, &[vol(1, true), vol(2, true)], &RULES).unwrap();
        let lists = r.by_venue_day(&shifts);
        assert_eq!(
            lists[&(VenueId::new("V1").unwrap(), d)],
            vec![(ShiftId(1), vec![ApplicantId(1)]), (ShiftId(2), vec![ApplicantId(2)])]
        );
        assert!(matches!(roster(&[shift(1, d, 9, 0, 1)], &[], &RULES), Err(RosterError::EndBeforeStart(_))));
        assert!(matches!(roster(&[], &[vol(1, true), vol(1, true)], &RULES), Err(RosterError::DuplicateVolunteer(_))));
    }

    proptest! {
        #[test]
        fn the_greedy_never_breaks_a_hard_rule(
            raw in proptest::collection::vec((0i64..10, 6u8..20, 2i64..12, 0u32..4, 0usize..2), 1..25),
            people in proptest::collection::vec((any::<bool>(), 0i64..10, 1i64..10), 1..8),
            rest in 0u32..14, consecutive in 1u32..5, total in 1u32..8,
        ) {
            let base = date!(2024 - 07 - 25);
            let shifts: Vec<Shift> = raw.iter().enumerate().map(|(i, &(d, h, len, need, v))| {
                let mut s = shift(i as u32, base + Duration::days(d), h, len, need);
                s.bucket = key(["V1", "V2"][v]);
                s
            }).collect();
            let vols: Vec<Volunteer> = people.iter().enumerate().map(|(i, &(exp, from, len))| Volunteer {
                applicant: ApplicantId(i as u32),
                bucket: key(["V1", "V2"][i % 2]),
                experienced: exp,
                availability: Availability::range(base + Duration::days(from), base + Duration::days(from + len)),
            }).collect();
            let rules = RestRules { min_rest_hours: rest, max_consecutive_days: consecutive, max_days_total: total };
            let r = roster(&shifts, &vols, &rules).unwrap();
            let breaches = check(&shifts, &vols, &rules, &r.assignments);
            prop_assert!(breaches.iter().all(|b| matches!(b, Breach::TraineeUnpaired { .. })), "{:?}", breaches);
            let unpaired: Vec<&Breach> = breaches.iter().collect();
            prop_assert_eq!(unpaired, r.breaches.iter().collect::<Vec<_>>());
            prop_assert_eq!(&r, &roster(&shifts, &vols, &rules).unwrap());
        }
    }
}
