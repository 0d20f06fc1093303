//! Configuration discovery and precedence over real files in temporary directories, with an
//! injected environment, and parameters read from configuration files end to end.
//!
//! The discovery vectors in `data/config/discovery.json` were produced by running Python
//! Luigi 3.8.1's `get_config()` over the same files (`data/config/gen_vectors.py`).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use luigi_core::config::{Configuration, Discovery, Error, Syntax, Value};
use luigi_core::param::{self, ParamArgs, ParamContext};
use luigi_core::prelude::*;
use serde_json::Value as Json;

/// A temporary `/etc/luigi` and working directory.
struct Dirs {
    etc: tempfile::TempDir,
    cwd: tempfile::TempDir,
}

impl Dirs {
    fn new() -> Dirs {
        Dirs { etc: tempfile::tempdir().unwrap(), cwd: tempfile::tempdir().unwrap() }
    }

    fn etc_file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.etc.path().join(name);
        fs::write(&path, text).unwrap();
        path
    }

    fn cwd_file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.cwd.path().join(name);
        fs::write(&path, text).unwrap();
        path
    }

    fn discovery(&self, env: &[(&str, &str)]) -> Discovery {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Discovery::system().with_etc_dir(self.etc.path()).with_cwd(self.cwd.path()).with_env_vars(env)
    }
}

fn text(config: &Configuration, section: &str, option: &str) -> Option<String> {
    config.get(section, option).unwrap().map(|value| value.to_string())
}

fn toml_to_json(value: &toml::Value) -> Json {
    match value {
        toml::Value::String(text) => Json::from(text.as_str()),
        toml::Value::Integer(number) => Json::from(*number),
        toml::Value::Float(number) => Json::from(*number),
        toml::Value::Boolean(flag) => Json::from(*flag),
        toml::Value::Datetime(datetime) => Json::from(datetime.to_string()),
        toml::Value::Array(items) => Json::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Json::Object(table.iter().map(|(k, v)| (k.clone(), toml_to_json(v))).collect()),
    }
}

#[test]
fn discovery_matches_python_luigi() {
    let cases: Json = serde_json::from_str(include_str!("data/config/discovery.json")).unwrap();
    assert!(cases.as_array().unwrap().len() >= 10, "the vector file lost its cases");
    for case in cases.as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let dirs = Dirs::new();
        for (file, content) in case["files"].as_object().unwrap() {
            dirs.cwd_file(file, content.as_str().unwrap());
        }
        let env: Vec<(&str, &str)> =
            case["env"].as_object().unwrap().iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap())).collect();
        let config = dirs.discovery(&env).load().unwrap_or_else(|err| panic!("{name}: {err}"));
        for lookup in case["lookups"].as_array().unwrap() {
            let (section, option) = (lookup[0].as_str().unwrap(), lookup[1].as_str().unwrap());
            let got = match config.get(section, option).unwrap() {
                None => Json::Null,
                Some(Value::Str(text)) => Json::from(text),
                Some(Value::Toml(value)) => toml_to_json(&value),
            };
            assert_eq!(got, lookup[2], "{name}: [{section}] {option}");
        }
    }
}

#[test]
fn cfg_files_are_read_in_luigi_order() {
    let dirs = Dirs::new();
    let etc_client = dirs.etc_file(
        "client.cfg",
        "[a]\np1 = etc-client\np2 = etc-client\np3 = etc-client\np4 = etc-client\np5 = etc-client\n",
    );
    let etc_luigi = dirs.etc_file("luigi.cfg", "[a]\np2 = etc-luigi\np3 = etc-luigi\np4 = etc-luigi\np5 = etc-luigi\n");
    dirs.cwd_file("client.cfg", "[a]\np3 = cwd-client\np4 = cwd-client\np5 = cwd-client\n");
    dirs.cwd_file("luigi.cfg", "[a]\np4 = cwd-luigi\np5 = cwd-luigi\n");
    let extra = dirs.cwd_file("extra.conf", "[a]\np5 = env-path\n");
    let config = dirs.discovery(&[("LUIGI_CONFIG_PATH", extra.to_str().unwrap())]).load().unwrap();
    assert_eq!(config.syntax(), Syntax::Cfg);
    let values: Vec<Option<String>> = (1..=5).map(|n| text(&config, "a", &format!("p{n}"))).collect();
    assert_eq!(
        values,
        ["etc-client", "etc-luigi", "cwd-client", "cwd-luigi", "env-path"].map(|v| Some(v.to_owned())).to_vec()
    );
    assert_eq!(
        config.files(),
        [etc_client, etc_luigi, PathBuf::from("client.cfg"), PathBuf::from("luigi.cfg"), extra].as_slice()
    );
}

