//! Dates and datetimes: Luigi's `DateParameter` ([`NaiveDate`]), `MonthParameter`
//! ([`Month`]), `YearParameter` ([`Year`]), `DateHourParameter` ([`DateHour`]),
//! `DateMinuteParameter` ([`DateMinute`]) and `DateSecondParameter` ([`DateSecond`]).
//!
//! Luigi parses these with Python's `strptime`, which is more lenient than its format
//! suggests: single-digit months, days and hours (`2015-1-5`, `2013-07-10T1`), a
//! space-padded day, a case-insensitive `T`, and a regex that matches a prefix first and
//! then complains about "unconverted data". [`strptime`] below replays the exact regexes
//! `_strptime` builds for the directives used here, with the same backtracking order and the
//! same error texts, so every string Python accepts is accepted here with the same value.
//!
//! Normalization snaps a value down to `start + k * interval` (`options.interval` in the
//! type's unit, `options.start` in the type's own string form, default 1970-01-01), using
//! Python's floor modulo exactly as Luigi's `normalize` does, and drops anything finer than
//! the type (minutes of a [`DateHour`], sub-seconds of a [`DateSecond`]). Python's dates stop
//! at years 1 and 9999 and its `strftime("%Y")` does not zero-pad years below 1000; both
//! limits are kept, since a value outside them could not exist on the Python side.
//!
//! The newtypes are thin wrappers over chrono values with the invariant "already truncated
//! to the type's unit"; they deref to the chrono value and convert both ways.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike};

use crate::param::{ParamOptions, ParamValue, ParseError};

use super::{check_choices, interval_of, py_digit, py_mod, python_repr};

/// The smallest and largest years Python's `datetime` can hold.
const MIN_YEAR: i32 = 1;
const MAX_YEAR: i32 = 9999;

/// One element of a `strptime` format.
#[derive(Clone, Copy)]
enum Piece {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    /// A literal, matched case-insensitively (`_strptime` compiles with `IGNORECASE`).
    Lit(char),
}

/// One character position of a directive's regex alternative.
#[derive(Clone, Copy)]
enum Class {
    /// `\d`: any Unicode decimal digit.
    Digit,
    /// `[lo-hi]` over ASCII digits.
    Range(char, char),
    /// A literal space (only in the day directive's `' [1-9]'`).
    Space,
}

use Class::{Digit, Range, Space};

/// The alternatives of each directive's regex in `_strptime.TimeRE`, in the order the regex
/// engine tries them.
fn alternatives(piece: Piece) -> &'static [&'static [Class]] {
    match piece {
        // (?P<Y>\d\d\d\d)
        Piece::Year => &[&[Digit, Digit, Digit, Digit]],
        // (?P<m>1[0-2]|0[1-9]|[1-9])
        Piece::Month => &[&[Range('1', '1'), Range('0', '2')], &[Range('0', '0'), Range('1', '9')], &[Range('1', '9')]],
        // (?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])
        Piece::Day => &[
            &[Range('3', '3'), Range('0', '1')],
            &[Range('1', '2'), Digit],
            &[Range('0', '0'), Range('1', '9')],
            &[Range('1', '9')],
            &[Space, Range('1', '9')],
        ],
        // (?P<H>2[0-3]|[0-1]\d|\d)
        Piece::Hour => &[&[Range('2', '2'), Range('0', '3')], &[Range('0', '1'), Digit], &[Digit]],
        // (?P<M>[0-5]\d|\d)
        Piece::Minute => &[&[Range('0', '5'), Digit], &[Digit]],
        // (?P<S>6[0-1]|[0-5]\d|\d)
        Piece::Second => &[&[Range('6', '6'), Range('0', '1')], &[Range('0', '5'), Digit], &[Digit]],
        Piece::Lit(_) => &[],
    }
}

/// The captured fields, indexed like `Piece` (year, month, day, hour, minute, second).
type Fields = [u32; 6];

fn slot(piece: Piece) -> usize {
    match piece {
        Piece::Year => 0,
        Piece::Month => 1,
        Piece::Day => 2,
        Piece::Hour => 3,
        Piece::Minute => 4,
        Piece::Second => 5,
        Piece::Lit(_) => usize::MAX,
    }
}

