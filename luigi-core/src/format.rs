//! Formats: how a target's bytes are encoded on the way to storage and decoded on the way
//! back (Luigi's `luigi.format`).
//!
//! A [`Format`] wraps a target's raw reader and its [`WriteSink`]: [`Text`] (the default;
//! UTF-8 checked and newlines normalised on read, bytes unchanged on write), [`Nop`]
//! (raw bytes, also called [`Bytes`]), [`Gzip`] and [`Bzip2`] (compression, in process with
//! `flate2` and `bzip2` rather than Luigi's external `gzip`/`bzip2` programs, with the same
//! file formats), and [`SysNewLine`] (line endings converted to the platform's).
//!
//! Formats chain like Luigi's `a >> b`: `Text >> Gzip` (or `Text.then(Gzip)`) is text for
//! the user, gzip on disk. **The first format is closest to the user**, the last closest to
//! storage: a write passes through `Text`, then `Gzip`, then the file; a read goes the other
//! way. Luigi checks that each format's storage side matches the next one's user side
//! ("unicode" or "bytes", see [`Kind`]) when the chain is built; here the check happens when
//! the chain is applied, on open, and fails with [`Error::InvalidChain`] (so `Gzip >> Text`,
//! which would decode compressed bytes as text, is refused).
//!
//! Committing a chained writer finishes the outer formats first (the gzip trailer is
//! written) before the innermost sink makes the file visible; dropping it discards all.
//!
//! Text and files written by Python Luigi are interchangeable: on POSIX, Python's `Text`
//! writes `\n` unchanged and reads with universal newlines (`\r\n` and `\r` become `\n`),
//! which is what [`Text`] does; gzip and bzip2 streams are standard, including
//! multi-member ones. Python's `Text` uses the locale's encoding; this one is always UTF-8
//! (the locale encoding on any modern system), and invalid UTF-8 is an error when read.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::ops::Shr;
use std::sync::{Arc, LazyLock};

use crate::target::WriteSink;

/// Why a format could not be applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two chained formats do not fit: one side produces what the other cannot take.
    #[error(
        "invalid format chain: {next} expects {expected} but {previous} provides {provided}; \
         put the text format first, as in Text >> Gzip"
    )]
    InvalidChain {
        /// The format closer to the user.
        previous: String,
        /// What it hands towards storage.
        provided: Kind,
        /// The format closer to storage.
        next: String,
        /// What it takes from the user side.
        expected: Kind,
    },
    /// A compression level outside the format's range.
    #[error("invalid {format} compression level {level}; use {min} to {max}")]
    InvalidLevel {
        /// The format (`gzip`, `bzip2`).
        format: &'static str,
        /// The level asked for.
        level: u32,
        /// The lowest valid level.
        min: u32,
        /// The highest valid level.
        max: u32,
    },
}

/// What one side of a format handles: Luigi's `"unicode"` or `"bytes"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Text (Luigi's `"unicode"`): the user side of [`Text`].
    Unicode,
    /// Bytes: storage, and both sides of compression formats.
    Bytes,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Unicode => "unicode",
            Kind::Bytes => "bytes",
        })
    }
}

/// A reader a format decodes from or produces.
pub type Reader = Box<dyn BufRead + Send>;

/// A sink a format encodes into or produces.
pub type Sink = Box<dyn WriteSink>;

