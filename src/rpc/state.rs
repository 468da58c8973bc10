//! The node state a plugin can change through the mock RPC and read back
//! within one run: the datastore, kept as lightningd keeps it (keys are
//! string paths, values bytes with a generation counter), with
//! lightningd's error codes and words from `lightningd/datastore.c`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

#[derive(Default)]
pub(super) struct Datastore {
    entries: BTreeMap<Vec<String>, (Vec<u8>, u64)>,
}

fn key_of(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) => a.iter().map(|x| x.as_str().map(str::to_owned)).collect(),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

fn entry(key: &[String], data: Option<(&[u8], u64)>) -> Value {
    let mut m = Map::new();
    m.insert("key".into(), json!(key));
    if let Some((d, g)) = data {
        m.insert("generation".into(), json!(g));
        m.insert("hex".into(), json!(hex(d)));
        if let Ok(s) = std::str::from_utf8(d) {
            m.insert("string".into(), json!(s));
        }
    }
    Value::Object(m)
}

fn fail(code: i64, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

/// Named params, or positional ones named in the command's order.
fn named(params: &Value, order: &[&str]) -> Map<String, Value> {
    match params {
        Value::Object(m) => m.clone(),
        Value::Array(a) => order.iter().zip(a).filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.to_string(), v.clone())).collect(),
        _ => Map::new(),
    }
}

impl Datastore {
    /// The datastore a fresh node holds: the leaf entries of a
    /// `listdatastore` answer (the built-in plugins' own keys).
    pub(super) fn seeded(listing: Option<&Value>) -> Datastore {
        let mut d = Datastore::default();
        for e in listing.and_then(|l| l.get("datastore")).and_then(Value::as_array).into_iter().flatten() {
            let (Some(key), Some(bytes)) = (key_of(e.get("key")), e.get("hex").and_then(Value::as_str).and_then(unhex)) else { continue };
            let generation = e.get("generation").and_then(Value::as_u64).unwrap_or(0);
            d.entries.insert(key, (bytes, generation));
        }
        d
    }