#[test]
fn toml_files_are_read_in_luigi_order() {
    let dirs = Dirs::new();
    dirs.etc_file("luigi.toml", "[a]\np1 = 'etc'\np2 = 'etc'\np3 = 'etc'\n");
    dirs.etc_file("luigi.cfg", "[a]\np1 = cfg\n");
    dirs.cwd_file("luigi.toml", "[a]\np2 = 'cwd'\np3 = 'cwd'\n");
    dirs.cwd_file("extra.toml", "[a]\np3 = 'env-path'\n");
    let config =
        dirs.discovery(&[("LUIGI_CONFIG_PARSER", "toml"), ("LUIGI_CONFIG_PATH", "extra.toml")]).load().unwrap();
    assert_eq!(config.syntax(), Syntax::Toml);
    let values: Vec<Option<String>> = (1..=3).map(|n| text(&config, "a", &format!("p{n}"))).collect();
    assert_eq!(values, ["etc", "cwd", "env-path"].map(|v| Some(v.to_owned())).to_vec());
    assert_eq!(config.files().len(), 3);
}

#[test]
fn missing_files_are_skipped_and_no_files_is_fine() {
    let dirs = Dirs::new();
    let config = dirs.discovery(&[]).load().unwrap();
    assert!(config.files().is_empty());
    assert_eq!(config.sections().count(), 0);
    assert_eq!(config.search_path().len(), 4);
    // A directory where a file is expected is skipped too.
    fs::create_dir(dirs.cwd.path().join("luigi.cfg")).unwrap();
    assert!(dirs.discovery(&[]).load().unwrap().files().is_empty());
}

#[test]
fn config_path_with_the_other_extension_is_ignored() {
    let dirs = Dirs::new();
    dirs.cwd_file("luigi.cfg", "[a]\nx = cfg\n");
    dirs.cwd_file("extra.toml", "[a]\nx = 'toml'\n");
    let config = dirs.discovery(&[("LUIGI_CONFIG_PATH", "extra.toml")]).load().unwrap();
    assert_eq!(text(&config, "a", "x").as_deref(), Some("cfg"));
    assert_eq!(config.search_path().len(), 4);

    dirs.cwd_file("luigi.toml", "[a]\nx = 'toml'\n");
    dirs.cwd_file("extra.cfg", "[a]\nx = extra-cfg\n");
    let config = dirs.discovery(&[("LUIGI_CONFIG_PARSER", "toml"), ("LUIGI_CONFIG_PATH", "extra.cfg")]).load().unwrap();
    assert_eq!(text(&config, "a", "x").as_deref(), Some("toml"));
    assert_eq!(config.search_path().len(), 2);
}

#[test]
fn invalid_parser_falls_back_to_cfg() {
    let dirs = Dirs::new();
    dirs.cwd_file("luigi.cfg", "[a]\nx = cfg\n");
    dirs.cwd_file("luigi.toml", "[a]\nx = 'toml'\n");
    let config = dirs.discovery(&[("LUIGI_CONFIG_PARSER", "yaml")]).load().unwrap();
    assert_eq!(config.syntax(), Syntax::Cfg);
    assert_eq!(text(&config, "a", "x").as_deref(), Some("cfg"));
}

#[test]
fn missing_config_path_is_warned_about_not_fatal() {
    let dirs = Dirs::new();
    dirs.cwd_file("luigi.cfg", "[a]\nx = cfg\n");
    let config = dirs.discovery(&[("LUIGI_CONFIG_PATH", "/no/such/file.cfg")]).load().unwrap();
    assert_eq!(text(&config, "a", "x").as_deref(), Some("cfg"));
    assert_eq!(config.search_path().len(), 4);
}

#[test]
fn load_errors_name_the_file() {
    let dirs = Dirs::new();
    dirs.cwd_file("luigi.cfg", "[a]\nx = 1\n[a]\n");
    let err = dirs.discovery(&[]).load().unwrap_err();
    assert_eq!(err, Error::DuplicateSection { path: dirs.cwd.path().join("luigi.cfg"), line: 3, section: "a".into() });

    dirs.cwd_file("luigi.toml", "[a]\nx = = 1\n");
    let err = dirs.discovery(&[("LUIGI_CONFIG_PARSER", "toml")]).load().unwrap_err();
    assert!(matches!(&err, Error::Toml { path, .. } if path.ends_with("luigi.toml")), "{err}");

    fs::write(dirs.cwd.path().join("luigi.cfg"), b"[a]\nx = \xff\n").unwrap();
    let err = dirs.discovery(&[]).load().unwrap_err();
    assert!(matches!(&err, Error::Io { path, .. } if path.ends_with("luigi.cfg")), "{err}");
}