/// An encoding between what the user reads and writes and what is stored (Luigi's `Format`).
///
/// Implement it to add a format; `pipe_writer` returns a sink whose
/// [`commit`](WriteSink::commit) finishes the encoding and then commits the sink it wraps,
/// and whose drop discards (by dropping the wrapped sink uncommitted).
pub trait Format: Send + Sync + fmt::Debug + 'static {
    /// What the user side handles, if the format cares (Luigi's `input`).
    fn input(&self) -> Option<Kind> {
        None
    }

    /// What the storage side handles, if the format cares (Luigi's `output`).
    fn output(&self) -> Option<Kind> {
        None
    }

    /// Decodes a stored stream for the user.
    fn pipe_reader(&self, source: Reader) -> Result<Reader, Error>;

    /// Encodes what the user writes before it goes into `sink`.
    fn pipe_writer(&self, sink: Sink) -> Result<Sink, Error>;

    /// Chains `next` after this format: this one is closer to the user (Luigi's `self >> next`).
    fn then<B: Format>(self, next: B) -> Chain<Self, B>
    where
        Self: Sized,
    {
        Chain::new(self, next)
    }
}

impl<F: Format + ?Sized> Format for Arc<F> {
    fn input(&self) -> Option<Kind> {
        (**self).input()
    }
    fn output(&self) -> Option<Kind> {
        (**self).output()
    }
    fn pipe_reader(&self, source: Reader) -> Result<Reader, Error> {
        (**self).pipe_reader(source)
    }
    fn pipe_writer(&self, sink: Sink) -> Result<Sink, Error> {
        (**self).pipe_writer(sink)
    }
}

impl<F: Format + ?Sized> Format for Box<F> {
    fn input(&self) -> Option<Kind> {
        (**self).input()
    }
    fn output(&self) -> Option<Kind> {
        (**self).output()
    }
    fn pipe_reader(&self, source: Reader) -> Result<Reader, Error> {
        (**self).pipe_reader(source)
    }
    fn pipe_writer(&self, sink: Sink) -> Result<Sink, Error> {
        (**self).pipe_writer(sink)
    }
}

static DEFAULT: LazyLock<Arc<dyn Format>> = LazyLock::new(|| Arc::new(Text));

/// The format targets use unless told otherwise: [`Text`] (Luigi's `get_default_format()`).
/// Shared, so giving it to a million targets allocates nothing.
pub fn default_format() -> Arc<dyn Format> {
    Arc::clone(&DEFAULT)
}

/// UTF-8 text (Luigi's `Text` and `UTF8`; also available as [`Utf8`]).
///
/// Writing passes bytes through unchanged (as Python's text mode does on POSIX). Reading
/// checks UTF-8, failing with an `InvalidData` error that says where the first bad byte is,
/// and turns `\r\n` and lone `\r` into `\n`, as Python's universal newlines do. Use [`Nop`]
/// to read bytes untouched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Text;

pub use self::Text as Utf8;

impl Format for Text {
    fn input(&self) -> Option<Kind> {
        Some(Kind::Unicode)
    }
    fn output(&self) -> Option<Kind> {
        Some(Kind::Bytes)
    }
    fn pipe_reader(&self, source: Reader) -> Result<Reader, Error> {
        Ok(Box::new(Decoder::new(source, true, true)))
    }
    fn pipe_writer(&self, sink: Sink) -> Result<Sink, Error> {
        Ok(sink)
    }
}

/// Raw bytes, untouched either way (Luigi's `Nop`; also available as [`Bytes`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Nop;

pub use self::Nop as Bytes;

impl Format for Nop {
    fn pipe_reader(&self, source: Reader) -> Result<Reader, Error> {
        Ok(source)
    }
    fn pipe_writer(&self, sink: Sink) -> Result<Sink, Error> {
        Ok(sink)
    }
}

/// Line endings converted to the platform's (Luigi's `SysNewLine`): on write, `\n`, `\r\n`
/// and `\r` become the platform separator (`\n` on Unix, `\r\n` on Windows); on read they
/// all become `\n`. Works on bytes and handles a `\r\n` split across two writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SysNewLine;

