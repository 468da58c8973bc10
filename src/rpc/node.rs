//! The node the plugin is told about, once for `init.configuration` and
//! again in the mock's `listconfigs` and `getinfo`: the same lightning-dir,
//! rpc-file, network, deprecated-API switch, and the plugin's own options
//! with the values its `init` carried, in the release's `listconfigs` shape
//! (lightningd's `configs` entries with their `source`, and the flat
//! `plugins` list of releases before v24.11).

use serde_json::{json, Map, Value};

use crate::init::Configuration;
use crate::manifest::OptionDecl;

/// What the captured answers call the lightning-dir; replaced by the run's.
const CAPTURED_DIR: &str = "/home/user/.lightning";

/// One of the plugin's options as lightningd holds it after start-up.
#[derive(Clone, Debug)]
struct PluginOption {
    decl: OptionDecl,
    /// The value `init.options` carried, if any.
    value: Option<Value>,
    /// Given by the user (lightningd: on the command line), not a default.
    given: bool,
}

/// The run's node, as `init` described it.
#[derive(Clone, Debug)]
pub struct NodeView {
    /// `init.configuration.lightning-dir`: lightningd's network directory.
    pub netdir: String,
    pub rpc_file: String,
    pub network: String,
    pub allow_deprecated: bool,
    /// The plugin as `--plugin=` named it, and its short name.
    pub plugin_path: String,
    pub plugin_name: String,
    options: Vec<PluginOption>,
}

impl NodeView {
    /// The node an `init` request describes: `config` is its
    /// `configuration`, `init_params` its `params` text, `declared` the
    /// manifest's options, `given` the names of the options the user set.
    pub fn from_init(
        config: &Configuration,
        init_params: &str,
        declared: &[OptionDecl],
        given: &[String],
        plugin_path: &str,
        allow_deprecated: bool,
    ) -> NodeView {
        let params: Value = serde_json::from_str(init_params).unwrap_or(Value::Null);
        // An int copied verbatim (`0x10`) makes params invalid JSON (§6.1);
        // lightningd holds the number strtol read.
        let lenient = || crate::jsmn::Doc::parse(init_params.as_bytes());
        let options = declared
            .iter()
            .map(|d| {
                let value = params["options"].get(&d.name).cloned().or_else(|| {
                    let doc = lenient()?;
                    let text = doc.root().get("options")?.get(&d.name)?.text();
                    crate::jsmn::strtol(&text).ok().map(Value::from)
                });
                PluginOption { decl: d.clone(), value, given: given.contains(&d.name) }
            })
            .collect();
        let plugin_name = std::path::Path::new(plugin_path).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        NodeView {
            netdir: config.lightning_dir.clone(),
            rpc_file: config.rpc_file.clone(),
            network: config.network.clone(),
            allow_deprecated,
            plugin_path: plugin_path.to_owned(),
            plugin_name,
            options,
        }
    }

    /// The lightning-dir lightningd was started with: the network directory
    /// is `<lightning-dir>/<network>`.
    pub fn base_dir(&self) -> String {
        match self.netdir.rsplit_once('/') {
            Some(("", _)) => "/".to_owned(),
            Some((base, _)) => base.to_owned(),
            None => self.netdir.clone(),
        }
    }