/// Matches one alternative at `pos`; returns the end position and the digits' value.
fn match_alternative(text: &str, pos: usize, classes: &[Class]) -> Option<(usize, u32)> {
    let mut end = pos;
    let mut value = 0u32;
    for class in classes {
        let ch = text[end..].chars().next()?;
        match class {
            Digit => value = value * 10 + py_digit(ch)?,
            Range(lo, hi) if (*lo..=*hi).contains(&ch) => value = value * 10 + py_digit(ch)?,
            Range(..) => return None,
            Space if ch == ' ' => {}
            Space => return None,
        }
        end += ch.len_utf8();
    }
    Some((end, value))
}

/// Leftmost-first backtracking match of `pieces` at `pos`, like Python's `re.match` of the
/// compiled format: the first success in priority order wins, even if it stops early.
fn match_pieces(text: &str, pos: usize, pieces: &[Piece], fields: &mut Fields) -> Option<usize> {
    let Some((first, rest)) = pieces.split_first() else { return Some(pos) };
    if let Piece::Lit(lit) = first {
        let ch = text[pos..].chars().next()?;
        let same = ch == *lit || ch.to_lowercase().eq(lit.to_lowercase());
        return if same { match_pieces(text, pos + ch.len_utf8(), rest, fields) } else { None };
    }
    for classes in alternatives(*first) {
        if let Some((end, value)) = match_alternative(text, pos, classes) {
            fields[slot(*first)] = value;
            if let Some(done) = match_pieces(text, end, rest, fields) {
                return Some(done);
            }
        }
    }
    None
}

/// A format: its pieces and its `strptime` spelling for error messages.
struct Format {
    pieces: &'static [Piece],
    text: &'static str,
}

const DATE_FORMAT: Format =
    Format { pieces: &[Piece::Year, Piece::Lit('-'), Piece::Month, Piece::Lit('-'), Piece::Day], text: "%Y-%m-%d" };
const MONTH_FORMAT: Format = Format { pieces: &[Piece::Year, Piece::Lit('-'), Piece::Month], text: "%Y-%m" };
const YEAR_FORMAT: Format = Format { pieces: &[Piece::Year], text: "%Y" };
const HOUR_FORMAT: Format = Format {
    pieces: &[Piece::Year, Piece::Lit('-'), Piece::Month, Piece::Lit('-'), Piece::Day, Piece::Lit('T'), Piece::Hour],
    text: "%Y-%m-%dT%H",
};
const MINUTE_FORMAT: Format = Format {
    pieces: &[
        Piece::Year,
        Piece::Lit('-'),
        Piece::Month,
        Piece::Lit('-'),
        Piece::Day,
        Piece::Lit('T'),
        Piece::Hour,
        Piece::Minute,
    ],
    text: "%Y-%m-%dT%H%M",
};
const DEPRECATED_MINUTE_FORMAT: Format = Format {
    pieces: &[
        Piece::Year,
        Piece::Lit('-'),
        Piece::Month,
        Piece::Lit('-'),
        Piece::Day,
        Piece::Lit('T'),
        Piece::Hour,
        Piece::Lit('H'),
        Piece::Minute,
    ],
    text: "%Y-%m-%dT%HH%M",
};
const SECOND_FORMAT: Format = Format {
    pieces: &[
        Piece::Year,
        Piece::Lit('-'),
        Piece::Month,
        Piece::Lit('-'),
        Piece::Day,
        Piece::Lit('T'),
        Piece::Hour,
        Piece::Minute,
        Piece::Second,
    ],
    text: "%Y-%m-%dT%H%M%S",
};

/// Python's `datetime.datetime.strptime(text, format)` for the formats above, with its error
/// messages.
fn strptime(text: &str, format: &Format) -> Result<NaiveDateTime, ParseError> {
    // Month and day default to 1, time fields to 0, as in `_strptime`.
    let mut fields: Fields = [0, 1, 1, 0, 0, 0];
    let Some(end) = match_pieces(text, 0, format.pieces, &mut fields) else {
        return Err(ParseError::new(format!(
            "time data {} does not match format {}",
            python_repr(text),
            python_repr(format.text)
        )));
    };
    if end != text.len() {
        return Err(ParseError::new(format!("unconverted data remains: {}", &text[end..])));
    }
    let [year, month, day, hour, minute, second] = fields;
    // The regexes bound everything but the year (4 digits), the day of the month and the
    // seconds (60 and 61 match); `datetime` rejects those with these texts, in this order.
    let year = year as i32;
    if year < MIN_YEAR {
        return Err(ParseError::new(format!("year {year} is out of range")));
    }
    let date =
        NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| ParseError::new("day is out of range for month"))?;
    let time =
        NaiveTime::from_hms_opt(hour, minute, second).ok_or_else(|| ParseError::new("second must be in 0..59"))?;
    Ok(NaiveDateTime::new(date, time))
}

