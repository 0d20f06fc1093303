//! Tests of [`Configuration`] lookups, and of the cfg parser against vectors generated from
//! Python Luigi 3.8.1 (`luigi-core/tests/data/config/gen_vectors.py`).

use std::path::Path;

use serde_json::Value as Json;

use super::*;

fn env_of(case: &Json) -> Vec<(String, String)> {
    case["env"]
        .as_object()
        .map(|vars| vars.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
        .unwrap_or_default()
}

fn cfg_with_env(env: Vec<(String, String)>) -> Configuration {
    Configuration::empty(Syntax::Cfg, Discovery::system().with_env_vars(env))
}

fn cfg(text: &str) -> Configuration {
    let mut config = cfg_with_env(Vec::new());
    config.read_str(text, Path::new("test.cfg")).unwrap();
    config
}

fn toml_config(text: &str) -> Configuration {
    let mut config =
        Configuration::empty(Syntax::Toml, Discovery::system().with_env_vars(Vec::<(String, String)>::new()));
    config.read_str(text, Path::new("test.toml")).unwrap();
    config
}

fn str_value(config: &Configuration, section: &str, option: &str) -> Option<String> {
    match config.get(section, option).unwrap() {
        Some(Value::Str(text)) => Some(text),
        other => panic!("[{section}] {option}: expected a string, got {other:?}"),
    }
}

fn error_name(err: &Error) -> &'static str {
    match err {
        Error::MissingSectionHeader { .. } => "MissingSectionHeaderError",
        Error::Parse { .. } => "ParsingError",
        Error::DuplicateSection { .. } => "DuplicateSectionError",
        Error::DuplicateOption { .. } => "DuplicateOptionError",
        Error::InterpolationSyntax { .. } => "InterpolationSyntaxError",
        Error::InterpolationMissingOption { .. } => "InterpolationMissingOptionError",
        Error::InterpolationDepth { .. } => "InterpolationDepthError",
        Error::MissingEnvVar { .. } => "InterpolationMissingEnvvarError",
        _ => "other",
    }
}

fn raw_pairs(options: &Options) -> Vec<(String, String)> {
    options
        .iter()
        .map(|(k, v)| match v {
            Value::Str(text) => (k.clone(), text.clone()),
            Value::Toml(other) => panic!("cfg option {k} holds a TOML value {other:?}"),
        })
        .collect()
}