#[test]
fn add_config_path_rereads_everything() {
    let dirs = Dirs::new();
    let base = dirs.cwd_file("luigi.cfg", "[a]\nx = 1\ny = 1\n");
    let mut config = dirs.discovery(&[]).load().unwrap();
    config.set("a", "from_set", "kept").unwrap();
    config.set("a", "y", "set").unwrap();

    // Changed on disk after loading: only visible once everything is read again.
    fs::write(&base, "[a]\nx = 2\n").unwrap();
    let extra = dirs.cwd_file("more.ini", "[b]\nz = 3\n");
    assert!(config.add_config_path(&extra).unwrap());
    assert_eq!(text(&config, "a", "x").as_deref(), Some("2"));
    assert_eq!(text(&config, "b", "z").as_deref(), Some("3"));
    // cfg files are read on top of the current values, as Luigi's ConfigParser does.
    assert_eq!(text(&config, "a", "from_set").as_deref(), Some("kept"));
    assert_eq!(text(&config, "a", "y").as_deref(), Some("set"));
    assert_eq!(config.search_path().last(), Some(&extra));

    let other = dirs.cwd_file("other.toml", "[b]\nz = 4\n");
    assert!(!config.add_config_path(&other).unwrap());
    assert!(!config.add_config_path(dirs.cwd.path().join("missing.cfg")).unwrap());
    assert_eq!(text(&config, "b", "z").as_deref(), Some("3"));

    // A file in this syntax without a known extension is read with it.
    let plain = dirs.cwd_file("settings", "[b]\nz = 5\n");
    assert!(config.add_config_path(&plain).unwrap());
    assert_eq!(text(&config, "b", "z").as_deref(), Some("5"));

    // A broken file is rejected and leaves the configuration as it was.
    let broken = dirs.cwd_file("broken.cfg", "[b]\nz = 6\nnonsense\n");
    assert!(matches!(config.add_config_path(&broken), Err(Error::Parse { .. })));
    assert_eq!(text(&config, "b", "z").as_deref(), Some("5"));
    assert_eq!(config.search_path().last(), Some(&plain));
}

#[test]
fn add_config_path_on_toml_starts_from_scratch() {
    let dirs = Dirs::new();
    dirs.cwd_file("luigi.toml", "[a]\nx = 1\n");
    let mut config = dirs.discovery(&[("LUIGI_CONFIG_PARSER", "toml")]).load().unwrap();
    config.set("a", "from_set", "lost").unwrap();
    let extra = dirs.cwd_file("more.toml", "[a]\ny = 2\n");
    assert!(config.add_config_path(&extra).unwrap());
    assert_eq!(config.get_int("a", "x").unwrap(), Some(1));
    assert_eq!(config.get_int("a", "y").unwrap(), Some(2));
    // Luigi's TOML parser rebuilds its data on every reload.
    assert_eq!(config.get("a", "from_set").unwrap(), None);
    assert!(!config.add_config_path(dirs.cwd_file("x.cfg", "[a]\n")).unwrap());
}

#[test]
fn relative_paths_resolve_against_the_given_cwd() {
    let dirs = Dirs::new();
    fs::create_dir(dirs.cwd.path().join("conf")).unwrap();
    dirs.cwd_file("conf/site.cfg", "[a]\nx = site\n");
    let config = dirs.discovery(&[("LUIGI_CONFIG_PATH", "conf/site.cfg")]).load().unwrap();
    assert_eq!(text(&config, "a", "x").as_deref(), Some("site"));
    assert_eq!(config.files(), [PathBuf::from("conf/site.cfg")].as_slice());
    assert_eq!(config.discovery().resolve(Path::new("conf/site.cfg")), dirs.cwd.path().join("conf/site.cfg"));
}

#[test]
fn env_interpolation_uses_the_injected_environment() {
    let dirs = Dirs::new();
    dirs.cwd_file("luigi.cfg", "[scheduler]\nstate_path = ${STATE_DIR}/state.pickle\n");
    let config = dirs.discovery(&[("STATE_DIR", "/var/lib/x")]).load().unwrap();
    assert_eq!(text(&config, "scheduler", "state_path").as_deref(), Some("/var/lib/x/state.pickle"));
    let config = dirs.discovery(&[]).load().unwrap();
    assert!(
        matches!(config.get("scheduler", "state_path"), Err(Error::MissingEnvVar { var, .. }) if var == "STATE_DIR")
    );
}