/// Python's `date.strftime("%Y-%m-%d")`: glibc does not zero-pad years below 1000.
fn write_date(f: &mut fmt::Formatter<'_>, date: NaiveDate) -> fmt::Result {
    write!(f, "{}-{:02}-{:02}", date.year(), date.month(), date.day())
}

/// The error Python raises when date arithmetic leaves years 1..=9999.
fn out_of_range() -> ParseError {
    ParseError::new("date value out of range")
}

fn in_python_range(date: NaiveDate) -> bool {
    (MIN_YEAR..=MAX_YEAR).contains(&date.year())
}

fn checked_date(date: Option<NaiveDate>) -> Result<NaiveDate, ParseError> {
    date.filter(|d| in_python_range(*d)).ok_or_else(out_of_range)
}

fn checked_datetime(datetime: Option<NaiveDateTime>) -> Result<NaiveDateTime, ParseError> {
    datetime.filter(|dt| in_python_range(dt.date())).ok_or_else(out_of_range)
}

/// Parses `options.start` with the type's own parser; `default` when unset.
fn start_of<T>(
    options: &ParamOptions,
    parse: fn(&str) -> Result<T, ParseError>,
    default: T,
    type_name: &str,
) -> Result<T, ParseError> {
    match options.start {
        None => Ok(default),
        Some(text) => parse(text).map_err(|err| {
            ParseError::new(format!("invalid start {} for a {type_name} parameter: {}", python_repr(text), err))
        }),
    }
}

fn epoch_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

fn epoch() -> NaiveDateTime {
    epoch_date().and_time(NaiveTime::MIN)
}

/// Python's `ZeroDivisionError` text, for `interval = 0`.
fn zero_interval() -> ParseError {
    ParseError::new("integer division or modulo by zero (interval must not be 0)")
}

// --- DateParameter -------------------------------------------------------------------------

fn parse_date(text: &str) -> Result<NaiveDate, ParseError> {
    strptime(text, &DATE_FORMAT).map(|dt| dt.date())
}

impl ParamValue for NaiveDate {
    const TYPE_NAME: &'static str = "date";

    fn parse(text: &str, _options: &ParamOptions) -> Result<Self, ParseError> {
        parse_date(text)
    }

    fn serialize(&self) -> String {
        DateDisplay(*self).to_string()
    }

    /// Snaps down to `start + k * interval` days.
    fn normalize(self, options: &ParamOptions) -> Result<Self, ParseError> {
        let interval = interval_of(options);
        let value = if interval == 1 {
            checked_date(Some(self))?
        } else {
            let start = start_of(options, parse_date, epoch_date(), Self::TYPE_NAME)?;
            let delta = py_mod((self - start).num_days(), interval).ok_or_else(zero_interval)?;
            checked_date(self.checked_sub_signed(TimeDelta::days(delta)))?
        };
        check_choices(&value, options)?;
        Ok(value)
    }

    fn next_in_enumeration(&self, options: &ParamOptions) -> Option<Self> {
        let next = self.checked_add_signed(TimeDelta::try_days(interval_of(options))?)?;
        in_python_range(next).then_some(next)
    }
}

/// Displays a date as Luigi serializes it.
struct DateDisplay(NaiveDate);

impl fmt::Display for DateDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_date(f, self.0)
    }
}

pub(super) fn date_string(date: NaiveDate) -> String {
    DateDisplay(date).to_string()
}

// --- MonthParameter ------------------------------------------------------------------------

/// A month (Luigi's `MonthParameter`), written `2013-07`; the value is the first day of the
/// month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(NaiveDate);

impl Month {
    /// The month `month` (1–12) of `year`; `None` when it does not exist or is outside years
    /// 1–9999.
    pub fn new(year: i32, month: u32) -> Option<Month> {
        NaiveDate::from_ymd_opt(year, month, 1).filter(|d| in_python_range(*d)).map(Month)
    }

