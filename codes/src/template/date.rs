//! Calendar arithmetic for template date fields (proleptic Gregorian, no date crate needed).

/// Whether `year` is a Gregorian leap year.
pub(crate) fn is_leap(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Days in `month` (1–12) of `year`; `None` for a month outside 1–12.
pub(crate) fn days_in_month(year: u16, month: u8) -> Option<u8> {
    Some(match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => return None,
    })
}

/// Days in `year`.
pub(crate) fn days_in_year(year: u16) -> u16 {
    if is_leap(year) { 366 } else { 365 }
}

/// Checks a calendar date; the error is a `date: …` reason without the field prefix.
pub(crate) fn validate(year: u16, month: u8, day: u8) -> Result<(), String> {
    if !(1..=9999).contains(&year) {
        return Err(format!("year {year} is not 1-9999"));
    }
    let days = days_in_month(year, month).ok_or_else(|| format!("month {month} is not 1-12"))?;
    if day == 0 || day > days {
        return Err(format!(
            "day {day} is not 1-{days} for {year:04}-{month:02}"
        ));
    }
    Ok(())
}

/// Ordinal day (1-based) of a valid date.
pub(crate) fn day_of_year(year: u16, month: u8, day: u8) -> u16 {
    (1..month)
        .map(|m| u16::from(days_in_month(year, m).unwrap_or(0)))
        .sum::<u16>()
        + u16::from(day)
}

/// Month and day of ordinal day `ordinal` (1..=days_in_year) of `year`.
pub(crate) fn from_day_of_year(year: u16, ordinal: u16) -> Option<(u8, u8)> {
    if ordinal == 0 || ordinal > days_in_year(year) {
        return None;
    }
    let mut left = ordinal;
    for month in 1..=12 {
        let days = u16::from(days_in_month(year, month)?);
        if left <= days {
            return Some((month, u8::try_from(left).ok()?));
        }
        left -= days;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leap_years() {
        assert!(is_leap(2000) && is_leap(2024) && !is_leap(1900) && !is_leap(2025));
    }

    #[test]
    fn ordinal_days_round_trip() {
        for year in [2023, 2024] {
            for ordinal in 1..=days_in_year(year) {
                let (month, day) = from_day_of_year(year, ordinal).unwrap();
                assert_eq!(day_of_year(year, month, day), ordinal);
            }
        }
        assert_eq!(from_day_of_year(2024, 60), Some((2, 29)));
        assert_eq!(from_day_of_year(2023, 366), None);
    }
}