    /// The `{"result"|"error": …}` body for a datastore command, or `None`
    /// for any other command.
    pub(super) fn answer(&mut self, method: &str, params: &Value) -> Option<Value> {
        Some(match method {
            "datastore" => {
                let p = named(params, &["key", "string", "hex", "mode", "generation"]);
                let key = key_of(p.get("key"))?;
                let data = match (p.get("string").and_then(Value::as_str), p.get("hex").and_then(Value::as_str)) {
                    (Some(_), Some(_)) => return Some(fail(-32602, "Cannot have both hex and string")),
                    (Some(s), None) => s.as_bytes().to_vec(),
                    (None, Some(h)) => unhex(h)?,
                    (None, None) => return Some(fail(-32602, "Must have either hex or string")),
                };
                let mode = p.get("mode").and_then(Value::as_str).unwrap_or("must-create");
                let must_exist = matches!(mode, "must-replace" | "must-append");
                let generation = p.get("generation").and_then(|g| g.as_u64().or_else(|| g.as_str()?.parse().ok()));
                if generation.is_some() && !must_exist {
                    return Some(fail(-32602, "generation only valid with must-replace or must-append"));
                }
                let prev = self.entries.get(&key).cloned();
                if prev.is_none() {
                    if self.entries.keys().any(|k| k.len() > key.len() && k.starts_with(&key)) {
                        return Some(fail(1205, "Key has children already"));
                    }
                    for i in 1..key.len() {
                        if self.entries.contains_key(&key[..i]) {
                            return Some(fail(1206, &format!("Parent key [{}] exists", key[..i].join(","))));
                        }
                    }
                }
                match (&prev, mode) {
                    (Some(_), "must-create") => return Some(fail(1202, "Key already exists")),
                    (None, "must-replace" | "must-append") => return Some(fail(1203, "Key does not exist")),
                    _ => {}
                }
                if let (Some(g), Some((_, actual))) = (generation, &prev) {
                    if g != *actual {
                        return Some(fail(1204, "generation is different"));
                    }
                }
                let (data, generation) = match prev {
                    Some((mut old, g)) if mode.ends_with("append") => {
                        old.extend_from_slice(&data);
                        (old, g + 1)
                    }
                    Some((_, g)) => (data, g + 1),
                    None => (data, 0),
                };
                let out = entry(&key, Some((&data, generation)));
                self.entries.insert(key, (data, generation));
                json!({ "result": out })
            }
            "deldatastore" => {
                let p = named(params, &["key", "generation"]);
                let key = key_of(p.get("key"))?;
                let Some((data, actual)) = self.entries.get(&key).cloned() else {
                    return Some(fail(1200, "Key does not exist"));
                };
                if p.get("generation").and_then(Value::as_u64).is_some_and(|g| g != actual) {
                    return Some(fail(1201, "generation is different"));
                }
                self.entries.remove(&key);
                json!({ "result": entry(&key, Some((&data, actual))) })
            }
            "listdatastore" => {
                let p = named(params, &["key"]);
                let key = key_of(p.get("key")).unwrap_or_default();
                let mut out = Vec::new();
                let mut summarised: Option<Vec<String>> = None;
                for (k, (d, g)) in self.entries.range(key.clone()..).take_while(|(k, _)| k.starts_with(&key)) {
                    if k.len() > key.len() + 1 {
                        // Deeper keys show as one summary entry per child.
                        let child = k[..key.len() + 1].to_vec();
                        if summarised.as_ref() != Some(&child) {
                            out.push(entry(&child, None));
                            summarised = Some(child);
                        }
                    } else {
                        out.push(entry(k, Some((d, *g))));
                    }
                }
                json!({ "result": {"datastore": out} })
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_written_is_listed_back_and_modes_hold() {
        let mut ds = Datastore::default();
        let r = ds.answer("datastore", &json!({"key": ["p", "a"], "string": "hi"})).unwrap();
        assert_eq!(r["result"], json!({"key": ["p", "a"], "generation": 0, "hex": "6869", "string": "hi"}));
        assert_eq!(ds.answer("datastore", &json!(["p", "hi"])).unwrap()["error"]["code"], 1205);
        assert_eq!(ds.answer("datastore", &json!({"key": ["p", "a"], "string": "x"})).unwrap()["error"]["code"], 1202);
        let r = ds.answer("datastore", &json!({"key": ["p", "a"], "string": "!", "mode": "must-append"})).unwrap();
        assert_eq!(r["result"]["string"], "hi!");
        assert_eq!(r["result"]["generation"], 1);
        let all = ds.answer("listdatastore", &json!({})).unwrap();
        assert_eq!(all["result"]["datastore"], json!([{"key": ["p"]}]));
        let mine = ds.answer("listdatastore", &json!({"key": "p"})).unwrap();
        assert_eq!(mine["result"]["datastore"][0]["string"], "hi!");
        assert_eq!(ds.answer("deldatastore", &json!({"key": ["p", "a"]})).unwrap()["result"]["generation"], 1);
        assert_eq!(ds.answer("deldatastore", &json!({"key": ["p", "a"]})).unwrap()["error"]["code"], 1200);
    }

    #[test]
    fn a_fresh_node_s_entries_are_listed_as_lightningd_lists_them() {
        let listing = json!({"datastore": [
            {"key": ["askrene", "layers", "xpay"], "generation": 0, "hex": "", "string": ""},
            {"key": ["bookkeeper", "account", "wallet"], "generation": 2, "hex": "77"}
        ]});
        let mut ds = Datastore::seeded(Some(&listing));
        let top = ds.answer("listdatastore", &json!({})).unwrap();
        assert_eq!(top["result"]["datastore"], json!([{"key": ["askrene"]}, {"key": ["bookkeeper"]}]));
        let leaf = ds.answer("listdatastore", &json!({"key": ["bookkeeper", "account", "wallet"]})).unwrap();
        assert_eq!(leaf["result"]["datastore"][0]["generation"], 2);
        assert_eq!(leaf["result"]["datastore"][0]["string"], "w");
    }
}