    /// The month containing `date`.
    pub fn from_date(date: NaiveDate) -> Month {
        Month(date.with_day(1).unwrap_or(date))
    }

    /// The first day of the month.
    pub fn first_day(self) -> NaiveDate {
        self.0
    }

    /// The month `months` later (earlier when negative); `None` outside years 1–9999.
    pub fn add_months(self, months: i64) -> Option<Month> {
        // Luigi's `_add_months`, with Python's floor division and modulo.
        let index = i64::from(self.0.year()) * 12 + i64::from(self.0.month0()) + months;
        let year = i32::try_from(index.div_euclid(12)).ok()?;
        let month = u32::try_from(index.rem_euclid(12)).ok()? + 1;
        Month::new(year, month)
    }

    fn parse_text(text: &str) -> Result<Month, ParseError> {
        strptime(text, &MONTH_FORMAT).map(|dt| Month(dt.date()))
    }
}

impl ParamValue for Month {
    const TYPE_NAME: &'static str = "month";

    fn parse(text: &str, _options: &ParamOptions) -> Result<Self, ParseError> {
        Month::parse_text(text)
    }

    fn serialize(&self) -> String {
        self.to_string()
    }

    /// Snaps down to `start + k * interval` months (the day of `start` is ignored).
    fn normalize(self, options: &ParamOptions) -> Result<Self, ParseError> {
        let start = start_of(options, Month::parse_text, Month(epoch_date()), Self::TYPE_NAME)?;
        let since_start =
            i64::from(self.0.year() - start.0.year()) * 12 + i64::from(self.0.month()) - i64::from(start.0.month());
        let since_start = since_start - py_mod(since_start, interval_of(options)).ok_or_else(zero_interval)?;
        let value = start.add_months(since_start).ok_or_else(out_of_range)?;
        check_choices(&value, options)?;
        Ok(value)
    }

    fn next_in_enumeration(&self, options: &ParamOptions) -> Option<Self> {
        self.add_months(interval_of(options))
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:02}", self.0.year(), self.0.month())
    }
}

// --- YearParameter -------------------------------------------------------------------------

/// A year (Luigi's `YearParameter`), written `2013`; the value is January 1st.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Year(NaiveDate);

impl Year {
    /// The year; `None` outside 1–9999.
    pub fn new(year: i32) -> Option<Year> {
        NaiveDate::from_ymd_opt(year, 1, 1).filter(|d| in_python_range(*d)).map(Year)
    }

    /// The year containing `date`.
    pub fn from_date(date: NaiveDate) -> Year {
        Year(NaiveDate::from_ymd_opt(date.year(), 1, 1).unwrap_or(date))
    }

    /// January 1st of the year.
    pub fn first_day(self) -> NaiveDate {
        self.0
    }

    fn parse_text(text: &str) -> Result<Year, ParseError> {
        strptime(text, &YEAR_FORMAT).map(|dt| Year(dt.date()))
    }
}

impl ParamValue for Year {
    const TYPE_NAME: &'static str = "year";

    fn parse(text: &str, _options: &ParamOptions) -> Result<Self, ParseError> {
        Year::parse_text(text)
    }

    fn serialize(&self) -> String {
        self.to_string()
    }

    /// Snaps down to `start + k * interval` years.
    fn normalize(self, options: &ParamOptions) -> Result<Self, ParseError> {
        let start = start_of(options, Year::parse_text, Year(epoch_date()), Self::TYPE_NAME)?;
        let year = i64::from(self.0.year());
        let delta = py_mod(year - i64::from(start.0.year()), interval_of(options)).ok_or_else(zero_interval)?;
        let value = i32::try_from(year - delta).ok().and_then(Year::new).ok_or_else(out_of_range)?;
        check_choices(&value, options)?;
        Ok(value)
    }

    fn next_in_enumeration(&self, options: &ParamOptions) -> Option<Self> {
        let year = i64::from(self.0.year()).checked_add(interval_of(options))?;
        Year::new(i32::try_from(year).ok()?)
    }
}

impl fmt::Display for Year {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.year())
    }
}

// --- Month/Year conveniences ----------------------------------------------------------------

