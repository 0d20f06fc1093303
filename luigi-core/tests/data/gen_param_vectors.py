"""Generates the parameter-type test vectors for luigi-core/tests/param_types.rs.

Runs real Python Luigi (3.8.1) over command-line strings for every parameter class and
records what Luigi makes of each: the serialized string after parse + normalize, or the
error. It also builds a few tasks with many parameter types and records their str_params
and task ids. The Rust test replays every record without needing Python.

Regenerate from the repository root with:

    ~/.cache/luigi-rs/venv/bin/python luigi-core/tests/data/gen_param_vectors.py

Outputs (next to this script): param_vectors.jsonl and param_task_ids.jsonl.
"""

import datetime
import enum
import json
import operator
import os
import re
import sys
import warnings

import luigi

assert luigi.__version__ == "3.8.1", luigi.__version__
warnings.simplefilter("ignore")

HERE = os.path.dirname(os.path.abspath(__file__))


class Color(enum.Enum):
    red = 1
    green = 2
    blue = 3


# --- how each type key maps to a Luigi parameter ---------------------------------------------

DATE_PARSERS = {
    "date": luigi.DateParameter,
    "month": luigi.MonthParameter,
    "year": luigi.YearParameter,
    "datehour": luigi.DateHourParameter,
    "dateminute": luigi.DateMinuteParameter,
    "datesecond": luigi.DateSecondParameter,
}


def make_param(kind, options):
    """The Luigi parameter object for a vector's type key and options."""
    if kind in DATE_PARSERS:
        cls = DATE_PARSERS[kind]
        kwargs = {}
        if "interval" in options:
            kwargs["interval"] = options["interval"]
        if "start" in options:
            # Rust takes `start` in the type's own string form; Luigi takes a date/datetime.
            kwargs["start"] = cls().parse(options["start"])
        return cls(**kwargs)
    simple = {
        "str": luigi.Parameter,
        "int": luigi.IntParameter,
        "float": luigi.FloatParameter,
        "bool": luigi.BoolParameter,
        "date_interval": luigi.DateIntervalParameter,
        "timedelta": luigi.TimeDeltaParameter,
        "path": luigi.PathParameter,
        "list": luigi.ListParameter,
        "tuple": luigi.TupleParameter,
        "dict": luigi.DictParameter,
        "json": luigi.DictParameter,
        "optional_str": luigi.OptionalParameter,
        "optional_int": luigi.OptionalIntParameter,
        "optional_float": luigi.OptionalFloatParameter,
        "optional_bool": luigi.OptionalBoolParameter,
        "optional_list": luigi.OptionalListParameter,
        "optional_tuple": luigi.OptionalTupleParameter,
        "optional_dict": luigi.OptionalDictParameter,
        "optional_path": luigi.OptionalPathParameter,
    }
    if kind in simple:
        return simple[kind]()
    if kind == "enum":
        return luigi.EnumParameter(enum=Color)
    if kind == "enum_list":
        return luigi.EnumListParameter(enum=Color)
    if kind == "choice":
        return luigi.ChoiceParameter(choices=options["choices"])
    if kind == "optional_choice":
        return luigi.OptionalChoiceParameter(choices=options["choices"])
    if kind == "choice_int":
        return luigi.ChoiceParameter(choices=[int(c) for c in options["choices"]], var_type=int)
    if kind == "choice_list":
        return luigi.ChoiceListParameter(choices=options["choices"])
    if kind in ("numerical_int", "numerical_float", "optional_numerical_int"):
        var_type = float if kind == "numerical_float" else int
        cls = luigi.OptionalNumericalParameter if kind.startswith("optional") else luigi.NumericalParameter
        return cls(
            var_type=var_type,
            min_value=var_type(options["min"]),
            max_value=var_type(options["max"]),
            left_op=operator.le if options.get("min_inclusive", True) else operator.lt,
            right_op=operator.le if options.get("max_inclusive", False) else operator.lt,
        )
    raise KeyError(kind)


