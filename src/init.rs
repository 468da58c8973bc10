//! The init request as lightningd builds it from the manifest and the
//! user's option values (§6.1), and the judgement of the plugin's answer
//! (§6.2): only `disable` matters to lightningd; the rest is accepted.

use serde_json::{Map, Value};

use crate::checks::{CheckId, Effect};
use crate::jsmn::Doc;
use crate::manifest::{check_option_value, parse_bool, Finding, Manifest};
use crate::profile::Profile;

/// One `-o name[=value]` given by the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionSetting {
    pub name: String,
    pub value: Option<String>,
}

impl OptionSetting {
    /// Parses `name=value` or `name` (a flag).
    pub fn parse(spec: &str) -> OptionSetting {
        match spec.split_once('=') {
            Some((n, v)) => OptionSetting { name: n.to_owned(), value: Some(v.to_owned()) },
            None => OptionSetting { name: spec.to_owned(), value: None },
        }
    }
}

/// What is wrong with a user's option setting, in lightningd's words where
/// it has some.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingError {
    pub spec: String,
    pub message: String,
}

/// Everything lightningd's `configuration` object says.
#[derive(Clone, Debug)]
pub struct Configuration {
    pub lightning_dir: String,
    pub rpc_file: String,
    pub startup: bool,
    pub network: String,
}

/// Builds `params` of the init request as raw JSON text: option values are
/// copied the way lightningd copies them, which is not always valid JSON
/// (an int written `0x10` stays `0x10`, §6.1).
pub fn params(profile: &Profile, manifest: &Manifest, settings: &[OptionSetting], config: &Configuration) -> Result<String, SettingError> {
    let options = options(profile, manifest, settings)?;
    let mut conf = Map::new();
    conf.insert("lightning-dir".into(), config.lightning_dir.clone().into());
    conf.insert("rpc-file".into(), config.rpc_file.clone().into());
    conf.insert("startup".into(), config.startup.into());
    conf.insert("network".into(), config.network.clone().into());
    let mut features = Map::new();
    for (place, hex) in profile.feature_set() {
        // The plugin's own bits are offered too.
        let own = manifest.featurebits.iter().find(|(p, _)| *p == place).map(|(_, h)| h.as_str());
        features.insert(place, merge_hex(&hex, own.unwrap_or("")).into());
    }
    conf.insert("feature_set".into(), Value::Object(features));
    Ok(format!("{{\"options\":{options},\"configuration\":{}}}", Value::Object(conf)))
}

/// `params.options`: every option that is set or has a default, in
/// manifest order (§6.1), as raw JSON text.
fn options(profile: &Profile, manifest: &Manifest, settings: &[OptionSetting]) -> Result<String, SettingError> {
    for s in settings {
        if !manifest.options.iter().any(|o| o.name == s.name) {
            return Err(SettingError {
                spec: spec(s),
                message: format!("the plugin declares no option '{}' (it has: {})", s.name, names(manifest)),
            });
        }
    }
    let mut out = Vec::new();
    for o in &manifest.options {
        let given: Vec<&OptionSetting> = settings.iter().filter(|s| s.name == o.name).collect();
        if o.ty == "flag" {
            if let Some(s) = given.iter().find(|s| s.value.is_some()) {
                return Err(SettingError { spec: spec(s), message: format!("--{}: doesn't allow an argument", o.name) });
            }
            if !given.is_empty() {
                out.push((o.name.clone(), "true".to_owned()));
            }
            continue;
        }
        let mut values = Vec::new();
        for s in &given {
            let Some(v) = &s.value else {
                return Err(SettingError { spec: spec(s), message: format!("--{}: requires an argument", o.name) });
            };
            if let Some(problem) = check_option_value(profile, &o.ty, v, false) {
                // v23.02 parsed command-line values in plugin_opt_set, with
                // words of its own (§5.3).
                let problem = if profile.manifest.legacy_option_rules { format!("{v} does not parse as type {}", o.ty) } else { problem };
                return Err(SettingError { spec: spec(s), message: format!("--{}={v}: {problem}", o.name) });
            }
            values.push(v.clone());
        }
        if values.len() > 1 && !o.multi {
            // A later setting overrides an earlier one, as on lightningd's
            // command line.
            values.drain(..values.len() - 1);
        }
        if values.is_empty() {
            match &o.default {
                Some(d) => values.push(d.clone()),
                None => continue,
            }
        }
        let raw: Vec<String> = values.iter().map(|v| value(profile, &o.ty, v)).collect();
        let v = if o.multi { format!("[{}]", raw.join(",")) } else { raw.into_iter().next().expect("one value") };
        out.push((o.name.clone(), v));
    }
    let members: Vec<String> = out.iter().map(|(k, v)| format!("{}:{v}", Value::from(k.as_str()))).collect();
    Ok(format!("{{{}}}", members.join(",")))
}