macro_rules! date_newtype_conveniences {
    ($($ty:ident),*) => {$(
        impl Deref for $ty {
            type Target = NaiveDate;

            fn deref(&self) -> &NaiveDate {
                &self.0
            }
        }

        impl From<$ty> for NaiveDate {
            fn from(value: $ty) -> NaiveDate {
                value.0
            }
        }

        impl From<NaiveDate> for $ty {
            /// Truncates the date to the type's unit.
            fn from(date: NaiveDate) -> $ty {
                $ty::from_date(date)
            }
        }

        impl FromStr for $ty {
            type Err = ParseError;

            /// Parses the parameter's string form.
            fn from_str(text: &str) -> Result<$ty, ParseError> {
                $ty::parse_text(text)
            }
        }
    )*};
}

date_newtype_conveniences!(Month, Year);

// --- DateHour, DateMinute, DateSecond --------------------------------------------------------

macro_rules! datetime_param {
    ($(
        $(#[$doc:meta])*
        $ty:ident, $type_name:literal, $unit_secs:expr, $truncate:expr, $parse:expr;
    )*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty(NaiveDateTime);

        impl $ty {
            /// Seconds in one unit of the type.
            const UNIT_SECS: i64 = $unit_secs;

            /// The value at `datetime`, truncated to the type's unit.
            pub fn from_datetime(datetime: NaiveDateTime) -> $ty {
                let truncate: fn(NaiveDateTime) -> NaiveDateTime = $truncate;
                $ty(truncate(datetime))
            }

            /// The value as a chrono datetime.
            pub fn datetime(self) -> NaiveDateTime {
                self.0
            }

            fn parse_text(text: &str) -> Result<$ty, ParseError> {
                let parse: fn(&str) -> Result<NaiveDateTime, ParseError> = $parse;
                parse(text).map($ty)
            }
        }

        impl ParamValue for $ty {
            const TYPE_NAME: &'static str = $type_name;

            fn parse(text: &str, _options: &ParamOptions) -> Result<Self, ParseError> {
                $ty::parse_text(text)
            }

            fn serialize(&self) -> String {
                self.to_string()
            }

            /// Luigi's `_DatetimeParameterBase.normalize`: drop sub-seconds, then snap down
            /// to `start + k * interval` units.
            fn normalize(self, options: &ParamOptions) -> Result<Self, ParseError> {
                let value = self.0.with_nanosecond(0).unwrap_or(self.0);
                let start = start_of(options, |t| $ty::parse_text(t).map(|v| v.0), epoch(), Self::TYPE_NAME)?;
                let granularity = Self::UNIT_SECS.checked_mul(interval_of(options)).ok_or_else(out_of_range)?;
                let delta = py_mod((value - start).num_seconds(), granularity).ok_or_else(zero_interval)?;
                let value = checked_datetime(value.checked_sub_signed(TimeDelta::seconds(delta)))?;
                let value = $ty(value);
                check_choices(&value, options)?;
                Ok(value)
            }

            fn next_in_enumeration(&self, options: &ParamOptions) -> Option<Self> {
                let step = TimeDelta::try_seconds(Self::UNIT_SECS.checked_mul(interval_of(options))?)?;
                let next = self.0.checked_add_signed(step)?;
                in_python_range(next.date()).then_some($ty(next))
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_date(f, self.0.date())?;
                let (hour, minute, second) = (self.0.hour(), self.0.minute(), self.0.second());
                match Self::UNIT_SECS {
                    3600 => write!(f, "T{hour:02}"),
                    60 => write!(f, "T{hour:02}{minute:02}"),
                    _ => write!(f, "T{hour:02}{minute:02}{second:02}"),
                }
            }
        }

        impl Deref for $ty {
            type Target = NaiveDateTime;

            fn deref(&self) -> &NaiveDateTime {
                &self.0
            }
        }

        impl From<$ty> for NaiveDateTime {
            fn from(value: $ty) -> NaiveDateTime {
                value.0
            }
        }

        impl From<NaiveDateTime> for $ty {
            /// Truncates the datetime to the type's unit.
            fn from(datetime: NaiveDateTime) -> $ty {
                $ty::from_datetime(datetime)
            }
        }

        impl From<NaiveDate> for $ty {
            /// Midnight of the date (Luigi accepts dates for datetime parameters).
            fn from(date: NaiveDate) -> $ty {
                $ty(date.and_time(NaiveTime::MIN))
            }
        }

        impl FromStr for $ty {
            type Err = ParseError;

            /// Parses the parameter's string form.
            fn from_str(text: &str) -> Result<$ty, ParseError> {
                $ty::parse_text(text)
            }
        }
    )*};
}