fn json_pairs(pairs: &Json) -> Vec<(String, String)> {
    pairs
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| (pair[0].as_str().unwrap().to_owned(), pair[1].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn cfg_files_parse_and_interpolate_as_python_luigi() {
    let cases: Json = serde_json::from_str(include_str!("../../tests/data/config/cfg_vectors.json")).unwrap();
    assert!(cases.as_array().unwrap().len() >= 30, "the vector file lost its cases");
    for case in cases.as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let mut config = cfg_with_env(env_of(case));
        let result = config.read_str(case["text"].as_str().unwrap(), Path::new("case.cfg"));
        if let Some(expected) = case.get("error") {
            let err = result.expect_err(name);
            assert_eq!(error_name(&err), expected["type"].as_str().unwrap(), "{name}: {err}");
            match (&err, expected.get("line"), expected.get("lines")) {
                (
                    Error::MissingSectionHeader { line, .. }
                    | Error::DuplicateSection { line, .. }
                    | Error::DuplicateOption { line, .. },
                    Some(want),
                    _,
                ) => assert_eq!(Some(*line as u64), want.as_u64(), "{name}"),
                (Error::Parse { lines, .. }, _, Some(want)) => {
                    let got: Vec<u64> = lines.iter().map(|(line, _)| *line as u64).collect();
                    let want: Vec<u64> = want.as_array().unwrap().iter().map(|l| l[0].as_u64().unwrap()).collect();
                    assert_eq!(got, want, "{name}");
                }
                other => panic!("{name}: unexpected error shape {other:?}"),
            }
            continue;
        }
        result.unwrap_or_else(|err| panic!("{name}: {err}"));
        let sections: Vec<(String, Vec<(String, String)>)> =
            config.data.sections.iter().map(|(section, options)| (section.clone(), raw_pairs(options))).collect();
        let want_sections: Vec<(String, Vec<(String, String)>)> = case["sections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|section| (section[0].as_str().unwrap().to_owned(), json_pairs(&section[1])))
            .collect();
        assert_eq!(sections, want_sections, "{name}: sections");
        assert_eq!(raw_pairs(&config.data.defaults), json_pairs(&case["defaults"]), "{name}: defaults");
        for lookup in case["lookups"].as_array().unwrap() {
            let section = lookup["section"].as_str().unwrap();
            let option = lookup["option"].as_str().unwrap();
            let got = config.get(section, option);
            match lookup.get("error") {
                Some(want) => {
                    let err = got.expect_err(name);
                    assert_eq!(error_name(&err), want.as_str().unwrap(), "{name}: [{section}] {option}: {err}");
                }
                None => {
                    let want = lookup["value"].as_str().map(|text| Value::Str(text.to_owned()));
                    assert_eq!(got.unwrap(), want, "{name}: [{section}] {option}");
                    assert_eq!(config.has_option(section, option), want.is_some(), "{name}: has [{section}] {option}");
                }
            }
        }
    }
}

#[test]
fn conversions_match_configparser_getters() {
    let cases: Json = serde_json::from_str(include_str!("../../tests/data/config/conversions.json")).unwrap();
    for case in cases.as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let mut config = Configuration::new();
        config.set("s", "v", text.replace('%', "%%")).unwrap();
        assert_eq!(config.get_bool("s", "v").ok().flatten(), case["bool"].as_bool(), "bool {text:?}");
        // Python's int() is unbounded; ours stops at 64 bits, so larger values are errors.
        let want_int = case["int"].as_i64();
        assert_eq!(config.get_int("s", "v").ok().flatten(), want_int, "int {text:?}");
        let got_float = config.get_float("s", "v").ok().flatten().map(crate::pyjson::float_repr);
        assert_eq!(got_float.as_deref(), case["float"].as_str(), "float {text:?}");
    }
}

#[test]
fn typed_getter_errors_name_section_option_and_value() {
    let config = cfg("[core]\nworkers = many\nflag = maybe\n");
    let err = config.get_int("core", "workers").unwrap_err();
    assert_eq!(err.to_string(), "[core] workers = \"many\" is not an integer");
    let err = config.get_bool_or("core", "flag", false).unwrap_err();
    assert_eq!(err.to_string(), "[core] flag = \"maybe\" is not a boolean (1/yes/true/on or 0/no/false/off)");
    assert_eq!(config.get_int_or("core", "missing", 3).unwrap(), 3);
    assert_eq!(config.get_float_or("nope", "x", 1.5).unwrap(), 1.5);
    assert_eq!(config.get_str_or("core", "workers", "d").unwrap(), "many");
    assert_eq!(config.get_str_or("core", "other", "d").unwrap(), "d");
}

#[test]
fn dashed_spelling_is_a_fallback() {
    let config = cfg("[core]\ndefault-scheduler-host = old\nscheduler_port = 1\nrpc-connect-timeout = 5\n");
    assert_eq!(str_value(&config, "core", "default_scheduler_host").as_deref(), Some("old"));
    assert_eq!(str_value(&config, "core", "default-scheduler-host").as_deref(), Some("old"));
    assert_eq!(str_value(&config, "core", "scheduler-port").as_deref(), Some("1"));
    assert_eq!(config.get_float("core", "rpc_connect_timeout").unwrap(), Some(5.0));
    // Only the all-dashes and all-underscores spellings are tried.
    let config = cfg("[s]\na-b_c = 1\n");
    assert_eq!(config.get("s", "a-b_c").unwrap(), None);
    assert!(!config.has_option("s", "a_b_c"));
}

#[test]
fn default_applies_only_to_existing_sections() {
    let config = cfg("[DEFAULT]\nd = 1\n[a]\nx = %(d)s\n");
    assert_eq!(str_value(&config, "a", "d").as_deref(), Some("1"));
    assert_eq!(str_value(&config, "a", "x").as_deref(), Some("1"));
    assert_eq!(config.get("missing", "d").unwrap(), None);
    assert_eq!(str_value(&config, DEFAULT_SECTION, "d").as_deref(), Some("1"));
    assert!(!config.has_section(DEFAULT_SECTION));
    assert_eq!(config.sections().collect::<Vec<_>>(), ["a"]);
}

#[test]
fn options_and_items_follow_configparser_order() {
    let config = cfg("[DEFAULT]\nd1 = 10\nshared = 5\n[resources]\nz = 3\nshared = 7\na = %(d1)s\n");
    assert_eq!(config.options("resources"), ["z", "shared", "a", "d1"]);
    let items: Vec<(String, String)> =
        config.items("resources").unwrap().into_iter().map(|(k, v)| (k, v.to_string())).collect();
    let want: Vec<(String, String)> = [("d1", "10"), ("shared", "7"), ("z", "3"), ("a", "10")]
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    assert_eq!(items, want);
    assert_eq!(config.items(DEFAULT_SECTION).unwrap().len(), 2);
    assert!(config.items("missing").unwrap().is_empty());
    assert!(config.options("missing").is_empty());
}

#[test]
fn int_dict_excludes_default_keys() {
    let config = cfg("[DEFAULT]\nd1 = 10\nshared = 5\n[resources]\nz = 3\nshared = 7\na = %(d1)s\n");
    let resources = config.int_dict("resources").unwrap();
    assert_eq!(resources.into_iter().collect::<Vec<_>>(), [("z".to_owned(), 3), ("a".to_owned(), 10)]);
    assert!(config.int_dict("missing").unwrap().is_empty());
    let err = cfg("[resources]\ngpu = two\n").int_dict("resources").unwrap_err();
    assert_eq!(err.to_string(), "[resources] gpu = \"two\" is not an integer");
    // As in Luigi, [DEFAULT] is interpolated on its own, so a default that needs the section fails.
    let err = cfg("[DEFAULT]\nd = %(x)s\n[resources]\nx = 1\n").int_dict("resources").unwrap_err();
    assert!(matches!(err, Error::InterpolationMissingOption { .. }), "{err}");
}

#[test]
fn set_creates_sections_and_validates_percent_signs() {
    let mut config = Configuration::new();
    config.set("new", "k", "v").unwrap();
    config.set("new", "p", "50%% of %(k)s").unwrap();
    assert_eq!(str_value(&config, "new", "p").as_deref(), Some("50% of v"));
    let err = config.set("new", "bad", "50%").unwrap_err();
    assert_eq!(
        err,
        Error::InvalidSetValue { section: "new".into(), option: "bad".into(), value: "50%".into(), position: 2 }
    );
    config.set(DEFAULT_SECTION, "d", "1").unwrap();
    assert_eq!(str_value(&config, "new", "d").as_deref(), Some("1"));
    assert!(!config.has_section(DEFAULT_SECTION));
}

#[test]
fn environment_is_read_at_lookup_time_through_discovery() {
    let mut config = cfg_with_env(vec![("LUIGI_TEST_DIR".into(), "/data".into())]);
    config
        .read_str("[core]\nstate = ${LUIGI_TEST_DIR}/state\nother = ${LUIGI_TEST_UNSET}\n", Path::new("x.cfg"))
        .unwrap();
    assert_eq!(str_value(&config, "core", "state").as_deref(), Some("/data/state"));
    let err = config.get("core", "other").unwrap_err();
    assert_eq!(
        err.to_string(),
        "environment variable LUIGI_TEST_UNSET referenced in [core] other = \"${LUIGI_TEST_UNSET}\" is not set; \
         set it or remove the reference"
    );
}

#[test]
fn toml_values_stay_native() {
    let config = toml_config(
        "[core]\nworkers = 4\nlocal_scheduler = true\nrate = 0.5\nname = 'x'\nlist = [1, 2]\n\
         [Task]\nmapping = { b = 1, a = [1, 2] }\n[logging]\nversion = 1\n[logging.root]\nlevel = 'INFO'\n",
    );
    assert_eq!(config.get("core", "workers").unwrap(), Some(Value::Toml(toml::Value::Integer(4))));
    assert_eq!(config.get_int("core", "workers").unwrap(), Some(4));
    assert_eq!(config.get_bool("core", "local_scheduler").unwrap(), Some(true));
    assert_eq!(config.get_float("core", "rate").unwrap(), Some(0.5));
    assert_eq!(config.get_float("core", "workers").unwrap(), Some(4.0));
    assert_eq!(config.get_str("core", "name").unwrap().as_deref(), Some("x"));
    assert_eq!(config.get_str("core", "workers").unwrap().as_deref(), Some("4"));
    assert_eq!(config.get_str("core", "local_scheduler").unwrap().as_deref(), Some("True"));
    assert_eq!(config.get_str("core", "rate").unwrap().as_deref(), Some("0.5"));
    assert!(config.get_str("core", "list").is_err());
    assert!(config.get_bool("core", "workers").is_err());
    assert!(config.get_int("core", "rate").is_err());
    // Nested tables keep their file order, which DictParameter serialises into task ids.
    let Some(Value::Toml(toml::Value::Table(mapping))) = config.get("Task", "mapping").unwrap() else {
        panic!("mapping is not a table")
    };
    assert_eq!(mapping.keys().collect::<Vec<_>>(), ["b", "a"]);
    // No dash aliasing and no [DEFAULT] in TOML.
    assert_eq!(config.get("core", "local-scheduler").unwrap(), None);
    let logging = config.logging_table().unwrap();
    assert_eq!(logging["version"].as_integer(), Some(1));
    assert_eq!(logging["root"]["level"].as_str(), Some("INFO"));
    assert!(cfg("[logging]\nversion = 1\n").logging_table().is_none());
}

#[test]
fn toml_helpers_cover_sections_items_and_set() {
    let mut config = toml_config("[resources]\ngpu = 2\ncpu = '4'\n[DEFAULT]\nx = 1\n");
    assert_eq!(config.sections().collect::<Vec<_>>(), ["resources", "DEFAULT"]);
    assert_eq!(config.options("resources"), ["gpu", "cpu"]);
    assert_eq!(config.items("resources").unwrap().len(), 2);
    let resources = config.int_dict("resources").unwrap();
    assert_eq!(resources.into_iter().collect::<Vec<_>>(), [("gpu".to_owned(), 2), ("cpu".to_owned(), 4)]);
    assert_eq!(config.get("resources", "x").unwrap(), None);
    config.set("core", "pct", "50%").unwrap();
    assert_eq!(config.get("core", "pct").unwrap(), Some(Value::Toml(toml::Value::String("50%".into()))));
    assert!(config.has_option("core", "pct"));
    assert!(!config.has_option("core", "nope"));
}

#[test]
fn family_entries_list_options_as_parameters_spell_them() {
    let config = cfg("[DEFAULT]\nd = 1\n[MyTask]\nused-param = a\nextra = %(d)s\n");
    let entries: Vec<(String, String)> =
        config.family_entries("MyTask").unwrap().into_iter().map(|(k, v)| (k, v.to_string())).collect();
    let want: Vec<(String, String)> =
        [("used_param", "a"), ("extra", "1"), ("d", "1")].iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    assert_eq!(entries, want);
    assert!(config.family_entries("Other").unwrap().is_empty());
    let config = toml_config("[MyTask]\nn = 1\n");
    assert_eq!(config.family_entries("MyTask").unwrap(), [("n".to_owned(), Value::Toml(toml::Value::Integer(1)))]);
}

#[test]
fn read_str_is_all_or_nothing() {
    let mut config = cfg("[a]\nx = 1\n");
    let err = config.read_str("[a]\nx = 2\nbad line\n", Path::new("second.cfg")).unwrap_err();
    assert!(matches!(err, Error::Parse { .. }));
    assert_eq!(str_value(&config, "a", "x").as_deref(), Some("1"));
}

#[test]
fn error_messages_say_where() {
    let mut config = Configuration::new();
    let err = config.read_str("[a]\nx=1\nx=2\n", Path::new("/etc/luigi/luigi.cfg")).unwrap_err();
    assert_eq!(err.to_string(), "/etc/luigi/luigi.cfg, line 3: option x appears twice in section [a]; keep one");
    let err = config.read_str("[a]\nbare\n", Path::new("l.cfg")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "l.cfg: cannot parse line 2 \"bare\"; expected `[section]`, `name = value`, `name: value`, \
         an indented continuation or a `#`/`;` comment"
    );
    let err = config.read_str("k = v\n", Path::new("l.cfg")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "l.cfg, line 1: \"k = v\" comes before any [section] header; start the file with a section such as [core]"
    );
}

#[test]
fn value_display() {
    assert_eq!(Value::Str("a b".into()).to_string(), "a b");
    assert_eq!(Value::Toml(toml::Value::String("s".into())).to_string(), "s");
    assert_eq!(Value::Toml(toml::Value::Integer(3)).to_string(), "3");
}
