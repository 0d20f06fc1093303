"""Generates the configuration test vectors from real Python Luigi 3.8.1.

Run with the Luigi virtualenv from this directory:

    ~/.cache/luigi-rs/venv/bin/python gen_vectors.py

It writes:

- cfg_vectors.json: cfg snippets, each read by a fresh ``LuigiConfigParser`` (Luigi's
  ``configparser.ConfigParser`` subclass), with either the error the read raised or every
  raw value plus the result of ``get`` for each option and for extra lookups (dashed
  spellings, ``[DEFAULT]`` inheritance). Each case carries the environment it was run with;
  every variable it references is unset otherwise.
- conversions.json: ``getboolean`` / ``getint`` / ``getfloat`` results for raw strings.
- discovery.json: ``luigi.configuration.get_config()`` run in a subprocess whose working
  directory holds given files, with given ``LUIGI_CONFIG_PATH`` / ``LUIGI_CONFIG_PARSER``;
  the values of given lookups, or null when unset. ``/etc/luigi`` must not exist.

The Rust tests read these files; they never run Python.
"""

import json
import os
import subprocess
import sys
import tempfile
import warnings

from luigi.configuration import LuigiConfigParser

warnings.simplefilter("ignore")

HERE = os.path.dirname(os.path.abspath(__file__))

CFG_CASES = [
    ("delimiters", "[S]\na:b = c\nmy key = v\nk\t=\tv v \nempty =\nx=y=z\nurl = http://h:1/p\n", {}, []),
    ("inline_comments_kept", "[a]\nx = 1 ; not a comment\ny: 2 # nor this\n", {}, []),
    ("full_line_comments", "# top\n; top\n\n[s]\n# c\n  ; indented comment\nk=1\n", {}, []),
    ("continuation", "[a]\nx = 1\n\n  2\n# c\n  3\n\n\n[b]\ncont=\n  foo\n\tbar\n", {}, []),
    ("indented_options", "[s]\n  k = 1\n  j = 2\n    cont\nl = 3\n  [t]\n", {}, []),
    ("whitespace_only_line_in_value", "[s]\nk = 1\n   \n  x\n", {}, []),
    ("header_after_value", "[s]\nk = 1\n[t]\n  j = 2\n", {}, []),
    ("crlf_and_cr", "[s]\r\nk = 1\r\n  more\r\nj=2\rz=3\n", {}, []),
    ("python_whitespace", "[s]\nk = a\x0cb\x1c\n\x1dj = 2\n", {}, []),
    ("odd_headers", "[ a ] trailing\nk=1\n[b]c]\nk=2\n[c] ; comment\nk=3\n", {}, []),
    ("case_sensitive", "[S]\nKey = 1\nkey = 2\n[s]\nKEY = 3\n[default]\nd = 4\n", {}, [["S", "KEY"], ["s", "key"]]),
    ("default_section", "[DEFAULT]\nd = 1\nshared = 2\n[DEFAULT]\ne = 3\n[a]\nshared = 4\n",
     {}, [["a", "d"], ["a", "e"], ["missing", "d"], ["DEFAULT", "shared"]]),
    ("dashed_lookup", "[s]\nmy-opt = dashed\nboth_x = u\nboth-x = d\nplain = p\n",
     {}, [["s", "my_opt"], ["s", "both-x"], ["s", "plain"], ["s", "nope"], ["s", "nope_x"]]),
    ("dashed_default", "[DEFAULT]\nd-x = 1\n[s]\nd_y = 2\n", {}, [["s", "d_x"], ["s", "d-y"]]),
    ("missing_section_header", "# c\nx = 1\n[a]\n", {}, []),
    ("parsing_error", "[a]\nbare\nok = 1\n= 3\n[]\n", {}, []),
    ("parsing_error_then_continuation", "[a]\nk = 1\nbad\n  cont\n", {}, []),
    ("duplicate_section", "[a]\nx=1\n[b]\n[a]\n", {}, []),
    ("duplicate_option", "[a]\nx=1\ny=2\nx=3\n", {}, []),
    ("duplicate_default_option", "[DEFAULT]\nx=1\n[DEFAULT]\nx=2\n", {}, []),
    ("duplicate_option_differs_by_case", "[a]\nx=1\nX=2\n", {}, []),
    ("basic_interpolation", "[DEFAULT]\nroot = /data\n[a]\nx = %(root)s/x\ny = %(x)s/y\npct = 50%%\nmix = %(pct)s and %%(x)s\n",
     {}, []),
    ("default_refers_to_section", "[DEFAULT]\nd = %(x)s!\n[a]\nx = 1\n[b]\ny = %(d)s\n", {}, [["a", "d"]]),
    ("interpolation_errors", "[a]\nx = 50%\nw = %(bad\nz = %(nope)s\nv = %()s\nu = %(x)d\nself = %(self)s\n", {}, []),
    ("interpolation_depth", "[a]\n" + "".join("v%d = %%(v%d)s\n" % (i, i + 1) for i in range(12)) + "v12 = end\n",
     {}, []),
    ("interpolation_case", "[a]\nName = n\nx = %(name)s\ny = %(Name)s\n", {}, []),
    ("env_interpolation", "[a]\nhome = ${LUIGI_VEC_HOME}/x\nboth = %(home)s:${LUIGI_VEC_USER}\nempty = <${LUIGI_VEC_EMPTY}>\n"
     "dollar = $${LUIGI_VEC_USER}\nnot_ref = ${}${LUIGI_VEC_USER\nmissing = a ${LUIGI_VEC_NOPE} b\n"
     "nested = ${LUIGI_VEC_NESTED}\n",
     {"LUIGI_VEC_HOME": "/home/u", "LUIGI_VEC_USER": "u", "LUIGI_VEC_EMPTY": "", "LUIGI_VEC_NESTED": "${LUIGI_VEC_USER}"},
     []),
    ("percent_in_env_value", "[a]\nx = ${LUIGI_VEC_PCT}\n", {"LUIGI_VEC_PCT": "50%"}, []),
    ("unicode", "[sección]\nclé = välue ✓\n", {}, []),
    ("empty_file", "", {}, []),
    ("only_comments", "# nothing\n; here\n", {}, []),
]