/// Python's deprecated `%Y-%m-%dT%HH%M` first, then the current format, as Luigi's
/// `DateMinuteParameter.parse` does; errors come from the current format.
fn parse_minute(text: &str) -> Result<NaiveDateTime, ParseError> {
    if let Ok(value) = strptime(text, &DEPRECATED_MINUTE_FORMAT) {
        tracing::warn!(value = text, "Using \"H\" between hours and minutes is deprecated, omit it instead.");
        return Ok(value);
    }
    strptime(text, &MINUTE_FORMAT)
}

fn truncate_to(datetime: NaiveDateTime, unit_secs: u32) -> NaiveDateTime {
    let secs = datetime.num_seconds_from_midnight();
    let time = NaiveTime::from_num_seconds_from_midnight_opt(secs - secs % unit_secs, 0).unwrap_or(NaiveTime::MIN);
    datetime.date().and_time(time)
}

datetime_param! {
    /// A date and hour (Luigi's `DateHourParameter`), written `2013-07-10T19`.
    DateHour, "datehour", 3600, |dt| truncate_to(dt, 3600),
    |text| strptime(text, &HOUR_FORMAT);
    /// A date, hour and minute (Luigi's `DateMinuteParameter`), written `2013-07-10T1907`; the
    /// deprecated `2013-07-10T19H07` is accepted with a warning.
    DateMinute, "dateminute", 60, |dt| truncate_to(dt, 60), parse_minute;
    /// A date and time to the second (Luigi's `DateSecondParameter`), written
    /// `2013-07-10T190738`.
    DateSecond, "datesecond", 1, |dt| truncate_to(dt, 1),
    |text| strptime(text, &SECOND_FORMAT);
}

impl DateHour {
    /// `hour` o'clock on `date`; `None` when the hour is not 0–23 or the date is outside
    /// years 1–9999.
    pub fn new(date: NaiveDate, hour: u32) -> Option<DateHour> {
        let time = NaiveTime::from_hms_opt(hour, 0, 0)?;
        in_python_range(date).then(|| DateHour(date.and_time(time)))
    }
}

impl DateMinute {
    /// `hour:minute` on `date`; `None` when invalid or outside years 1–9999.
    pub fn new(date: NaiveDate, hour: u32, minute: u32) -> Option<DateMinute> {
        let time = NaiveTime::from_hms_opt(hour, minute, 0)?;
        in_python_range(date).then(|| DateMinute(date.and_time(time)))
    }
}