def error_match(kind, exc):
    """How closely the Rust error must match Luigi's: exact, a prefix, or any error."""
    # Object addresses in ast messages change from run to run.
    message = re.sub(r" at 0x[0-9a-f]+", "", str(exc))
    name = type(exc).__name__
    if kind in ("enum", "task"):
        return "any", message  # the derive macro and the registry word these their own way
    if kind in ("choice", "choice_list", "optional_choice") and "is not a valid choice" in message:
        # Luigi prints a Python set of strings, whose order changes from run to run.
        return "prefix", message.split("{")[0] + "{"
    if name == "OverflowError" and "Python int too large" in message:
        return "any", message
    if "malformed node" in message or name == "SyntaxError":
        return "any", message  # ast.literal_eval's wording depends on Python internals
    return "exact", message


def run(kind, text, options):
    param = make_param(kind, options)
    try:
        value = param.normalize(param.parse(text))
        return {"ok": param.serialize(value)}
    except Exception as exc:  # every failure is a vector too
        match, message = error_match(kind, exc)
        return {"error": message, "match": match}


# --- the inputs ----------------------------------------------------------------------------

CASES = []


def case(kind, inputs, **options):
    for text in inputs:
        CASES.append((kind, options, text))


case("str", ["hello", "", " spaced ", "é ünïcode ✓", 'a"b\\c\n\t\x01\x7f/😀é'])
case("int", ["1_000_000", "0_1", " -0_1 ", "\u3000٣\u2003", "1 000", "0", "-42", "+5", " 5 ", "1_000", "007", "00", "-0", "٣", "9223372036854775807",
             "5.0", "0x10", "", "1e3", "- 5", "1__0", "_1", "abc"])
case("int128", ["12345678901234567890", "-170141183460469231731687303715884105728"])
case("float", ["1E5", "-.5", "+.5e-3", "0e0", "1e+16", "9007199254740993", "1e-310", "0.1e-310", "1.", "-1.5e-5", "1", "0.1", "1e16", "1e15", "0.00001", "0.0001", "2.5e-7", "-0.0", "inf", "-Infinity", "+inf",
               "iNfInItY", "nan", "-nan", "1_000.5", "1e1_0", " 1.5\n", ".5", "5.", "1e400", "1e-400", "1e308",
               "123456789.125", "12345678901234567", "0.3", "1.7976931348623157e308", "5e-324", "١٢",
               "_1", "1__0", "0x10", "1,5", "", "infinit", "1_e5", "abc"])
case("bool", ["TRUE", "true", "False", "fAlSe", "yes", "1", "0", "", " true", "truee"])
case("date", ["2015-01-05", "2015-01-05 ", "2015-1-05", "2015-01-1", "2015-1-", "2015-04-31", "2015-12-31", "2015-01-  5", "2015-01-05\n", "2015-1-5", "2015-01- 5", "2016-02-29", "2015-02-29", "2015-02-30", "0000-01-01",
              "0999-01-01", "0001-01-01", "9999-12-31", "2015-01-05x", "20150105", "2015-13-01", " 2015-01-05",
              "2015-001-01", "2015-01-005", "2015/01/05", "", "٢٠١٥-01-05"])
case("date", ["2024-01-03", "2024-01-04", "1970-01-01", "1969-12-31"], interval=7)
case("date", ["2024-01-10", "2023-12-31", "2024-01-08"], interval=7, start="2024-01-01")
case("date", ["0001-01-01", "0001-01-05"], interval=7)
case("month", ["2015-06", "2015-6", "2015-13", "2015", "2015-06-01", "0999-05", "9999-12"])
case("month", ["2015-07", "2015-01", "1969-12"], interval=3, start="2015-02")
case("month", ["2015-07", "1969-12"], interval=5)
case("year", ["2015", "0999", "0001", "9999", "0000", "15", "2015-01"])
case("year", ["2015", "1965", "2010"], interval=10)
case("year", ["2015", "2017"], interval=4, start="2016")
case("datehour", ["2013-07-10T 1", "2013-07-10T00", "2013-07-10T23", "2013-07-10T19", "2013-07-10t19", "2013-07-10T1", "2013-07-10T24", "2013-07-10T19x",
                  "2013-07-10", "2013-07-10T1900"])