/// A task whose parameters come from the configuration.
#[derive(Task, Clone, Debug)]
struct ConfiguredTask {
    /// Required: from the constructor or `[ConfiguredTask] greeting`.
    greeting: String,
    /// Defaults to 3.
    #[param(default = 3)]
    count: i64,
    /// Written `dashed-name` in old cfg files.
    #[param(default = "plain")]
    dashed_name: String,
}

impl Task for ConfiguredTask {
    type Requires = ();
    type Output = ();

    fn requires(&self) {}

    fn output(&self) {}
}

fn context(syntax: Syntax, text: &str) -> ParamContext {
    let discovery = Discovery::system().with_env_vars([("GREETING", "from-env")]);
    let mut config = Configuration::empty(syntax, discovery);
    config.read_str(text, Path::new("luigi.conf")).unwrap();
    ParamContext::new(Arc::new(config))
}

#[test]
fn task_parameters_come_from_a_cfg_file() {
    let ctx = context(Syntax::Cfg, "[ConfiguredTask]\ngreeting = ${GREETING}\ncount = 7\ndashed-name = old\n");
    let task = ConfiguredTask::from_args(&ctx, &ParamArgs::new()).unwrap();
    assert_eq!((task.greeting.as_str(), task.count, task.dashed_name.as_str()), ("from-env", 7, "old"));

    // The constructor beats the configuration.
    let args = ParamArgs::new().with("count", "9").with("greeting", "explicit");
    let task = ConfiguredTask::from_args(&ctx, &args).unwrap();
    assert_eq!((task.greeting.as_str(), task.count), ("explicit", 9));

    // The configuration beats the default, and the default applies when it is silent.
    let ctx = context(Syntax::Cfg, "[ConfiguredTask]\ngreeting = hi\n");
    let task = ConfiguredTask::from_args(&ctx, &ParamArgs::new()).unwrap();
    assert_eq!((task.greeting.as_str(), task.count, task.dashed_name.as_str()), ("hi", 3, "plain"));
}

#[test]
fn task_parameters_come_from_a_toml_file() {
    let ctx = context(Syntax::Toml, "[ConfiguredTask]\ngreeting = 'from-toml'\ncount = 8\ndashed-name = 'ignored'\n");
    let task = ConfiguredTask::from_args(&ctx, &ParamArgs::new()).unwrap();
    // TOML has no dash aliasing, so `dashed-name` does not set `dashed_name`.
    assert_eq!((task.greeting.as_str(), task.count, task.dashed_name.as_str()), ("from-toml", 8, "plain"));
    let task = ConfiguredTask::from_args(&ctx, &ParamArgs::new().with("count", "1")).unwrap();
    assert_eq!(task.count, 1);
}

#[test]
fn configuration_problems_surface_as_parameter_errors() {
    let ctx = context(Syntax::Cfg, "[ConfiguredTask]\ngreeting = ${NOT_SET}\n");
    let err = ConfiguredTask::from_args(&ctx, &ParamArgs::new()).unwrap_err();
    assert!(matches!(&err, param::Error::Config { param, .. } if param == "greeting"), "{err}");

    let ctx = context(Syntax::Cfg, "[ConfiguredTask]\ngreeting = hi\ncount = many\n");
    let err = ConfiguredTask::from_args(&ctx, &ParamArgs::new()).unwrap_err();
    assert!(matches!(&err, param::Error::Invalid { param, .. } if param == "count"), "{err}");

    let ctx = context(Syntax::Cfg, "[Other]\ngreeting = hi\n");
    let err = ConfiguredTask::from_args(&ctx, &ParamArgs::new()).unwrap_err();
    assert_eq!(err.to_string(), "ConfiguredTask[args=[], kwargs={}]: requires the 'greeting' parameter to be set");
}

#[test]
fn global_configuration_can_be_installed() {
    let mut config =
        Configuration::empty(Syntax::Cfg, Discovery::system().with_env_vars(Vec::<(String, String)>::new()));
    config.set("core", "marker", "installed").unwrap();
    Configuration::set_global(Arc::new(config));
    assert_eq!(text(&Configuration::global(), "core", "marker").as_deref(), Some("installed"));
    assert_eq!(text(&Configuration::global_or_default(), "core", "marker").as_deref(), Some("installed"));
}