impl Format for SysNewLine {
    fn input(&self) -> Option<Kind> {
        Some(Kind::Bytes)
    }
    fn output(&self) -> Option<Kind> {
        Some(Kind::Bytes)
    }
    fn pipe_reader(&self, source: Reader) -> Result<Reader, Error> {
        Ok(Box::new(Decoder::new(source, true, false)))
    }
    fn pipe_writer(&self, sink: Sink) -> Result<Sink, Error> {
        let separator: &'static [u8] = if cfg!(windows) { b"\r\n" } else { b"\n" };
        Ok(Box::new(NewlineWriter { inner: sink, separator, after_cr: false, scratch: Vec::new() }))
    }
}

/// Gzip compression (Luigi's `Gzip`) at the `gzip` program's default level, 6. Reading
/// accepts concatenated gzip members, as `gunzip` does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gzip;

impl Gzip {
    /// Gzip at compression `level`, 1 (fastest) to 9 (smallest), like `gzip -N` (Luigi's
    /// `GzipFormat(compression_level)`).
    pub fn with_level(level: u32) -> Result<GzipLevel, Error> {
        if (1..=9).contains(&level) {
            Ok(GzipLevel(level))
        } else {
            Err(Error::InvalidLevel { format: "gzip", level, min: 1, max: 9 })
        }
    }
}

/// Gzip at a chosen compression level, from [`Gzip::with_level`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GzipLevel(u32);

impl GzipLevel {
    /// The compression level.
    pub fn level(&self) -> u32 {
        self.0
    }
}

fn gzip_reader(source: Reader) -> Reader {
    Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(source)))
}

fn gzip_writer(sink: Sink, level: u32) -> Sink {
    Box::new(GzipSink(flate2::write::GzEncoder::new(sink, flate2::Compression::new(level))))
}

impl Format for Gzip {
    fn input(&self) -> Option<Kind> {
        Some(Kind::Bytes)
    }
    fn output(&self) -> Option<Kind> {
        Some(Kind::Bytes)
    }
    fn pipe_reader(&self, source: Reader) -> Result<Reader, Error> {
        Ok(gzip_reader(source))
    }
    fn pipe_writer(&self, sink: Sink) -> Result<Sink, Error> {
        Ok(gzip_writer(sink, 6))
    }
}

impl Format for GzipLevel {
    fn input(&self) -> Option<Kind> {
        Some(Kind::Bytes)
    }
    fn output(&self) -> Option<Kind> {
        Some(Kind::Bytes)
    }
    fn pipe_reader(&self, source: Reader) -> Result<Reader, Error> {
        Ok(gzip_reader(source))
    }
    fn pipe_writer(&self, sink: Sink) -> Result<Sink, Error> {
        Ok(gzip_writer(sink, self.0))
    }
}

struct GzipSink(flate2::write::GzEncoder<Sink>);

impl Write for GzipSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl WriteSink for GzipSink {
    fn commit(self: Box<Self>) -> io::Result<()> {
        self.0.finish()?.commit()
    }
}

/// Bzip2 compression (Luigi's `Bzip2`) at the `bzip2` program's default level, 9. Reading
/// accepts concatenated streams, as `bzcat` does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bzip2;

impl Format for Bzip2 {
    fn input(&self) -> Option<Kind> {
        Some(Kind::Bytes)
    }
    fn output(&self) -> Option<Kind> {
        Some(Kind::Bytes)
    }
    fn pipe_reader(&self, source: Reader) -> Result<Reader, Error> {
        Ok(Box::new(BufReader::new(bzip2::bufread::MultiBzDecoder::new(source))))
    }
    fn pipe_writer(&self, sink: Sink) -> Result<Sink, Error> {
        Ok(Box::new(Bzip2Sink(bzip2::write::BzEncoder::new(sink, bzip2::Compression::best()))))
    }
}

struct Bzip2Sink(bzip2::write::BzEncoder<Sink>);

impl Write for Bzip2Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl WriteSink for Bzip2Sink {
    fn commit(self: Box<Self>) -> io::Result<()> {
        self.0.finish()?.commit()
    }
}

/// Two formats in sequence, `first` closer to the user (Luigi's `ChainFormat`, built with
/// `first >> second` or `first.then(second)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chain<A, B> {
    first: A,
    second: B,
}