case("datehour", ["2013-07-10T13", "2013-07-10T05", "1969-12-31T23"], interval=6)
case("datehour", ["2013-07-10T13", "2013-07-10T01"], interval=5, start="2013-07-10T02")
case("dateminute", ["2013-07-10T1907", "2013-07-10T19H07", "2013-07-10T19h07", "2013-07-10T197",
                    "2013-07-10T1960", "2013-07-10T907", "2013-07-10T19:07", "2013-07-10T19"])
case("dateminute", ["2013-07-10T1907", "2013-07-10T1915"], interval=15)
case("dateminute", ["2013-07-10T1905"], interval=15, start="2013-07-10T0007")
case("datesecond", ["2013-07-10T190738", "2013-07-10T190760", "2013-07-10T190761", "2013-07-10T19073",
                    "2013-07-10T1973", "2013-07-10T1907"])
case("datesecond", ["2013-07-10T190738", "2013-07-10T190700"], interval=30)
case("date_interval", ["2015-05\n", "2015-W35\n", "2015-11-04\n", "2015-11-04-2015-12-04\n", "2015\n\n", "2015-W01", "2016-W52", "2016-W53", "2026-W53", "\n2015", "2015", "2015-05", "2015-W35", "2015-11-04", "2015-11-04-2015-12-04", "2015\n",
                       "2015-13", "2015-00", "2015-W53", "2014-W53", "2015-W00", "2009-W01", "2009-W53", "2020-W53",
                       "2021-W53", "0999-W05", "0002-W01", "9999-W05", "9999-W52", "9999", "9998", "9999-12",
                       "9999-11", "9999-12-31", "9999-12-30", "0001-W01", "0001", "0000", "2015-12-04-2015-11-04",
                       "2015-11-4", "15", "2015-02-30", "2016-02-29", "2015-W35x", "2015-1", "2015-w35", "",
                       "2015-11-04-2015-13-04", "٢٠١٥"])
case("timedelta", ["P1DT", "PT0S", "P1W", "PT1H2M", "P1DT2H3M4S", "1w", "1 day", "1days", "1 hour 30 minutes", "1h30m15s", "٣ h", "1.5e3", "-0", "-P1D", "1d3h", "P2W", "1.5", "-1.5", "-1", "3600", "1 w 2 d 3 h 0 m 7 s", "P1DT2H", "PT", "P0D", "P",
                   "0", "0s", "abc", "nan", "inf", "1e20", "2 hours", "1ws", "10 minutes 5", "2 ms", "P1W2D",
                   "P1DT2Hgarbage", "1 week 2 days", "5x", "1d 3h", "1 d3 h", "0.9999996", "0.0000005",
                   "0.0000015", "86399.9999999", "1_000", " 12 ", "P1M", "PT1M", "PT1S", "PT1H1M1S", "1 weeks",
                   "1 s", "3 d 1 w", "999999999999w", "-86400.5", "1e-7", "100000000000000", "86399999999999",
                   "1 W", "P1D", "P1H", "1 second", "7 days", ""])
case("path", ["a//b/./c/", "", ".", "./a", "a/.", "//a", "///a", "/", "a/../b", "~/x", "//", "a/./", "./",
              "/./a", "é/😀"])
# Not here, because Luigi accepts them but a Rust value cannot hold them (param_types.rs checks
# that they fail clearly): "null" for a list, NaN/Infinity, integers beyond 64 bits, lone
# surrogates, and non-objects for a dict.
case("list", ['[{"b": {"y": 1, "x": 2}}]', '  [1]\n', '[1, "x", {"k": "v"}]', "[]", '["é", "😀"]', '{"a": 1, "b": 2}', '"abc"', "5",
              "[1.0, 1e16, 2.5e-7]", " [1,2] ", "[1,2", '[{"b":1,"a":2}]', '{"a":1,"a":2,"b":3}',
              "[true, false, null]", "[-0.0, 1E5, 10.50, -0]", '["a\\u00e9\\ud83d\\ude00\\/"]', "[1,]", "x", "",
              "[01]", "[1 2]", '["\\x"]', "[[[]]]", "[9223372036854775807, -9223372036854775808]",
              "[18446744073709551615]"])