fn spec(s: &OptionSetting) -> String {
    match &s.value {
        Some(v) => format!("{}={v}", s.name),
        None => s.name.clone(),
    }
}

fn names(m: &Manifest) -> String {
    if m.options.is_empty() {
        return "no options".to_owned();
    }
    m.options.iter().map(|o| o.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// One option value as lightningd writes it into init, as raw JSON.
fn value(profile: &Profile, ty: &str, v: &str) -> String {
    match ty {
        // Verbatim, even where JSON would not allow it (§6.1).
        "int" if profile.init.int_verbatim => v.to_owned(),
        "int" => crate::jsmn::strtol(v).unwrap_or(0).to_string(),
        "bool" => parse_bool(profile, v).unwrap_or(false).to_string(),
        _ => Value::from(v).to_string(),
    }
}

fn merge_hex(a: &str, b: &str) -> String {
    let decode = |h: &str| -> Vec<u8> { (0..h.len() / 2).filter_map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).ok()).collect() };
    let (a, b) = (decode(a), decode(b));
    let n = a.len().max(b.len());
    let pad = |v: &[u8]| -> Vec<u8> { std::iter::repeat_n(0, n - v.len()).chain(v.iter().copied()).collect() };
    pad(&a).iter().zip(pad(&b)).map(|(x, y)| format!("{:02x}", x | y)).collect()
}

/// What lightningd makes of the init answer (§6.2).
pub enum InitVerdict {
    Accepted,
    /// Accepted, but not the answer the plugin meant to give.
    AcceptedOddly(Finding),
    Disabled(Finding),
}

pub fn judge(doc: &Doc) -> InitVerdict {
    let root = doc.root();
    let result = root.get("result");
    if let Some(d) = result.and_then(|r| r.get("disable")) {
        return InitVerdict::Disabled(Finding {
            check: CheckId::INIT_DISABLE,
            reason: format!("disabled itself at init: {}", d.text()),
            effect: Effect::Disabled,
        });
    }
    match result {
        // `null` is pyln-client's answer when init returns nothing (§12.1).
        Some(r) if r.is_object() || r.is_null() => InitVerdict::Accepted,
        Some(r) => InitVerdict::AcceptedOddly(Finding {
            check: CheckId::INIT_RESULT,
            reason: format!("init answered with a result that is not an object: {}", r.full_text()),
            effect: Effect::Ignored,
        }),
        None => InitVerdict::AcceptedOddly(Finding {
            check: CheckId::INIT_RESULT,
            reason: format!("init answered without a result: {}", root.full_text()),
            effect: Effect::Ignored,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::OptionDecl;

    fn opt(name: &str, ty: &str, default: Option<&str>, multi: bool) -> OptionDecl {
        OptionDecl { name: name.into(), ty: ty.into(), default: default.map(Into::into), multi, dynamic: false, deprecated: false }
    }

    #[test]
    fn options_follow_lightningd() {
        let p = Profile::load("v26.06").unwrap();
        let m = Manifest {
            options: vec![
                opt("greeting", "string", Some("World"), false),
                opt("verbose", "flag", None, false),
                opt("retries", "int", Some("3"), false),
                opt("peer", "string", None, true),
                opt("quiet", "flag", None, false),
                opt("color", "bool", Some("YES"), false),
            ],
            ..Manifest::default()
        };
        let set = [OptionSetting::parse("verbose"), OptionSetting::parse("peer=a"), OptionSetting::parse("peer=b")];
        let v = options(&p, &m, &set).unwrap();
        assert_eq!(v, r#"{"greeting":"World","verbose":true,"retries":3,"peer":["a","b"],"color":true}"#);
        assert!(options(&p, &m, &[OptionSetting::parse("nope=1")]).is_err());
        assert_eq!(options(&p, &m, &[OptionSetting::parse("retries=abc")]).unwrap_err().message, "--retries=abc: 'abc' is not a number");
        // v23.02's plugin_opt_set words it differently.
        let old = Profile::load("v23.02").unwrap();
        assert_eq!(
            options(&old, &m, &[OptionSetting::parse("retries=abc")]).unwrap_err().message,
            "--retries=abc: abc does not parse as type int"
        );
        assert_eq!(
            options(&old, &m, &[OptionSetting::parse("color=YES")]).unwrap_err().message,
            "--color=YES: YES does not parse as type bool"
        );
    }

    #[test]
    fn feature_bits_merge() {
        assert_eq!(merge_hex("0100", "02"), "0102");
        assert_eq!(merge_hex("", ""), "");
    }
}