impl<A: Format, B: Format> Chain<A, B> {
    /// `first` then `second`.
    pub fn new(first: A, second: B) -> Chain<A, B> {
        Chain { first, second }
    }

    /// Checks that `first`'s storage side fits `second`'s user side, as Luigi does when it
    /// builds a chain; formats that do not declare a side fit anything.
    pub fn check(&self) -> Result<(), Error> {
        match (self.first.output(), self.second.input()) {
            (Some(provided), Some(expected)) if provided != expected => Err(Error::InvalidChain {
                previous: format!("{:?}", self.first),
                provided,
                next: format!("{:?}", self.second),
                expected,
            }),
            _ => Ok(()),
        }
    }
}

impl<A: Format, B: Format> Format for Chain<A, B> {
    fn input(&self) -> Option<Kind> {
        self.first.input()
    }
    fn output(&self) -> Option<Kind> {
        self.second.output()
    }
    fn pipe_reader(&self, source: Reader) -> Result<Reader, Error> {
        self.check()?;
        let decoded = self.second.pipe_reader(source)?;
        self.first.pipe_reader(decoded)
    }
    fn pipe_writer(&self, sink: Sink) -> Result<Sink, Error> {
        self.check()?;
        let encoder = self.second.pipe_writer(sink)?;
        self.first.pipe_writer(encoder)
    }
}

/// `a >> b` for every format type here: [`Chain`], `a` closer to the user, as in Luigi.
macro_rules! shr_chains {
    ($($ty:ty $(, $param:ident)*;)+) => {$(
        impl<$($param: Format,)* Rhs: Format> Shr<Rhs> for $ty {
            type Output = Chain<Self, Rhs>;

            fn shr(self, rhs: Rhs) -> Chain<Self, Rhs> {
                Chain::new(self, rhs)
            }
        }
    )+};
}

shr_chains! {
    Text;
    Nop;
    SysNewLine;
    Gzip;
    GzipLevel;
    Bzip2;
    Chain<A, B>, A, B;
    Box<dyn Format>;
}

/// Decodes a byte stream: optionally universal newlines, optionally UTF-8 validation.
///
/// `buf[pos..ready]` is decoded data not yet consumed; `buf[ready..]` is held back (the
/// start of a UTF-8 sequence whose end has not been read yet, or bytes that failed
/// validation, reported once everything before them was consumed).
struct Decoder<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    ready: usize,
    after_cr: bool,
    offset: u64,
    newlines: bool,
    utf8: bool,
}

impl<R: BufRead> Decoder<R> {
    fn new(inner: R, newlines: bool, utf8: bool) -> Decoder<R> {
        Decoder { inner, buf: Vec::new(), pos: 0, ready: 0, after_cr: false, offset: 0, newlines, utf8 }
    }

    fn invalid_utf8(&self, at: usize) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "invalid UTF-8 at byte {} of the text (after newline translation); \
                 read it with the Nop (Bytes) format to get raw bytes",
                self.offset + at as u64
            ),
        )
    }
}

impl<R: BufRead> BufRead for Decoder<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos >= self.ready {
            // Everything decoded was consumed: keep only the held-back bytes.
            self.offset += self.ready as u64;
            self.buf.drain(..self.ready);
            self.pos = 0;
            self.ready = 0;
            let chunk = self.inner.fill_buf()?;
            if chunk.is_empty() {
                if self.buf.is_empty() {
                    return Ok(&[]);
                }
                // A sequence cut off by the end of the stream, or bytes that failed.
                return Err(self.invalid_utf8(0));
            }
            let len = chunk.len();
            push_translated(&mut self.buf, &mut self.after_cr, self.newlines, chunk);
            self.inner.consume(len);
            self.ready = if self.utf8 {
                match std::str::from_utf8(&self.buf) {
                    Ok(_) => self.buf.len(),
                    Err(err) if err.valid_up_to() == 0 && err.error_len().is_some() => {
                        return Err(self.invalid_utf8(0));
                    }
                    Err(err) => err.valid_up_to(),
                }
            } else {
                self.buf.len()
            };
        }
        Ok(&self.buf[self.pos..self.ready])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.ready);
    }
}