case("tuple", ["(1, 2,)", "[1, 2, ]", "(1,\n2)", "((1, 2),)", "('a',)", '("\\x41",)', "(r'\\n',)", "(0o17, 0b101)", "(1 if 1 else 2,)", "(1+2j,)", "([1, 2], {'a': None})", "{1: 2}", "{1: 2, 'a': 3}", "(1, 2) # comment", "{'a': {}", "(1, (2, 3)", '("\\ud83d\\ude00",)', "(True, False, None, 1.0, -0.0)", "[[1, 2], [3, 4]]", "((1,2),(3,4))", "(1, 'a')", "(True, None)", '"abc"', "'abc'", "[1, 2]",
               "[true]", "5", "1, 2", "(1,)", "(1)", '[{"a": 1}]', '{"a": 1}', "{'a': 1}", '["a", "b"]',
               '[["a", 1], ["b", 2]]', '("a\\n\\u00e9", "x\'y")', "(1.5, -2, +3, 1e3)", "[]", "()",
               "(0x10, 1_000)", '("a" "b",)', "(b'x',)", '(1, [2, 3], {"k": (4, 5)})', '[1, "x"]', '["x", 1]',
               "[[1], 2]", "(-(1), 2)", "(--1, 2)", "((1, 2), 3, (4,))", "('é', '😀')", "(1, 2, 3, 4, 5, 6)",
               "", "(", "x"])
case("dict", ['{"b": 1, "a": [1, 2]}', "{}", '{"é": "ü"}', '{"a": {"c": 1, "b": 2}}', '{"a":1,"a":2,"b":3}',
              "x", '{"a": 1,}', "{'a': 1}", '{"a" 1}', '{"a": 1} x', '{"k": [1.5, 1e16, true, null]}'])
case("json", ["[1, 2]", "5", '"x"', "null", "true", '{"b": 1, "a": 2}', "1.0", "-0.0", "[]", "x"])
case("enum", ["red", "green", "Red", "", "purple"])
case("enum_list", ["red, blue", "red,blue", "", "red", "red,,blue", "red,x", "x", "blue,blue", ","])
case("choice", ["a", "b", "c", "", "A"], choices=["a", "b"])
case("choice_int", ["1", "01", " 2 ", "3", "x"], choices=["1", "2"])
case("choice_list", ["a,b", "", "a", "a,c", "a,,b", "b,b,a"], choices=["a", "b"])
case("optional_choice", ["", "a", "c"], choices=["a", "b"])
case("numerical_int", ["-3", "7", "6", "x", "8", "-4", "0"], min=-3, max=7)
case("numerical_int", ["-3", "7", "-2"], min=-3, max=7, min_inclusive=False, max_inclusive=True)
case("numerical_float", ["0.5", "1.5", "1e0", "2", "0.49", "1.4999", "nan", "inf"], min=0.5, max=1.5)
case("numerical_float", ["0", "1", "0.5"], min=0.0, max=1.0, min_inclusive=False, max_inclusive=True)
case("optional_numerical_int", ["", "3", "9"], min=0, max=5)
case("optional_str", ["", "x"])
case("optional_int", ["", "5", "x"])
case("optional_float", ["", "1e16"])
case("optional_bool", ["", "true", "FALSE", "x"])
case("optional_list", ["", "[1]"])
case("optional_tuple", ["", "(1, 2)"])
case("optional_dict", ["", '{"a": 1}'])
case("optional_path", ["", "a//b"])