CONVERSIONS = ["1", "yes", "YES", "true", "On", "0", "no", "False", "off", "maybe", "", "2", " yes", "42", "-7", "+1_000",
               "007", "1_", "1__0", "_1", "1.5", "1e3", " 1e3 ", "1_0.5", ".5", "5.", "-Infinity", "inf", "nan", "+nan",
               "0x10", "1.5f", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "."]


def error_of(exc):
    out = {"type": type(exc).__name__}
    if hasattr(exc, "errors"):
        out["lines"] = [[lineno, text] for lineno, text in exc.errors]
    if hasattr(exc, "lineno"):
        out["line"] = exc.lineno
    return out


def run_cfg_case(name, text, env, extra):
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith("LUIGI_VEC_"):
            del os.environ[key]
    os.environ.update(env)
    try:
        parser = LuigiConfigParser()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "case.cfg")
            with open(path, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            try:
                parser.read([path])
            except Exception as exc:  # noqa: BLE001 - any read error is a vector
                return {"name": name, "text": text, "env": env, "error": error_of(exc)}
        sections = [[section, [[key, value] for key, value in parser._sections[section].items()]] for section in parser.sections()]
        defaults = [[key, value] for key, value in parser._defaults.items()]
        lookups = []
        wanted = [[section, key] for section, options in sections for key, _ in options]
        wanted += [["DEFAULT", key] for key, _ in defaults]
        wanted += extra
        for section, option in wanted:
            entry = {"section": section, "option": option}
            try:
                entry["value"] = parser.get(section, option)
            except Exception as exc:  # noqa: BLE001
                if type(exc).__name__ in ("NoSectionError", "NoOptionError"):
                    entry["value"] = None
                else:
                    entry["error"] = type(exc).__name__
            lookups.append(entry)
        return {"name": name, "text": text, "env": env, "sections": sections, "defaults": defaults, "lookups": lookups}
    finally:
        os.environ.clear()
        os.environ.update(saved)


def conversion(text):
    parser = LuigiConfigParser()
    parser.read_dict({"s": {"v": text.replace("%", "%%")}})
    out = {"text": text}
    for key, method in (("bool", parser.getboolean), ("int", parser.getint), ("float", parser.getfloat)):
        try:
            value = method("s", "v")
            out[key] = repr(value) if key == "float" else value
        except ValueError:
            out[key] = None
    return out


# Each discovery case: files in the working directory, environment, lookups. Values are the
# raw lookups of get_config() (cfg: interpolated strings; toml: native values).
DISCOVERY_CASES = [
    ("cfg_precedence", {"client.cfg": "[a]\nx = client\ny = client\nz = client\n", "luigi.cfg": "[a]\ny = luigi\nz = luigi\n",
                        "extra.cfg": "[a]\nz = extra\n"},
     {"LUIGI_CONFIG_PATH": "extra.cfg"}, [["a", "x"], ["a", "y"], ["a", "z"]]),
    ("cfg_default_parser_ignores_toml", {"luigi.cfg": "[a]\nx = cfg\n", "luigi.toml": "[a]\nx = 'toml'\n"},
     {}, [["a", "x"]]),
    ("toml_precedence", {"luigi.toml": "[a]\nx = 1\ny = { k = 'v', b = [1, 2] }\n", "extra.toml": "[a]\nx = 2\n",
                         "luigi.cfg": "[a]\nx = cfg\n"},
     {"LUIGI_CONFIG_PARSER": "toml", "LUIGI_CONFIG_PATH": "extra.toml"}, [["a", "x"], ["a", "y"]]),
    ("toml_parser_ignores_cfg_path", {"luigi.toml": "[a]\nx = 1\n", "extra.cfg": "[a]\nx = cfg\n"},
     {"LUIGI_CONFIG_PARSER": "toml", "LUIGI_CONFIG_PATH": "extra.cfg"}, [["a", "x"]]),
    ("cfg_parser_ignores_toml_path", {"luigi.cfg": "[a]\nx = cfg\n", "extra.toml": "[a]\nx = 'toml'\n"},
     {"LUIGI_CONFIG_PATH": "extra.toml"}, [["a", "x"]]),
    ("invalid_parser_means_cfg", {"luigi.cfg": "[a]\nx = cfg\n", "luigi.toml": "[a]\nx = 'toml'\n"},
     {"LUIGI_CONFIG_PARSER": "yaml"}, [["a", "x"]]),
    ("ini_parser_name", {"luigi.cfg": "[a]\nx = cfg\n", "extra.ini": "[a]\ny = ini\n"},
     {"LUIGI_CONFIG_PARSER": "ini", "LUIGI_CONFIG_PATH": "extra.ini"}, [["a", "x"], ["a", "y"]]),
    ("unknown_extension_uses_parser", {"luigi.toml": "[a]\nx = 1\n", "settings": "[a]\ny = 2\n"},
     {"LUIGI_CONFIG_PARSER": "toml", "LUIGI_CONFIG_PATH": "settings"}, [["a", "x"], ["a", "y"]]),
    ("missing_config_path", {"luigi.cfg": "[a]\nx = cfg\n"},
     {"LUIGI_CONFIG_PATH": "nope.cfg"}, [["a", "x"]]),
    ("merge_across_files", {"client.cfg": "[DEFAULT]\nd = 1\n[a]\nx = %(d)s\n", "luigi.cfg": "[DEFAULT]\nd = 2\n[a]\ny = 3\n"},
     {}, [["a", "x"], ["a", "y"], ["a", "d"]]),
]

DISCOVERY_SCRIPT = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
from luigi.configuration import get_config
lookups = json.loads(sys.argv[1])
config = get_config()
out = []
for section, option in lookups:
    value = config.get(section, option, None)
    if isinstance(value, dict) or type(value).__name__ == "FrozenOrderedDict":
        value = dict(value)
    out.append(value)
print(json.dumps(out, default=list))
"""


def run_discovery_case(name, files, env, lookups):
    with tempfile.TemporaryDirectory() as tmp:
        for file_name, text in files.items():
            with open(os.path.join(tmp, file_name), "w", encoding="utf-8") as handle:
                handle.write(text)
        child_env = {key: value for key, value in os.environ.items() if not key.startswith("LUIGI_CONFIG")}
        child_env.update(env)
        result = subprocess.run([sys.executable, "-c", DISCOVERY_SCRIPT, json.dumps(lookups)], cwd=tmp, env=child_env,
                                capture_output=True, text=True, check=True)
        values = json.loads(result.stdout)
    return {"name": name, "files": files, "env": env, "lookups": [[s, o, v] for (s, o), v in zip(lookups, values)]}


def write(name, data):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, ensure_ascii=False)
        handle.write("\n")


def main():
    if os.path.exists("/etc/luigi"):
        sys.exit("/etc/luigi exists; the discovery vectors assume it does not")
    write("cfg_vectors.json", [run_cfg_case(*case) for case in CFG_CASES])
    write("conversions.json", [conversion(text) for text in CONVERSIONS])
    write("discovery.json", [run_discovery_case(*case) for case in DISCOVERY_CASES])


if __name__ == "__main__":
    main()
