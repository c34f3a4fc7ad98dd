//! The event's time zone: every time a fan reads (pages, mail) is local time there, with its
//! offset, from the tz database bundled in the binary (no system files, so no I/O), so winter
//! and summer time are both right.

use crate::Timestamp;

/// The zone of the Games; the default of `AppConfig::event_zone`.
pub const EVENT_TIME_ZONE: &str = "Europe/Paris";

/// A named IANA time zone that formats instants for people.
#[derive(Debug, Clone)]
pub struct EventZone {
    name: String,
    tz: jiff::tz::TimeZone,
}

impl EventZone {
    /// The zone called `name` in the bundled tz database, e.g. `Europe/Paris`.
    pub fn get(name: &str) -> Result<Self, String> {
        let tz = jiff::tz::TimeZone::get(name).map_err(|e| format!("unknown time zone {name:?}: {e}"))?;
        Ok(EventZone { name: name.to_owned(), tz })
    }

    /// [`EVENT_TIME_ZONE`].
    pub fn paris() -> Self {
        Self::get(EVENT_TIME_ZONE).expect("Europe/Paris is in the bundled tz database")
    }

    pub fn tz(&self) -> &jiff::tz::TimeZone {
        &self.tz
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The city part of the zone name, for labels: "Paris".
    pub fn city(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or(&self.name)
    }

    /// The local date of an instant.
    pub fn date_of(&self, t: Timestamp) -> Option<jiff::civil::Date> {
        Some(jiff::Timestamp::from_second(t.0).ok()?.to_zoned(self.tz.clone()).date())
    }

    /// When a local date starts and ends (the next one's start): 23 or 25 hours apart on the
    /// days the clocks change.
    pub fn day_bounds(&self, d: jiff::civil::Date) -> Option<(Timestamp, Timestamp)> {
        let start = d.to_zoned(self.tz.clone()).ok()?.timestamp().as_second();
        let end = d.tomorrow().ok()?.to_zoned(self.tz.clone()).ok()?.timestamp().as_second();
        Some((Timestamp(start), Timestamp(end)))
    }

    /// `2025-01-15 10:00 UTC+1`: local date and time with the offset in force at that instant.
    pub fn format(&self, t: Timestamp) -> String {
        let Ok(ts) = jiff::Timestamp::from_second(t.0) else {
            return t.to_rfc3339();
        };
        let local = ts.to_zoned(self.tz.clone());
        let secs = local.offset().seconds();
        let (sign, abs) = if secs < 0 { ('-', -secs) } else { ('+', secs) };
        let offset = match abs % 3600 {
            0 => format!("UTC{sign}{}", abs / 3600),
            m => format!("UTC{sign}{}:{:02}", abs / 3600, m / 60),
        };
        format!("{} {offset}", local.strftime("%Y-%m-%d %H:%M"))
    }
}

impl Default for EventZone {
    fn default() -> Self {
        Self::paris()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_local_and_the_clock_change_day_is_23_hours_long() {
        let paris = EventZone::paris();
        // 2024-03-31 00:30 UTC is 01:30 in Paris, on the morning the clocks go forward.
        let d = paris.date_of(Timestamp(1_711_845_000)).unwrap();
        assert_eq!(d.to_string(), "2024-03-31");
        let (start, end) = paris.day_bounds(d).unwrap();
        assert_eq!((start.0, end.0 - start.0), (1_711_839_600, 23 * 3600));
        // 23:30 UTC on 2024-07-26 is already the 27th in Paris.
        assert_eq!(paris.date_of(Timestamp(1_722_036_600)).unwrap().to_string(), "2024-07-27");
    }

    #[test]
    fn paris_is_utc_plus_one_in_winter_and_plus_two_in_summer() {
        let z = EventZone::paris();
        let jan = Timestamp::parse_rfc3339("2025-01-15T09:00:00Z").unwrap();
        let jul = Timestamp::parse_rfc3339("2024-07-26T17:30:00Z").unwrap();
        assert_eq!(z.format(jan), "2025-01-15 10:00 UTC+1");
        assert_eq!(z.format(jul), "2024-07-26 19:30 UTC+2");
        assert_eq!(z.city(), "Paris");
    }

    #[test]
    fn the_offset_changes_at_the_transition() {
        let z = EventZone::paris();
        // 2025-03-30 01:00 UTC: clocks go from 02:00 (UTC+1) to 03:00 (UTC+2).
        let before = Timestamp::parse_rfc3339("2025-03-30T00:59:00Z").unwrap();
        let after = Timestamp::parse_rfc3339("2025-03-30T01:00:00Z").unwrap();
        assert_eq!(z.format(before), "2025-03-30 01:59 UTC+1");
        assert_eq!(z.format(after), "2025-03-30 03:00 UTC+2");
        assert!(EventZone::get("Mars/Olympus").is_err());
    }
}