def main():
    with open(os.path.join(HERE, "param_vectors.jsonl"), "w", encoding="utf-8") as out:
        for kind, options, text in CASES:
            python_kind = "int" if kind == "int128" else kind
            record = {"type": kind, "options": options, "input": text}
            record.update(run(python_kind, text, options))
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    write_task_ids()
    print(f"{len(CASES)} vectors", file=sys.stderr)


# --- tasks mirrored by the Rust test --------------------------------------------------------


class ParamTypesTask(luigi.Task):
    task_namespace = "pt"
    day = luigi.DateParameter()
    hour = luigi.DateHourParameter(interval=6)
    n = luigi.IntParameter(default=5)
    ratio = luigi.FloatParameter(default=0.5)
    flag = luigi.BoolParameter()
    span = luigi.TimeDeltaParameter(default=datetime.timedelta(hours=1))
    window = luigi.DateIntervalParameter(default=luigi.date_interval.Month(2015, 6))
    tags = luigi.ListParameter(default=[])
    pair = luigi.TupleParameter(default=(1, "a"))
    conf = luigi.DictParameter(default={})
    mode = luigi.ChoiceParameter(choices=["fast", "slow"], default="fast")
    colors = luigi.EnumListParameter(enum=Color, default=())
    color = luigi.EnumParameter(enum=Color, default=Color.red)
    out = luigi.PathParameter(default="out")
    maybe = luigi.OptionalIntParameter()
    month = luigi.MonthParameter(default=datetime.date(2015, 1, 1))
    minute = luigi.DateMinuteParameter(default=datetime.datetime(2015, 1, 1, 0, 0))
    bounded = luigi.NumericalParameter(var_type=int, min_value=0, max_value=10, default=3)
    note = luigi.Parameter(default="x", significant=False)
    secret = luigi.Parameter(default="s", visibility=luigi.parameter.ParameterVisibility.HIDDEN)


class ParamTypesRunner(luigi.Task):
    task_namespace = "pt"
    target = luigi.TaskParameter()
    year = luigi.YearParameter(default=datetime.date(2020, 1, 1))
    second = luigi.DateSecondParameter(default=datetime.datetime(2020, 1, 1, 0, 0, 0))
    every = luigi.TimeDeltaParameter(default=datetime.timedelta(0))


TASK_CASES = [
    ("pt.ParamTypesTask", {"day": "2024-01-31", "hour": "2024-01-31T13"}),
    ("pt.ParamTypesTask", {"day": "2024-2-9", "hour": "2024-02-09T05", "n": "-7", "ratio": "1e16", "flag": "TRUE",
                           "span": "1d3h", "window": "2015-W53", "tags": '[1, "é", {"k": [1.5]}]',
                           "pair": "(2, 'b')", "conf": '{"b": 1, "a": [1, 2]}', "mode": "slow",
                           "colors": "blue,red", "color": "green", "out": "a//b/./c/", "maybe": "12",
                           "month": "2015-7", "minute": "2015-01-01T10H07", "bounded": "9", "note": "ignored",
                           "secret": "hidden"}),
    ("pt.ParamTypesTask", {"day": "1999-12-31", "hour": "1999-12-31T23", "ratio": "0.00001", "span": "-1.5",
                           "window": "2015-11-04-2015-12-04", "tags": "[]", "pair": '[3, "c"]', "conf": "{}",
                           "colors": "", "out": "", "maybe": "", "minute": "2015-01-01T0000"}),
    ("pt.ParamTypesRunner", {"target": "pt.ParamTypesTask"}),
    ("pt.ParamTypesRunner", {"target": "pt.ParamTypesRunner", "year": "1999", "second": "2020-02-29T235959",
                             "every": "P2W"}),
]


def write_task_ids():
    with open(os.path.join(HERE, "param_task_ids.jsonl"), "w", encoding="utf-8") as out:
        for family, args in TASK_CASES:
            cls = luigi.task_register.Register.get_task_cls(family)
            task = cls.from_str_params(args)
            record = {
                "family": family,
                "args": args,
                "str_params": task.to_str_params(),
                "task_id": task.task_id,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
