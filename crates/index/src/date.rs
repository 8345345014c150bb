//! UTC calendar dates for `modified:` filters: parse `2019`, `2019-06`, `2019-06-01T12:30`
//! into the period of unix seconds they name, and format seconds back.

const SECONDS_PER_DAY: i64 = 86_400;

/// The first and last second (inclusive, unix seconds UTC) of the period `text` names:
/// a year `YYYY`, a month `YYYY-MM`, a day `YYYY-MM-DD`, a minute `YYYY-MM-DDTHH:MM` or a
/// second `YYYY-MM-DDTHH:MM:SS`; a trailing `Z` is allowed. The error is the reason.
pub(crate) fn parse_period(text: &str) -> Result<(i64, i64), String> {
    let text = text.strip_suffix('Z').or_else(|| text.strip_suffix('z')).unwrap_or(text);
    let (date, time) = match text.find(['T', 't']) {
        Some(index) => (&text[..index], Some(&text[index + 1..])),
        None => (text, None),
    };
    let (year, month, day) = parse_date_parts(date)?;
    let (hour, minute, second) = match time {
        None => (None, None, None),
        Some(_) if day.is_none() => return Err("a time needs a full date before `T`".into()),
        Some(time) => {
            let clock = parse_clock(time)?;
            (Some(clock.hour), Some(clock.minute), clock.second)
        }
    };
    let start_day = days_from_civil(year, month.unwrap_or(1), day.unwrap_or(1));
    let start = start_day * SECONDS_PER_DAY
        + i64::from(hour.unwrap_or(0)) * 3600
        + i64::from(minute.unwrap_or(0)) * 60
        + i64::from(second.unwrap_or(0));
    let end = if second.is_some() {
        start
    } else if minute.is_some() {
        start + 59
    } else if day.is_some() {
        start + SECONDS_PER_DAY - 1
    } else if let Some(month) = month {
        let (next_year, next_month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
        days_from_civil(next_year, next_month, 1) * SECONDS_PER_DAY - 1
    } else {
        days_from_civil(year + 1, 1, 1) * SECONDS_PER_DAY - 1
    };
    Ok((start, end))
}

/// `YYYY[-MM[-DD]]`: the year, and the month and day where given.
fn parse_date_parts(date: &str) -> Result<(u32, Option<u32>, Option<u32>), String> {
    let mut date_parts = date.split('-');
    let year_text = date_parts.next().unwrap_or_default();
    if year_text.len() != 4 || !year_text.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected a date like 2019, 2019-06, 2019-06-01 or 2019-06-01T12:30".into());
    }
    let year = number(year_text, "year", 0, 9999)?;
    let month = date_parts.next().map(|part| number(part, "month", 1, 12)).transpose()?;
    let day = date_parts
        .next()
        .map(|part| {
            let last = days_in_month(year, month.unwrap_or(1));
            number(part, "day", 1, last)
                .map_err(|_| format!("day must be 01-{last} in {year:04}-{:02}", month.unwrap_or(1)))
        })
        .transpose()?;
    if date_parts.next().is_some() {
        return Err("too many date parts".into());
    }
    Ok((year, month, day))
}

/// A time of day as written after the `T`.
struct Clock {
    hour: u32,
    minute: u32,
    second: Option<u32>,
}

/// `HH:MM[:SS]`.
fn parse_clock(time: &str) -> Result<Clock, String> {
    let mut time_parts = time.split(':');
    let hour = number(time_parts.next().unwrap_or_default(), "hour", 0, 23)?;
    let minute = time_parts
        .next()
        .ok_or_else(|| "expected a time like T12:30 or T12:30:15".to_owned())
        .and_then(|part| number(part, "minute", 0, 59))?;
    let second = time_parts.next().map(|part| number(part, "second", 0, 59)).transpose()?;
    if time_parts.next().is_some() {
        return Err("too many time parts".into());
    }
    Ok(Clock { hour, minute, second })
}

/// Formats unix seconds as `YYYY-MM-DDTHH:MM:SS` (UTC).
pub(crate) fn format_timestamp(seconds: i64) -> String {
    let days = seconds.div_euclid(SECONDS_PER_DAY);
    let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60);
    let year = if (0..=9999).contains(&year) { format!("{year:04}") } else { year.to_string() };
    format!("{year}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}")
}

/// Parses 1-2 (or 4 for years) ASCII digits within `min..=max`.
fn number(text: &str, what: &str, min: u32, max: u32) -> Result<u32, String> {
    let width_ok = if what == "year" { text.len() == 4 } else { (1..=2).contains(&text.len()) };
    let value = if width_ok && text.bytes().all(|b| b.is_ascii_digit()) { text.parse::<u32>().ok() } else { None };
    match value {
        Some(value) if (min..=max).contains(&value) => Ok(value),
        _ => Err(format!("{what} must be {min:02}-{max:02}")),
    }
}

fn is_leap_year(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: u32, month: u32, day: u32) -> i64 {
    let year = i64::from(year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = (i64::from(month) + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Inverse of [`days_from_civil`], for any day count.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn periods() {
        assert_eq!(parse_period("1970"), Ok((0, 31_536_000 - 1)));
        assert_eq!(parse_period("1970-01-01"), Ok((0, 86_399)));
        assert_eq!(parse_period("2019-06"), Ok((1_559_347_200, 1_561_939_199)));
        assert_eq!(parse_period("2019-06-01"), Ok((1_559_347_200, 1_559_433_599)));
        assert_eq!(parse_period("2019-06-01T12:30"), Ok((1_559_392_200, 1_559_392_259)));
        assert_eq!(parse_period("2019-06-01T12:30:15Z"), Ok((1_559_392_215, 1_559_392_215)));
        assert_eq!(parse_period("2020-02-29"), Ok((1_582_934_400, 1_583_020_799)));
        assert_eq!(parse_period("1969-12-31"), Ok((-86_400, -1)));
        assert_eq!(parse_period("2019-12").map(|p| p.1), Ok(1_577_836_799));
    }

    #[test]
    fn bad_dates() {
        for text in [
            "",
            "19",
            "20190",
            "2019-13",
            "2019-00",
            "2019-02-29",
            "2019-04-31",
            "2019-06-01T24:00",
            "2019-06-01T12",
            "2019-06-01T12:60",
            "2019-06T12:00",
            "2019-06-01-02",
            "abcd",
            "2019-6-1T1:2:3:4",
            "2019--01",
        ] {
            assert!(parse_period(text).is_err(), "{text}");
        }
        assert_eq!(parse_period("2019-13-01"), Err("month must be 01-12".into()));
    }

    #[test]
    fn formats() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00");
        assert_eq!(format_timestamp(-1), "1969-12-31T23:59:59");
        assert_eq!(format_timestamp(1_559_392_215), "2019-06-01T12:30:15");
        let _ = format_timestamp(i64::MIN);
        let _ = format_timestamp(i64::MAX);
    }

    proptest! {
        #[test]
        fn format_parse_round_trip(seconds in -62_167_219_200i64..=253_402_300_799) {
            let text = format_timestamp(seconds);
            prop_assert_eq!(parse_period(&text), Ok((seconds, seconds)));
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,24}") {
            let _ = parse_period(&text);
        }
    }
}
