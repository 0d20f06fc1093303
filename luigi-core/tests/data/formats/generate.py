"""Generates the format fixtures in this directory with Python and real Luigi 3.8.1, and
checks that the files luigi-rs wrote (rust_*) decode in Python.

Run from anywhere with Luigi's venv:

    LUIGI_REGENERATE_FIXTURES=1 cargo test -p luigi-core --test targets fixtures  # rust_* files
    ~/.cache/luigi-rs/venv/bin/python luigi-core/tests/data/formats/generate.py

The Rust tests (luigi-core/tests/targets.rs) read the python_* and luigi_* files and compare
them with expected.txt; they do not need Python.
"""

import bz2
import gzip
import os
import sys

import luigi
import luigi.format

HERE = os.path.dirname(os.path.abspath(__file__))

# The text every fixture holds (after decoding): non-ASCII, several lines, no final newline
# trouble. Kept in sync with EXPECTED in targets.rs through expected.txt.
TEXT = "zwölf Boxkämpfer jagen Viktor\nquer über den Sylter Deich €\n𝄞 line three\n"


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def main():
    data = TEXT.encode("utf-8")
    write("expected.txt", data)

    # Python's own modules; mtime=0 keeps the gzip file stable across regenerations.
    write("python_gzip.txt.gz", gzip.compress(data, mtime=0))
    write("python_gzip_multi.txt.gz", gzip.compress(data[:20], mtime=0) + gzip.compress(data[20:], mtime=0))
    write("python_bzip2.txt.bz2", bz2.compress(data))
    write("python_bzip2_multi.txt.bz2", bz2.compress(data[:7]) + bz2.compress(data[7:]))

    # Real Luigi targets, which pipe through the gzip/bzip2 programs.
    for name, fmt in [
        ("luigi_utf8_gzip.txt.gz", luigi.format.UTF8 >> luigi.format.Gzip),
        ("luigi_text_bzip2.txt.bz2", luigi.format.Text >> luigi.format.Bzip2),
        ("luigi_text.txt", luigi.format.Text),
    ]:
        path = os.path.join(HERE, name)
        if os.path.exists(path):
            os.remove(path)
        with luigi.LocalTarget(path, format=fmt).open("w") as f:
            f.write(TEXT)

    # Universal newlines: what Luigi's default Text format reads from mixed line endings.
    mixed = "a\r\nb\rc\n\r\nd\re".encode("utf-8") + "ü\r".encode("utf-8")
    write("mixed_newlines.txt", mixed)
    with luigi.LocalTarget(os.path.join(HERE, "mixed_newlines.txt")).open("r") as f:
        write("mixed_newlines.expected.txt", f.read().encode("utf-8"))

    # Files luigi-rs wrote must decode in Python and through Luigi's own readers.
    checks = [
        ("rust_gzip.txt.gz", gzip.decompress, luigi.format.UTF8 >> luigi.format.Gzip),
        ("rust_bzip2.txt.bz2", bz2.decompress, luigi.format.UTF8 >> luigi.format.Bzip2),
    ]
    for name, decompress, fmt in checks:
        path = os.path.join(HERE, name)
        if not os.path.exists(path):
            sys.exit(f"{name} is missing; run the Rust fixture test with LUIGI_REGENERATE_FIXTURES=1 first")
        with open(path, "rb") as f:
            assert decompress(f.read()) == data, f"{name}: Python decodes something else"
        with luigi.LocalTarget(path, format=fmt).open("r") as f:
            assert f.read() == TEXT, f"{name}: Luigi reads something else"
        print(f"{name}: decodes in Python and Luigi")


if __name__ == "__main__":
    main()