    /// Makes a `listconfigs` result describe this node.
    pub fn listconfigs(&self, result: &mut Value) {
        let base = self.base_dir();
        rebase(result, &base);
        if let Some(Value::Object(configs)) = result.get_mut("configs") {
            configs.insert("lightning-dir".into(), json!({"value_str": base, "source": "cmdline"}));
            configs.insert("network".into(), json!({"value_str": self.network, "source": "cmdline"}));
            configs.insert("rpc-file".into(), json!({"value_str": self.rpc_file, "source": "default"}));
            configs.insert("allow-deprecated-apis".into(), json!({"value_bool": self.allow_deprecated, "source": "cmdline"}));
            let plugin = configs.entry("plugin").or_insert_with(|| json!({"values_str": [], "sources": []}));
            push(plugin, "values_str", json!(self.plugin_path));
            push(plugin, "sources", json!("cmdline"));
            for o in &self.options {
                if let Some(entry) = self.config_entry(o) {
                    configs.insert(o.decl.name.clone(), entry);
                }
            }
        }
        // The flat members: the only ones before v23.08, beside `configs`
        // until v24.05.
        if let Some(flat) = result.as_object_mut().filter(|m| m.get("lightning-dir").is_some_and(Value::is_string)) {
            flat.insert("lightning-dir".into(), json!(base));
            flat.insert("network".into(), json!(self.network));
            flat.insert("rpc-file".into(), json!(self.rpc_file));
            flat.insert("allow-deprecated-apis".into(), json!(self.allow_deprecated));
            let plugins = flat.entry("plugins").or_insert_with(|| json!([]));
            if let Value::Array(list) = plugins {
                list.push(self.flat_plugin());
            }
        }
    }

    /// Makes a `getinfo` result describe this node.
    pub fn getinfo(&self, result: &mut Value) {
        if let Value::Object(m) = result {
            m.insert("lightning-dir".into(), json!(self.netdir));
            m.insert("network".into(), json!(self.network));
        }
    }

    /// The `configs` entry of one plugin option (lightningd's
    /// `json_add_configval`): none for an unset option without default.
    fn config_entry(&self, o: &PluginOption) -> Option<Value> {
        let source = if o.given { "cmdline" } else { "default" };
        let mut e = Map::new();
        if o.decl.multi {
            let values: Vec<Value> = match &o.value {
                Some(Value::Array(a)) => a.clone(),
                Some(v) => vec![v.clone()],
                None => vec![],
            };
            let key = match o.decl.ty.as_str() {
                "int" => "values_int",
                "bool" => "values_bool",
                _ => "values_str",
            };
            e.insert("sources".into(), Value::Array(values.iter().map(|_| json!(source)).collect()));
            e.insert(key.into(), Value::Array(values));
        } else if o.decl.ty == "flag" {
            e.insert("set".into(), json!(o.value.as_ref().is_some_and(|v| v == &Value::Bool(true))));
            e.insert("source".into(), json!(source));
        } else {
            let v = o.value.clone()?;
            let key = match o.decl.ty.as_str() {
                "int" => "value_int",
                "bool" => "value_bool",
                _ => "value_str",
            };
            e.insert(key.into(), v);
            e.insert("source".into(), json!(source));
        }
        e.insert("plugin".into(), json!(self.plugin_path));
        if o.decl.dynamic {
            e.insert("dynamic".into(), json!(true));
        }
        Some(Value::Object(e))
    }

    /// The plugin's entry in the flat `plugins` list (lightningd's
    /// `json_add_opt_plugins_array`): unset options are `null` while
    /// deprecated APIs are allowed, and absent otherwise.
    fn flat_plugin(&self) -> Value {
        let mut p = json!({"path": self.plugin_path, "name": self.plugin_name});
        if self.options.is_empty() {
            return p;
        }
        let mut opts = Map::new();
        for o in &self.options {
            if o.decl.deprecated && !self.allow_deprecated {
                continue;
            }
            match (&o.value, o.decl.multi) {
                (Some(v), _) => {
                    opts.insert(o.decl.name.clone(), v.clone());
                }
                (None, true) => {
                    opts.insert(o.decl.name.clone(), json!([]));
                }
                (None, false) if self.allow_deprecated => {
                    opts.insert(o.decl.name.clone(), Value::Null);
                }
                (None, false) => {}
            }
        }
        p["options"] = Value::Object(opts);
        p
    }
}

