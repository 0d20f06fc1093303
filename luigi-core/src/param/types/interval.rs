//! Date intervals: Luigi's `DateIntervalParameter` and the `luigi.date_interval` classes
//! `Year`, `Month`, `Week` (ISO), `Date` and `Custom`, as one [`DateInterval`] type with a
//! [`DateIntervalKind`].
//!
//! An interval is the half-open range `[date_a, date_b)`. Parsing tries the kinds in Luigi's
//! order — `2015`, `2015-05`, `2015-W35`, `2015-11-04`, `2015-11-04-2015-12-04` — with the same
//! regexes (including Python's `$`, which also matches before one trailing newline, and `\d`,
//! which matches any Unicode decimal digit). The string form is Luigi's `to_string`, which
//! prints years without zero padding (`999-W05`).
//!
//! Python builds each interval with `datetime.date` arithmetic, so an interval whose end
//! would fall after 9999-12-31, or an ISO week of year 1 (Luigi's week search starts ten
//! days before January 1st), cannot exist there; the constructors return `None` for those
//! so that no value exists here that Python could not build.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Weekday};

use crate::param::{ParamOptions, ParamValue, ParseError};

use super::date::date_string;
use super::py_digit;

/// Which `luigi.date_interval` class an interval is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DateIntervalKind {
    /// A calendar year, `2015`.
    Year,
    /// A calendar month, `2015-05`.
    Month,
    /// An ISO 8601 week (Monday to Sunday), `2015-W35`.
    Week,
    /// One day, `2015-11-04`.
    Date,
    /// Any half-open range of days, `2015-11-04-2015-12-04`.
    Custom,
}

/// A half-open range of days `[date_a, date_b)` of one [`DateIntervalKind`].
///
/// Ordered by `(date_a, date_b)` first, as Luigi compares intervals of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateInterval {
    date_a: NaiveDate,
    date_b: NaiveDate,
    kind: DateIntervalKind,
}

/// Python's `date` range.
fn python_date(date: NaiveDate) -> Option<NaiveDate> {
    (1..=9999).contains(&date.year()).then_some(date)
}

fn ymd(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day).and_then(python_date)
}

fn next_day(date: NaiveDate) -> Option<NaiveDate> {
    date.succ_opt().and_then(python_date)
}

impl DateInterval {
    /// The year `year`; `None` unless 1 <= `year` <= 9998 (its end must be a Python date).
    pub fn year(year: i32) -> Option<DateInterval> {
        Some(DateInterval {
            date_a: ymd(year, 1, 1)?,
            date_b: ymd(year.checked_add(1)?, 1, 1)?,
            kind: DateIntervalKind::Year,
        })
    }

    /// The month `month` (1–12) of `year`; `None` when it does not exist or ends after 9999.
    pub fn month(year: i32, month: u32) -> Option<DateInterval> {
        let date_a = ymd(year, month, 1)?;
        let date_b = if month == 12 { ymd(year.checked_add(1)?, 1, 1)? } else { ymd(year, month + 1, 1)? };
        Some(DateInterval { date_a, date_b, kind: DateIntervalKind::Month })
    }