impl DateSecond {
    /// `hour:minute:second` on `date`; `None` when invalid or outside years 1–9999.
    pub fn new(date: NaiveDate, hour: u32, minute: u32, second: u32) -> Option<DateSecond> {
        let time = NaiveTime::from_hms_opt(hour, minute, second)?;
        in_python_range(date).then(|| DateSecond(date.and_time(time)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ParamOptions {
        ParamOptions::DEFAULT
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn strptime_is_as_lenient_as_python() {
        assert_eq!(NaiveDate::parse("2015-1-5", &opts()), Ok(date(2015, 1, 5)));
        assert_eq!(NaiveDate::parse("2015-01- 5", &opts()), Ok(date(2015, 1, 5)));
        assert_eq!(NaiveDate::parse("٢٠١٥-01-05", &opts()), Ok(date(2015, 1, 5)));
        assert_eq!(DateHour::parse("2013-07-10t1", &opts()).unwrap().serialize(), "2013-07-10T01");
        assert_eq!(DateSecond::parse("2013-07-10T1973", &opts()).unwrap().serialize(), "2013-07-10T190703");
        assert_eq!(
            NaiveDate::parse("2015-13-01", &opts()).unwrap_err().message(),
            "time data '2015-13-01' does not match format '%Y-%m-%d'"
        );
        assert_eq!(NaiveDate::parse("2015-01-05x", &opts()).unwrap_err().message(), "unconverted data remains: x");
        assert_eq!(DateHour::parse("2013-07-10T24", &opts()).unwrap_err().message(), "unconverted data remains: 4");
        assert_eq!(NaiveDate::parse("2015-02-29", &opts()).unwrap_err().message(), "day is out of range for month");
        assert_eq!(NaiveDate::parse("0000-01-01", &opts()).unwrap_err().message(), "year 0 is out of range");
        assert_eq!(DateSecond::parse("2013-07-10T190760", &opts()).unwrap_err().message(), "second must be in 0..59");
    }

    #[test]
    fn small_years_are_not_padded() {
        assert_eq!(date(999, 1, 1).serialize(), "999-01-01");
        assert_eq!(Year::new(5).unwrap().serialize(), "5");
        assert!(Year::new(0).is_none() && Year::new(10000).is_none());
    }

    #[test]
    fn dates_snap_to_the_interval_from_start() {
        let weekly = ParamOptions { interval: Some(7), ..opts() };
        // 1970-01-01 was a Thursday, so weekly values fall on Thursdays.
        assert_eq!(date(2024, 1, 3).normalize(&weekly), Ok(date(2023, 12, 28)));
        let started = ParamOptions { interval: Some(7), start: Some("2024-01-01"), ..opts() };
        assert_eq!(date(2024, 1, 10).normalize(&started), Ok(date(2024, 1, 8)));
        assert_eq!(date(2023, 12, 31).normalize(&started), Ok(date(2023, 12, 25)));
        assert_eq!(date(2024, 1, 8).next_in_enumeration(&started), Some(date(2024, 1, 15)));
        assert!(date(2024, 1, 8).normalize(&ParamOptions { interval: Some(0), ..opts() }).is_err());
        assert!(date(1, 1, 1).normalize(&weekly).is_err());
        assert_eq!(date(9999, 12, 31).next_in_enumeration(&opts()), None);
        assert!(date(10000, 1, 1).normalize(&opts()).is_err());
    }

    #[test]
    fn months_and_years_snap() {
        let quarterly = ParamOptions { interval: Some(3), start: Some("2015-02"), ..opts() };
        assert_eq!(Month::new(2015, 7).unwrap().normalize(&quarterly).unwrap().serialize(), "2015-05");
        assert_eq!(Month::new(2015, 1).unwrap().normalize(&quarterly).unwrap().serialize(), "2014-11");
        assert_eq!(Month::new(2015, 11).unwrap().next_in_enumeration(&quarterly).unwrap().serialize(), "2016-02");
        assert_eq!(Month::from_date(date(2015, 3, 17)).first_day(), date(2015, 3, 1));
        let decade = ParamOptions { interval: Some(10), ..opts() };
        assert_eq!(Year::new(2015).unwrap().normalize(&decade).unwrap().serialize(), "2010");
        assert_eq!(Year::new(1965).unwrap().normalize(&decade).unwrap().serialize(), "1960");
        assert_eq!(Year::new(2010).unwrap().next_in_enumeration(&decade).unwrap().serialize(), "2020");
        assert_eq!("2015-06".parse::<Month>().unwrap().month(), 6);
    }

    #[test]
    fn datetimes_snap_and_drop_finer_units() {
        let six = ParamOptions { interval: Some(6), ..opts() };
        let value = DateHour::from(date(2013, 7, 10).and_hms_opt(13, 30, 0).unwrap());
        assert_eq!(value.normalize(&six).unwrap().serialize(), "2013-07-10T12");
        assert_eq!(value.next_in_enumeration(&six).unwrap().serialize(), "2013-07-10T19");
        let quarter = ParamOptions { interval: Some(15), start: Some("2013-07-10T0007"), ..opts() };
        let minute = DateMinute::new(date(2013, 7, 10), 19, 5).unwrap();
        assert_eq!(minute.normalize(&quarter).unwrap().serialize(), "2013-07-10T1852");
        let precise = date(2013, 7, 10).and_hms_nano_opt(19, 7, 38, 999_999_999).unwrap();
        assert_eq!(DateSecond::from(precise).serialize(), "2013-07-10T190738");
        assert_eq!(DateMinute::parse("2013-07-10T19H07", &opts()).unwrap().serialize(), "2013-07-10T1907");
        assert_eq!(
            DateMinute::parse("2013-07-10T19:07", &opts()).unwrap_err().message(),
            "unconverted data remains: :07"
        );
    }
}