/// `listconfigs` as lightningd answers it for the given `params` and
/// deprecated-API switch: one config when `config` names it (lightningd's
/// error when it names none); the flat members beside `configs` only while
/// deprecated APIs are allowed (v23.11 to v24.05). `Err` is the error.
pub fn listconfigs_params(result: &mut Value, params: &Value, allow_deprecated: bool, hides_token: bool) -> Result<(), Value> {
    let config = match params {
        Value::Object(m) => m.get("config"),
        Value::Array(a) => a.first(),
        _ => None,
    }
    .filter(|v| !v.is_null());
    let Value::Object(members) = result else { return Ok(()) };
    let modern = members.contains_key("configs");
    if modern && !allow_deprecated {
        members.retain(|k, _| k == "configs");
    }
    let Some(config) = config else { return Ok(()) };
    let name = config.as_str().map(str::to_owned).unwrap_or_else(|| config.to_string());
    if modern {
        let known = members.get("configs").and_then(|c| c.get(&name)).is_some();
        if !known {
            let message = if hides_token {
                "config: Unknown config option: invalid token (see logs for details)".to_owned()
            } else {
                format!("config: Unknown config option: invalid token '{}'", config.as_str().unwrap_or(&name))
            };
            return Err(json!({"code": -32602, "message": message}));
        }
        if let Some(Value::Object(c)) = members.get_mut("configs") {
            c.retain(|k, _| *k == name);
        }
        members.retain(|k, _| k == "configs" || *k == name);
    } else {
        if !members.contains_key(&name) || name.starts_with('#') {
            return Err(json!({"code": -32602, "message": format!("Unknown config option {name}")}));
        }
        members.retain(|k, _| *k == name);
    }
    Ok(())
}

fn push(entry: &mut Value, key: &str, v: Value) {
    match entry.get_mut(key) {
        Some(Value::Array(a)) => a.push(v),
        _ => entry[key] = json!([v]),
    }
}