    /// ISO week `week` of ISO year `year`, Monday to Sunday; `None` when the year has no such
    /// week, or when Python's construction would leave its date range (years 1 and 9999).
    pub fn week(year: i32, week: u32) -> Option<DateInterval> {
        if year < 2 {
            return None;
        }
        let date_a = NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).and_then(python_date)?;
        let date_b = date_a.checked_add_signed(TimeDelta::days(7)).and_then(python_date)?;
        Some(DateInterval { date_a, date_b, kind: DateIntervalKind::Week })
    }

    /// The single day `date`; `None` for 9999-12-31, whose end Python cannot represent.
    pub fn date(date: NaiveDate) -> Option<DateInterval> {
        Some(DateInterval { date_a: python_date(date)?, date_b: next_day(date)?, kind: DateIntervalKind::Date })
    }

    /// The days from `date_a` up to but excluding `date_b` (empty when `date_b <= date_a`, as
    /// in Luigi); `None` outside Python's date range.
    pub fn custom(date_a: NaiveDate, date_b: NaiveDate) -> Option<DateInterval> {
        Some(DateInterval {
            date_a: python_date(date_a)?,
            date_b: python_date(date_b)?,
            kind: DateIntervalKind::Custom,
        })
    }

    /// The interval of `kind` containing `date` (Luigi's `from_date`); `None` for
    /// [`DateIntervalKind::Custom`], which has no such notion.
    pub fn from_date(kind: DateIntervalKind, date: NaiveDate) -> Option<DateInterval> {
        match kind {
            DateIntervalKind::Year => DateInterval::year(date.year()),
            DateIntervalKind::Month => DateInterval::month(date.year(), date.month()),
            DateIntervalKind::Week => {
                let iso = date.iso_week();
                DateInterval::week(iso.year(), iso.week())
            }
            DateIntervalKind::Date => DateInterval::date(date),
            DateIntervalKind::Custom => None,
        }
    }

    /// Which kind of interval this is.
    pub fn kind(&self) -> DateIntervalKind {
        self.kind
    }

    /// The first day.
    pub fn date_a(&self) -> NaiveDate {
        self.date_a
    }

    /// The day after the last day.
    pub fn date_b(&self) -> NaiveDate {
        self.date_b
    }

    /// Every day in the interval, in order.
    pub fn dates(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let end = self.date_b;
        self.date_a.iter_days().take_while(move |day| *day < end)
    }

    /// Every hour of every day in the interval, in order.
    pub fn hours(&self) -> impl Iterator<Item = NaiveDateTime> + use<> {
        self.dates().flat_map(|day| {
            (0..24).filter_map(move |hour| NaiveTime::from_hms_opt(hour, 0, 0).map(|time| day.and_time(time)))
        })
    }

    /// Whether `date` is in the interval.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.date_a <= date && date < self.date_b
    }

    /// The preceding interval of the same kind (May → April, 2009-W01 → 2008-W52); `None` for
    /// custom intervals (Luigi raises `NotImplementedError`) and at the edge of the calendar.
    pub fn prev(&self) -> Option<DateInterval> {
        DateInterval::from_date(self.kind, self.date_a.pred_opt()?)
    }

    /// The following interval of the same kind (2014 → 2015); `None` for custom intervals and
    /// at the edge of the calendar.
    pub fn next(&self) -> Option<DateInterval> {
        DateInterval::from_date(self.kind, self.date_b)
    }

    /// Parses Luigi's string forms, trying year, month, week, date, then custom.
    fn parse_text(text: &str) -> Result<DateInterval, ParseError> {
        // Python's `$` also matches just before a final newline, and `int()` strips it.
        let body = text.strip_suffix('\n').unwrap_or(text);
        let chars: Vec<char> = body.chars().collect();
        let number = |range: std::ops::Range<usize>| -> Option<i64> {
            chars.get(range)?.iter().try_fold(0i64, |acc, ch| Some(acc * 10 + i64::from(py_digit(*ch)?)))
        };
        let dash = |idx: usize| chars.get(idx) == Some(&'-');
        let invalid_year = |year: i64| ParseError::new(format!("year {year} is out of range"));
        let overflow = || ParseError::new("date value out of range");
        match chars.len() {
            4 => {
                if let Some(year) = number(0..4) {
                    return DateInterval::year(year as i32).ok_or_else(|| match year {
                        0 => invalid_year(0),
                        _ => invalid_year(year + 1),
                    });
                }
            }
            7 if dash(4) => {
                if let (Some(year), Some(month)) = (number(0..4), number(5..7)) {
                    let interval = DateInterval::month(year as i32, month as u32);
                    return interval.ok_or_else(|| match (year, month) {
                        (_, 1..=12) if year > 0 => invalid_year(year + 1),
                        _ => date_error(year, month),
                    });
                }
            }
            8 if dash(4) && chars[5] == 'W' => {
                if let (Some(year), Some(week)) = (number(0..4), number(6..8)) {
                    // Luigi searches from ten days before January 1st up to day 370 and
                    // needs the Monday a week before the end of its range.
                    return DateInterval::week(year as i32, week as u32).ok_or_else(|| match year {
                        0 => invalid_year(0),
                        1 | 9999 => overflow(),
                        _ => ParseError::new("Invalid week"),
                    });
                }
            }
            10 if dash(4) && dash(7) => {
                if let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) {
                    let date = ymd(year as i32, month as u32, day as u32).ok_or_else(|| date_error(year, month))?;
                    return DateInterval::date(date).ok_or_else(overflow);
                }
            }
            21 if dash(4) && dash(7) && dash(10) && dash(15) && dash(18) => {
                if let (Some(y1), Some(m1), Some(d1), Some(y2), Some(m2), Some(d2)) =
                    (number(0..4), number(5..7), number(8..10), number(11..15), number(16..18), number(19..21))
                {
                    let date_a = ymd(y1 as i32, m1 as u32, d1 as u32).ok_or_else(|| date_error(y1, m1))?;
                    let date_b = ymd(y2 as i32, m2 as u32, d2 as u32).ok_or_else(|| date_error(y2, m2))?;
                    return DateInterval::custom(date_a, date_b).ok_or_else(overflow);
                }
            }
            _ => {}
        }
        Err(ParseError::new("Invalid date interval - could not be parsed"))
    }
}