impl<R: BufRead> Read for Decoder<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// Appends `chunk` to `buf`, turning `\r\n` and `\r` into `\n` when `newlines` is set;
/// `after_cr` carries a `\r` that ended the previous chunk.
fn push_translated(buf: &mut Vec<u8>, after_cr: &mut bool, newlines: bool, chunk: &[u8]) {
    if !newlines || (!*after_cr && !chunk.contains(&b'\r')) {
        buf.extend_from_slice(chunk);
        return;
    }
    buf.reserve(chunk.len());
    for &byte in chunk {
        match byte {
            b'\r' => {
                buf.push(b'\n');
                *after_cr = true;
            }
            b'\n' if *after_cr => *after_cr = false,
            _ => {
                buf.push(byte);
                *after_cr = false;
            }
        }
    }
}

/// Converts every line ending to `separator` on the way to `inner`.
struct NewlineWriter {
    inner: Sink,
    separator: &'static [u8],
    after_cr: bool,
    scratch: Vec<u8>,
}

impl Write for NewlineWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.separator == b"\n" && !self.after_cr && !buf.contains(&b'\r') {
            return self.inner.write(buf);
        }
        self.scratch.clear();
        for &byte in buf {
            match byte {
                b'\r' => {
                    self.scratch.extend_from_slice(self.separator);
                    self.after_cr = true;
                }
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' => self.scratch.extend_from_slice(self.separator),
                _ => {
                    self.scratch.push(byte);
                    self.after_cr = false;
                }
            }
        }
        if let Some(&last) = buf.last() {
            self.after_cr = last == b'\r';
        }
        self.inner.write_all(&self.scratch)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl WriteSink for NewlineWriter {
    fn commit(self: Box<Self>) -> io::Result<()> {
        self.inner.commit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(format: &dyn Format, chunks: &[&[u8]]) -> io::Result<Vec<u8>> {
        // A reader that hands out one chunk per fill_buf, to exercise chunk boundaries.
        struct Chunks(Vec<Vec<u8>>, usize);
        impl Read for Chunks {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let data = self.fill_buf()?;
                let n = data.len().min(out.len());
                out[..n].copy_from_slice(&data[..n]);
                self.consume(n);
                Ok(n)
            }
        }
        impl BufRead for Chunks {
            fn fill_buf(&mut self) -> io::Result<&[u8]> {
                while self.0.first().is_some_and(|c| self.1 >= c.len()) {
                    self.0.remove(0);
                    self.1 = 0;
                }
                Ok(self.0.first().map_or(&[][..], |c| &c[self.1..]))
            }
            fn consume(&mut self, amt: usize) {
                self.1 += amt;
            }
        }
        let source = Chunks(chunks.iter().map(|c| c.to_vec()).collect(), 0);
        let mut reader = format.pipe_reader(Box::new(source)).unwrap();
        let mut out = Vec::new();
        reader.read_to_end(&mut out)?;
        Ok(out)
    }

    /// A sink that records into a shared buffer on commit only.
    struct Shared(Vec<u8>, Arc<std::sync::Mutex<Option<Vec<u8>>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl WriteSink for Shared {
        fn commit(self: Box<Self>) -> io::Result<()> {
            *self.1.lock().unwrap() = Some(self.0);
            Ok(())
        }
    }

    fn encode(format: &dyn Format, chunks: &[&[u8]]) -> Vec<u8> {
        let slot = Arc::new(std::sync::Mutex::new(None));
        let mut sink = format.pipe_writer(Box::new(Shared(Vec::new(), Arc::clone(&slot)))).unwrap();
        for chunk in chunks {
            sink.write_all(chunk).unwrap();
        }
        sink.commit().unwrap();
        let out = slot.lock().unwrap().take();
        out.unwrap()
    }

    #[test]
    fn text_translates_newlines_across_chunks() {
        let out = decode(&Text, &[b"a\r", b"\nb\rc\r", b"\r\n", b"d\n\re\r"]).unwrap();
        assert_eq!(out, b"a\nb\nc\n\nd\n\ne\n");
        // \r\n split exactly at a boundary collapses once; a lone \r at EOF is a newline.
        assert_eq!(decode(&Text, &[b"x\r", b"\n"]).unwrap(), b"x\n");
        assert_eq!(decode(&Text, &[b"\r"]).unwrap(), b"\n");
        assert_eq!(decode(&Text, &[]).unwrap(), b"");
        assert_eq!(decode(&Nop, &[b"a\r\n"]).unwrap(), b"a\r\n");
    }

    #[test]
    fn text_validates_utf8_across_chunks() {
        let text = "zwölf € 𝄞\r\n".as_bytes();
        // Every split point, including inside multi-byte sequences.
        for i in 0..=text.len() {
            for j in i..=text.len() {
                let out = decode(&Text, &[&text[..i], &text[i..j], &text[j..]]).unwrap();
                assert_eq!(out, "zwölf € 𝄞\n".as_bytes(), "split at {i}, {j}");
            }
        }
    }

    #[test]
    fn text_reports_invalid_utf8_after_the_valid_prefix() {
        let mut reader = Text.pipe_reader(Box::new(&b"ok\r\nthen \xff bad"[..])).unwrap();
        let mut out = Vec::new();
        let err = reader.read_to_end(&mut out).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("invalid UTF-8 at byte 8"), "{err}");
        assert_eq!(out, b"ok\nthen ", "valid prefix delivered first");
        // A sequence cut off by the end of the file.
        let err = decode(&Text, &[b"abc\xe2\x82"]).unwrap_err();
        assert!(err.to_string().contains("at byte 3"), "{err}");
        // Overlong encodings and surrogates are invalid too.
        assert!(decode(&Text, &[b"\xc0\xaf"]).is_err());
        assert!(decode(&Text, &[b"\xed\xa0\x80"]).is_err());
    }

    #[test]
    fn text_write_is_byte_transparent() {
        assert_eq!(encode(&Text, &[b"a\r\nb\rc\n", b"\xff"]), b"a\r\nb\rc\n\xff");
    }

    #[test]
    fn sys_newline_converts_both_ways() {
        let expected: &[u8] = if cfg!(windows) { b"a\r\nb\r\nc\r\n\r\nd" } else { b"a\nb\nc\n\nd" };
        assert_eq!(encode(&SysNewLine, &[b"a\r", b"\nb\rc\n", b"\r", b"\nd"]), expected);
        assert_eq!(encode(&SysNewLine, &[b"a\r", b"\nb\rc\n", b"\n", b"d"]), expected);
        assert_eq!(decode(&SysNewLine, &[b"a\r", b"\nb\rc\n\xff"]).unwrap(), b"a\nb\nc\n\xff");
    }

    #[test]
    fn gzip_and_bzip2_round_trip() {
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let formats: [&dyn Format; 4] = [&Gzip, &Gzip::with_level(1).unwrap(), &Gzip::with_level(9).unwrap(), &Bzip2];
        for format in formats {
            let encoded = encode(format, &[&data[..1000], &data[1000..]]);
            assert!(encoded.len() < data.len() / 2, "{format:?} did not compress");
            assert_eq!(decode(format, &[&encoded]).unwrap(), data, "{format:?}");
        }
        assert_eq!(&encode(&Gzip, &[b"x"])[..2], b"\x1f\x8b");
        assert_eq!(&encode(&Bzip2, &[b"x"])[..3], b"BZh");
    }

    #[test]
    fn compressed_members_concatenate() {
        let mut two = encode(&Gzip, &[b"first\n"]);
        two.extend(encode(&Gzip, &[b"second\n"]));
        assert_eq!(decode(&Gzip, &[&two]).unwrap(), b"first\nsecond\n");
        let mut two = encode(&Bzip2, &[b"first\n"]);
        two.extend(encode(&Bzip2, &[b"second\n"]));
        assert_eq!(decode(&Bzip2, &[&two]).unwrap(), b"first\nsecond\n");
    }

    #[test]
    fn corrupt_compressed_data_is_an_error() {
        let mut data = encode(&Gzip, &[b"hello hello hello"]);
        let n = data.len();
        data[n - 5] ^= 0xff; // the CRC
        assert!(decode(&Gzip, &[&data]).is_err());
        assert!(decode(&Gzip, &[b"not gzip at all"]).is_err());
        assert!(decode(&Bzip2, &[b"not bzip2 at all"]).is_err());
    }

    #[test]
    fn invalid_levels_are_refused() {
        for level in [0, 10, 99] {
            let err = Gzip::with_level(level).unwrap_err();
            assert_eq!(err.to_string(), format!("invalid gzip compression level {level}; use 1 to 9"));
        }
        assert_eq!(Gzip::with_level(7).unwrap().level(), 7);
    }

    #[test]
    fn chains_apply_the_first_format_closest_to_the_user() {
        let chain = Text >> Gzip;
        assert_eq!(chain, Text.then(Gzip));
        assert_eq!((chain.input(), chain.output()), (Some(Kind::Unicode), Some(Kind::Bytes)));
        let stored = encode(&chain, &[b"line\r\n"]);
        assert_eq!(&stored[..2], b"\x1f\x8b", "storage side is gzip");
        assert_eq!(decode(&Gzip, &[&stored]).unwrap(), b"line\r\n");
        assert_eq!(decode(&chain, &[&stored]).unwrap(), b"line\n", "user side is text");
        // Longer chains nest left to right.
        let three = Text >> Gzip >> Bzip2;
        let stored = encode(&three, &[b"deep\n"]);
        assert_eq!(&stored[..3], b"BZh");
        assert_eq!(decode(&three, &[&stored]).unwrap(), b"deep\n");
        // Nop fits anywhere.
        assert!((Nop >> Text).check().is_ok());
        assert!((Text >> Nop >> Gzip).check().is_ok());
    }

    #[test]
    fn mismatched_chains_are_refused_on_use() {
        let bad = Gzip >> Text;
        let err = bad.check().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid format chain: Text expects unicode but Gzip provides bytes; put the text format first, \
             as in Text >> Gzip"
        );
        assert!(bad.pipe_reader(Box::new(&b""[..])).is_err());
        assert!(bad.pipe_writer(Box::new(Vec::new())).is_err());
        assert!((Text >> Text).check().is_err());
    }

    #[test]
    fn dropping_a_chained_writer_commits_nothing() {
        let slot = Arc::new(std::sync::Mutex::new(None));
        let mut sink = (Text >> Gzip).pipe_writer(Box::new(Shared(Vec::new(), Arc::clone(&slot)))).unwrap();
        sink.write_all(b"abandoned").unwrap();
        drop(sink);
        assert!(slot.lock().unwrap().is_none());
    }

    #[test]
    fn shared_and_boxed_formats_work() {
        let shared: Arc<dyn Format> = Arc::new(Gzip);
        let boxed: Box<dyn Format> = Box::new(Text);
        let data = encode(&shared, &[b"x\r\n"]);
        assert_eq!(decode(&(boxed >> shared), &[&data]).unwrap(), b"x\n");
        assert_eq!(format!("{:?}", default_format()), "Text");
        assert_eq!(Utf8, Text);
        assert_eq!(Bytes, Nop);
    }
}