/// Paths under the captured lightning-dir, moved under the run's.
fn rebase(v: &mut Value, base: &str) {
    match v {
        Value::String(s) if s.starts_with(CAPTURED_DIR) => *s = format!("{base}{}", &s[CAPTURED_DIR.len()..]),
        Value::Array(a) => a.iter_mut().for_each(|x| rebase(x, base)),
        Value::Object(m) => m.values_mut().for_each(|x| rebase(x, base)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(name: &str, ty: &str, default: Option<&str>, multi: bool, dynamic: bool) -> OptionDecl {
        OptionDecl { name: name.into(), ty: ty.into(), default: default.map(Into::into), multi, dynamic, deprecated: false }
    }

    fn view() -> NodeView {
        let params = r#"{"options":{"opts-greeting":"hi","opts-count":3,"opts-verbose":true,"opts-peer":["a","b"],"opts-dyn":"x"},
            "configuration":{"lightning-dir":"/tmp/h/regtest","rpc-file":"lightning-rpc","startup":true,"network":"regtest"}}"#;
        let declared = [
            decl("opts-greeting", "string", Some("World"), false, false),
            decl("opts-count", "int", Some("3"), false, false),
            decl("opts-verbose", "flag", None, false, false),
            decl("opts-quiet", "flag", None, false, false),
            decl("opts-peer", "string", None, true, false),
            decl("opts-unset", "string", None, false, false),
            decl("opts-dyn", "string", Some("x"), false, true),
        ];
        let given = ["opts-greeting".to_owned(), "opts-verbose".to_owned(), "opts-peer".to_owned()];
        NodeView::from_init(&v_config(), params, &declared, &given, "/p/opts.py", true)
    }

    fn v_config() -> Configuration {
        Configuration { lightning_dir: "/tmp/h/regtest".into(), rpc_file: "lightning-rpc".into(), startup: true, network: "regtest".into() }
    }

    /// The shapes lightningd v26.06.6 and v23.02.2 answered for a plugin
    /// started with `--opts-greeting=hi --opts-peer=a --opts-peer=b --opts-verbose`.
    #[test]
    fn plugin_options_appear_as_lightningd_lists_them() {
        let v = view();
        let mut new = json!({"configs": {"lightning-dir": {"value_str": "/home/user/.lightning", "source": "cmdline"},
            "pid-file": {"value_str": "/home/user/.lightning/lightningd-regtest.pid", "source": "default"},
            "plugin": {"values_str": [], "sources": []}}});
        v.listconfigs(&mut new);
        let c = &new["configs"];
        assert_eq!(c["lightning-dir"]["value_str"], "/tmp/h");
        assert_eq!(c["pid-file"]["value_str"], "/tmp/h/lightningd-regtest.pid");
        assert_eq!(c["plugin"], json!({"values_str": ["/p/opts.py"], "sources": ["cmdline"]}));
        assert_eq!(c["opts-greeting"], json!({"value_str": "hi", "source": "cmdline", "plugin": "/p/opts.py"}));
        assert_eq!(c["opts-count"], json!({"value_int": 3, "source": "default", "plugin": "/p/opts.py"}));
        assert_eq!(c["opts-verbose"], json!({"set": true, "source": "cmdline", "plugin": "/p/opts.py"}));
        assert_eq!(c["opts-quiet"], json!({"set": false, "source": "default", "plugin": "/p/opts.py"}));
        assert_eq!(c["opts-peer"], json!({"values_str": ["a", "b"], "sources": ["cmdline", "cmdline"], "plugin": "/p/opts.py"}));
        assert!(c.get("opts-unset").is_none());
        assert_eq!(c["opts-dyn"], json!({"value_str": "x", "source": "default", "plugin": "/p/opts.py", "dynamic": true}));

        // An int copied verbatim makes init invalid JSON; the value shown
        // is the number lightningd read.
        let bad = r#"{"options":{"opts-count":0x10},"configuration":{}}"#;
        let hex = NodeView::from_init(&v_config(), bad, &[decl("opts-count", "int", None, false, false)], &[], "/p/opts.py", true);
        let mut c = json!({"configs": {}});
        hex.listconfigs(&mut c);
        assert_eq!(c["configs"]["opts-count"]["value_int"], 16);
        assert_eq!(c["configs"]["lightning-dir"]["value_str"], "/tmp/h");

        let mut old = json!({"lightning-dir": "/home/user/.lightning", "network": "regtest", "plugins": []});
        v.listconfigs(&mut old);
        assert_eq!(old["lightning-dir"], "/tmp/h");
        let mut one = old.clone();
        listconfigs_params(&mut one, &json!({"config": "network"}), true, false).unwrap();
        assert_eq!(one, json!({"network": "regtest"}));
        let e = listconfigs_params(&mut old.clone(), &json!(["nope"]), true, false).unwrap_err();
        assert_eq!(e["message"], "Unknown config option nope");
        let mut both =
            json!({"# version": "v24.05", "fee-base": 1, "configs": {"fee-base": {"value_int": 1, "source": "default"}, "alias": {}}});
        listconfigs_params(&mut both, &json!({}), false, false).unwrap();
        assert_eq!(both.as_object().unwrap().keys().collect::<Vec<_>>(), ["configs"]);
        listconfigs_params(&mut both, &json!({"config": "fee-base"}), false, false).unwrap();
        assert_eq!(both, json!({"configs": {"fee-base": {"value_int": 1, "source": "default"}}}));
        let e = listconfigs_params(&mut both, &json!({"config": "nope"}), true, true).unwrap_err();
        assert_eq!(e["message"], "config: Unknown config option: invalid token (see logs for details)");
        assert_eq!(
            old["plugins"][0],
            json!({"path": "/p/opts.py", "name": "opts.py", "options": {"opts-greeting": "hi", "opts-count": 3, "opts-verbose": true,
                "opts-quiet": null, "opts-peer": ["a", "b"], "opts-unset": null, "opts-dyn": "x"}})
        );
    }
}