/// Python's `datetime.date(year, month, day)` error for an invalid date, which checks the
/// year, then the month, then the day.
fn date_error(year: i64, month: i64) -> ParseError {
    if !(1..=9999).contains(&year) {
        ParseError::new(format!("year {year} is out of range"))
    } else if !(1..=12).contains(&month) {
        ParseError::new("month must be in 1..12")
    } else {
        ParseError::new("day is out of range for month")
    }
}

impl ParamValue for DateInterval {
    const TYPE_NAME: &'static str = "date_interval";

    fn parse(text: &str, _options: &ParamOptions) -> Result<Self, ParseError> {
        DateInterval::parse_text(text)
    }

    fn serialize(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for DateInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.date_a;
        match self.kind {
            DateIntervalKind::Year => write!(f, "{}", a.year()),
            DateIntervalKind::Month => write!(f, "{}-{:02}", a.year(), a.month()),
            DateIntervalKind::Week => {
                let iso = a.iso_week();
                write!(f, "{}-W{:02}", iso.year(), iso.week())
            }
            DateIntervalKind::Date => f.write_str(&date_string(a)),
            DateIntervalKind::Custom => write!(f, "{}-{}", date_string(a), date_string(self.date_b)),
        }
    }
}

impl FromStr for DateInterval {
    type Err = ParseError;

    /// Parses Luigi's string forms.
    fn from_str(text: &str) -> Result<DateInterval, ParseError> {
        DateInterval::parse_text(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<String, String> {
        text.parse::<DateInterval>().map(|i| i.to_string()).map_err(|e| e.message().to_owned())
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn parses_every_kind_in_luigis_order() {
        for text in ["2015", "2015-05", "2015-W35", "2015-11-04", "2015-11-04-2015-12-04", "2015-12-04-2015-11-04"] {
            assert_eq!(parse(text).as_deref(), Ok(text));
        }
        assert_eq!(parse("2015\n").as_deref(), Ok("2015"));
        assert_eq!(parse("0999-W05").as_deref(), Ok("999-W05"));
        assert_eq!(parse("2015-13").unwrap_err(), "month must be in 1..12");
        assert_eq!(parse("2014-W53").unwrap_err(), "Invalid week");
        assert_eq!(parse("2015-W00").unwrap_err(), "Invalid week");
        assert_eq!(parse("9999").unwrap_err(), "year 10000 is out of range");
        assert_eq!(parse("9999-12").unwrap_err(), "year 10000 is out of range");
        assert_eq!(parse("0000").unwrap_err(), "year 0 is out of range");
        assert_eq!(parse("2015-02-30").unwrap_err(), "day is out of range for month");
        for bad in ["15", "2015-1", "2015-11-4", "2015-W35x", "2015-11-04/2015-12-04", ""] {
            assert_eq!(parse(bad).unwrap_err(), "Invalid date interval - could not be parsed");
        }
    }

    #[test]
    fn iso_weeks_cross_new_year() {
        let week = DateInterval::week(2009, 1).unwrap();
        assert_eq!((week.date_a(), week.date_b()), (date(2008, 12, 29), date(2009, 1, 5)));
        assert_eq!(week.prev().unwrap().to_string(), "2008-W52");
        assert_eq!(DateInterval::week(2009, 53).unwrap().next().unwrap().to_string(), "2010-W01");
        assert_eq!(DateInterval::week(2015, 53).unwrap().prev().unwrap().to_string(), "2015-W52");
        assert!(DateInterval::week(2014, 53).is_none());
        assert!(DateInterval::week(1, 5).is_none());
    }

    #[test]
    fn navigation_and_contents() {
        let month = DateInterval::month(2015, 12).unwrap();
        assert_eq!(month.next().unwrap().to_string(), "2016-01");
        assert_eq!(month.prev().unwrap().to_string(), "2015-11");
        assert_eq!(month.dates().count(), 31);
        assert_eq!(month.hours().count(), 31 * 24);
        assert!(month.contains(date(2015, 12, 31)) && !month.contains(date(2016, 1, 1)));
        let day = DateInterval::date(date(2016, 2, 28)).unwrap();
        assert_eq!(day.next().unwrap().to_string(), "2016-02-29");
        assert_eq!(DateInterval::year(2015).unwrap().prev().unwrap().to_string(), "2014");
        let custom = DateInterval::custom(date(2015, 1, 1), date(2015, 1, 3)).unwrap();
        assert_eq!(custom.dates().collect::<Vec<_>>(), vec![date(2015, 1, 1), date(2015, 1, 2)]);
        assert!(custom.next().is_none() && custom.prev().is_none());
        assert!(DateInterval::date(date(9999, 12, 31)).is_none());
    }
}
