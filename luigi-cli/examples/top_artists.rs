//! Luigi's classic top-artists example: `Streams(date)` → `AggregateArtists(date_interval)` →
//! `Top10Artists(date_interval)`.
//!
//! ```sh
//! cargo run -p luigi-cli --example top_artists -- Top10Artists --date-interval 2024-01 --root /tmp/luigi-rs-artists --local-scheduler --workers 2
//! cat /tmp/luigi-rs-artists/top_artists_2024-01.tsv
//! cargo run -p luigi-cli --example top_artists -- Top10Artists --date-interval 2024-01-01-2024-01-08 --root /tmp/luigi-rs-artists --local-scheduler
//! ```
//!
//! - `Streams --date D` writes one day of play events, `streams_YYYY_MM_DD_faked.tsv`, one
//!   `timestamp artist track` line per play. Luigi's version writes random numbers; here the
//!   data is synthetic but deterministic (seeded by the date) and skewed towards a few popular
//!   artists, so the top ten is stable and worth looking at, and no external input is needed.
//! - `AggregateArtists --date-interval I` requires one `Streams` per day of the interval and
//!   writes `artist<TAB>plays` per artist, sorted by artist.
//! - `Top10Artists --date-interval I` writes the ten most played artists as
//!   `date_a<TAB>date_b<TAB>artist<TAB>plays` (Luigi's format), most played first; ties go to
//!   the alphabetically first artist (Luigi's `nlargest` happens to prefer the last).
//!
//! The interval is a [`DateInterval`] parameter, so it takes Luigi's forms: `2024` (a year),
//! `2024-01` (a month), `2024-W05` (an ISO week), `2024-01-15` (a day) or
//! `2024-01-01-2024-01-08` (a custom range, end excluded). Its string form names the output
//! files, as in Luigi. Intervals share days: after a run for `2024-01`, a run for
//! `2024-01-01-2024-01-08` reuses the seven `Streams` files it finds complete and only
//! aggregates.

use std::collections::HashMap;
use std::io::Write;

use chrono::{Datelike, NaiveDate, NaiveTime};
use luigi_core::param::DateInterval;
use luigi_core::prelude::*;

/// Plays generated per day.
const PLAYS_PER_DAY: u64 = 1000;
/// Distinct artists in the synthetic catalogue.
const ARTISTS: u64 = 40;
/// Distinct tracks per artist.
const TRACKS: u64 = 20;

/// SplitMix64: a tiny, well-known generator, so the data depends on nothing but the date.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `bound`.
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// One day of synthetic play events.
#[derive(Task, Clone, Debug)]
struct Streams {
    /// The day.
    date: NaiveDate,
    /// Directory for all outputs.
    root: String,
}

impl Task for Streams {
    type Requires = ();
    type Output = LocalTarget;

    fn requires(&self) {}

    fn output(&self) -> LocalTarget {
        LocalTarget::new(format!("{}/{}", self.root, self.date.format("streams_%Y_%m_%d_faked.tsv")))
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        let mut rng = SplitMix64(u64::try_from(self.date.num_days_from_ce()).unwrap_or_default());
        let midnight = self.date.and_time(NaiveTime::MIN).and_utc().timestamp();
        // Sorted offsets into the day, so the file reads like a log.
        let mut seconds: Vec<u64> = (0..PLAYS_PER_DAY).map(|_| rng.below(86_400)).collect();
        seconds.sort_unstable();
        let mut out = self.output().open_write()?;
        for second in seconds {
            // The smaller of two draws: low-numbered artists are played far more often.
            let artist = rng.below(ARTISTS).min(rng.below(ARTISTS));
            let track = rng.below(TRACKS);
            let timestamp = midnight + i64::try_from(second).unwrap_or_default();
            writeln!(out, "{timestamp} artist{artist:02} track{artist:02}_{track:02}")?;
        }
        out.commit()?;
        Ok(())
    }
}

/// Plays per artist over an interval.
#[derive(Task, Clone, Debug)]
struct AggregateArtists {
    /// The days to aggregate.
    date_interval: DateInterval,
    /// Directory for all outputs.
    root: String,
}

impl Task for AggregateArtists {
    type Requires = Vec<Streams>;
    type Output = LocalTarget;

    fn requires(&self) -> Vec<Streams> {
        self.date_interval.dates().map(|date| Streams { date, root: self.root.clone() }).collect()
    }

    fn output(&self) -> LocalTarget {
        LocalTarget::new(format!("{}/artist_streams_{}.tsv", self.root, self.date_interval))
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        let mut plays: HashMap<String, u64> = HashMap::new();
        for input in self.input() {
            let path = input.as_path().display().to_string();
            for (number, line) in input.open_read()?.lines().enumerate() {
                let line = line?;
                let mut fields = line.split_whitespace();
                let (Some(_timestamp), Some(artist), Some(_track), None) =
                    (fields.next(), fields.next(), fields.next(), fields.next())
                else {
                    return Err(format!(
                        "{path}, line {}: expected `timestamp artist track`, found {line:?}; delete the file to \
                         have it generated again",
                        number + 1
                    )
                    .into());
                };
                *plays.entry(artist.to_owned()).or_default() += 1;
            }
        }
        let mut plays: Vec<_> = plays.into_iter().collect();
        plays.sort_unstable();
        let mut out = self.output().open_write()?;
        for (artist, count) in plays {
            writeln!(out, "{artist}\t{count}")?;
        }
        out.commit()?;
        Ok(())
    }
}

/// The ten most played artists of an interval.
#[derive(Task, Clone, Debug)]
struct Top10Artists {
    /// The days to rank.
    date_interval: DateInterval,
    /// Directory for all outputs.
    root: String,
}

impl Task for Top10Artists {
    type Requires = AggregateArtists;
    type Output = LocalTarget;

    fn requires(&self) -> AggregateArtists {
        AggregateArtists { date_interval: self.date_interval, root: self.root.clone() }
    }

    fn output(&self) -> LocalTarget {
        LocalTarget::new(format!("{}/top_artists_{}.tsv", self.root, self.date_interval))
    }

    fn run(&self, _ctx: &mut RunContext<'_>) -> Result<(), BoxError> {
        let input = self.input();
        let mut plays = Vec::new();
        for line in input.open_read()?.lines() {
            let line = line?;
            let parsed = line.split_once('\t').and_then(|(artist, count)| Some((count.parse::<u64>().ok()?, artist)));
            let Some((count, artist)) = parsed else {
                return Err(format!(
                    "{}: expected `artist<TAB>plays`, found {line:?}; delete the file to have it aggregated again",
                    input.as_path().display()
                )
                .into());
            };
            plays.push((count, artist.to_owned()));
        }
        // Most plays first; among equal counts, the alphabetically first artist.
        plays.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let mut out = self.output().open_write()?;
        let (date_a, date_b) = (self.date_interval.date_a(), self.date_interval.date_b());
        for (count, artist) in plays.into_iter().take(10) {
            writeln!(out, "{date_a}\t{date_b}\t{artist}\t{count}")?;
        }
        out.commit()?;
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    luigi_cli::main()
}
