//! Writes `fixtures/rpc/<profile>/commands.json` from Core Lightning's JSON
//! schemas at a release tag: each command's parameters (name, types,
//! required, deprecation), its response schema with CLN's own types mapped
//! to JSON Schema's, and an answer — the schema's first example, else one
//! built from the response schema's required members.
//!
//! Usage: `cargo run --example rpc-fixtures -- REPO NAME=TAG...`, where REPO is
//! a git clone of Core Lightning (no work tree needed), e.g.
//! `cargo run --example rpc-fixtures -- ~/lightning.git v26.06=v26.06.6`.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Map, Value};

fn git(repo: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git").arg("-C").arg(repo).args(args).output().map_err(|e| format!("git: {e}"))?;
    if !out.status.success() {
        return Err(format!("git {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// CLN's schema types as JSON Schema types.
fn std_type(t: &str) -> Value {
    match t {
        "u64" | "u32" | "u16" | "u8" | "integer" | "sat" => json!("integer"),
        "number" | "feerate" => json!("number"),
        // Amounts were "123msat" strings in early releases, integers later.
        "msat" | "msat_or_any" | "sat_or_all" | "msat_or_all" => json!(["integer", "string"]),
        "boolean" | "array" | "object" | "string" | "null" => json!(t),
        _ => json!("string"),
    }
}

/// The response schema without prose, with standard types.
fn clean(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                match k.as_str() {
                    "description" | "added" | "deprecated" | "$schema" | "default" | "format" | "pattern" => {}
                    // Minimum lengths and sizes are CLN's own checks of
                    // real data; examples and built answers keep to types.
                    "type" => {
                        let t = match x {
                            Value::String(s) => std_type(s),
                            Value::Array(a) => {
                                let mut all = Vec::new();
                                for t in a.iter().filter_map(Value::as_str) {
                                    match std_type(t) {
                                        Value::Array(many) => all.extend(many),
                                        one => all.push(one),
                                    }
                                }
                                Value::Array(all)
                            }
                            other => other.clone(),
                        };
                        out.insert(k.clone(), t);
                    }
                    "properties" => {
                        let props: Map<String, Value> =
                            x.as_object().map(|p| p.iter().map(|(n, s)| (n.clone(), clean(s))).collect()).unwrap_or_default();
                        out.insert(k.clone(), Value::Object(props));
                    }
                    _ => {
                        out.insert(k.clone(), clean(x));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(clean).collect()),
        other => other.clone(),
    }
}

/// The types a request parameter accepts, as the schema names them.
fn param_types(s: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match s.get("type") {
        Some(Value::String(t)) => out.push(t.clone()),
        Some(Value::Array(a)) => out.extend(a.iter().filter_map(Value::as_str).map(str::to_owned)),
        _ => {}
    }
    for k in ["oneOf", "anyOf"] {
        for alt in s.get(k).and_then(Value::as_array).into_iter().flatten() {
            out.extend(param_types(alt));
        }
    }
    out.dedup();
    out
}

/// A deprecation as `[deprecated in, removed in]`: some releases' schemas
/// give only the release that deprecated it, as a string.
fn deprecation(d: &Value) -> Value {
    match d {
        Value::String(_) => json!([d]),
        _ => d.clone(),
    }
}

fn params(request: &Value) -> Vec<Value> {
    let required: Vec<&str> = request.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let mut out = Vec::new();
    for (name, s) in request.get("properties").and_then(Value::as_object).into_iter().flatten() {
        let mut p = json!({"name": name, "types": param_types(s), "required": required.contains(&name.as_str())});
        if let Some(d) = s.get("deprecated") {
            p["deprecated"] = deprecation(d);
        }
        out.push(p);
    }
    out
}

/// A value of the schema's shape: required members only, first enum
/// value, first alternative.
fn build(s: &Value) -> Value {
    if let Some(e) = s.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return e.clone();
    }
    if let Some(alt) = s.get("oneOf").or(s.get("anyOf")).and_then(Value::as_array).and_then(|a| a.first()) {
        return build(alt);
    }
    let t = match s.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(a)) => a.first().and_then(Value::as_str).unwrap_or("null").to_owned(),
        _ if s.get("properties").is_some() => "object".to_owned(),
        _ => "null".to_owned(),
    };
    match t.as_str() {
        "object" => {
            let mut m = Map::new();
            let props = s.get("properties").and_then(Value::as_object);
            for r in s.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
                let v = props.and_then(|p| p.get(r)).map(build).unwrap_or(Value::Null);
                m.insert(r.to_owned(), v);
            }
            let mut v = Value::Object(m);
            fit(&mut v, s);
            v
        }
        "array" => json!([]),
        "string" => {
            let n = s.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
            Value::String("0".repeat(n))
        }
        "integer" | "number" => json!(0),
        "boolean" => json!(false),
        _ => Value::Null,
    }
}

/// The `then` (or `else`) schemas of an object schema's `allOf` / `if`
/// conditions that hold for `v`: CLN adds required members per status so.
fn conditions<'a>(s: &'a Value, v: &Map<String, Value>) -> Vec<&'a Value> {
    let holds = |cond: &Value| {
        let props_hold = cond.get("properties").and_then(Value::as_object).is_none_or(|p| {
            p.iter().all(|(k, c)| match (v.get(k), c.get("enum").and_then(Value::as_array)) {
                (Some(x), Some(e)) => e.contains(x),
                (x, None) => x.is_some(),
                (None, Some(_)) => false,
            })
        });
        let req_hold =
            cond.get("required").and_then(Value::as_array).is_none_or(|r| r.iter().filter_map(Value::as_str).all(|k| v.contains_key(k)));
        props_hold && req_hold
    };
    let mut out = Vec::new();
    let mut branches: Vec<&Value> = s.get("allOf").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default();
    branches.push(s);
    for b in branches {
        if let Some(cond) = b.get("if") {
            match (holds(cond), b.get("then"), b.get("else")) {
                (true, Some(t), _) => out.push(t),
                (false, _, Some(e)) => out.push(e),
                _ => {}
            }
        }
    }
    out
}

/// Where a condition's `else` forbids members the schema requires anyway
/// (v24.05's `openchannel_update` requires `channel_id` yet allows only
/// `commitments_secured` unless that is true), the answer takes the
/// values that make the condition hold, as the schema's examples do.
fn satisfy_conditions(s: &Value, v: &mut Map<String, Value>) {
    let required: Vec<&str> = s.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    for b in s.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        let (Some(cond), Some(e)) = (b.get("if"), b.get("else")) else { continue };
        let allowed = e.get("properties").and_then(Value::as_object);
        let conflicts = e.get("additionalProperties") == Some(&Value::Bool(false))
            && required.iter().any(|r| allowed.is_none_or(|a| !a.contains_key(*r)));
        if !conflicts {
            continue;
        }
        for (k, c) in cond.get("properties").and_then(Value::as_object).into_iter().flatten() {
            if let Some(first) = c.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
                v.insert(k.clone(), first.clone());
            }
        }
    }
}

fn shape_ok(s: &Value, v: &Value) -> bool {
    let ok = |t: &str| match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => true,
    };
    match s.get("type") {
        Some(Value::String(t)) => ok(t),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).any(ok),
        _ => true,
    }
}

/// Makes `v` fit schema `s` (already cleaned): wrong shapes rebuilt,
/// missing required members (conditional ones too) built, members the
/// schema forbids dropped. Examples in CLN's schemas are sometimes older
/// than the schema; answers must fit the schema.
fn fit(v: &mut Value, s: &Value) {
    if !shape_ok(s, v) {
        *v = build(s);
        return;
    }
    match v {
        Value::Object(m) => {
            satisfy_conditions(s, m);
            let mut extra: Vec<&Value> = conditions(s, m);
            extra.insert(0, s);
            let mut props = Map::new();
            let mut required: Vec<String> = Vec::new();
            for e in &extra {
                for (k, p) in e.get("properties").and_then(Value::as_object).into_iter().flatten() {
                    // A conditional `{}` only allows the member: keep the
                    // top-level schema's type.
                    if !props.contains_key(k) || p.as_object().is_some_and(|o| !o.is_empty()) {
                        props.insert(k.clone(), p.clone());
                    }
                }
                required
                    .extend(e.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_owned));
            }
            if extra.iter().any(|e| e.get("additionalProperties") == Some(&Value::Bool(false))) {
                m.retain(|k, _| props.contains_key(k));
            }
            for r in required {
                if !m.contains_key(&r) {
                    m.insert(r.clone(), props.get(&r).map(build).unwrap_or(Value::Null));
                }
            }
            for (k, x) in m.iter_mut() {
                if let Some(p) = props.get(k) {
                    fit(x, p);
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = s.get("items") {
                for x in a.iter_mut() {
                    fit(x, items);
                }
            }
        }
        _ => {}
    }
}

fn release(repo: &str, tag: &str) -> Result<Value, String> {
    let files = git(repo, &["ls-tree", "--name-only", tag, "doc/schemas/"])?;
    let mut commands = Map::new();
    for f in files.lines().filter(|f| f.ends_with(".json")) {
        let base = f.trim_start_matches("doc/schemas/");
        let (name, request, response, example) = if let Some(name) = base.strip_suffix(".request.json") {
            let req: Value = serde_json::from_str(&git(repo, &["show", &format!("{tag}:{f}")])?).map_err(|e| format!("{f}: {e}"))?;
            let resp = git(repo, &["show", &format!("{tag}:doc/schemas/{name}.schema.json")])
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .unwrap_or(json!({}));
            (name.to_owned(), req, resp, None)
        } else if base.ends_with(".schema.json") || base.contains('.') && base.matches('.').count() > 1 {
            continue;
        } else {
            let name = base.trim_end_matches(".json");
            let all: Value = serde_json::from_str(&git(repo, &["show", &format!("{tag}:{f}")])?).map_err(|e| format!("{f}: {e}"))?;
            let Some(req) = all.get("request").cloned() else { continue };
            let example = all.pointer("/examples/0/response").cloned();
            let mut resp = all.get("response").cloned().unwrap_or(json!({}));
            if resp.get("type").is_none() {
                resp["type"] = json!("object");
            }
            let mut req = req;
            if let Some(d) = all.get("deprecated") {
                req["deprecated"] = deprecation(d);
            }
            (all.get("rpc").and_then(Value::as_str).unwrap_or(name).to_owned(), req, resp, example)
        };
        let response = clean(&response);
        let mut answer = example.unwrap_or_else(|| build(&response));
        fit(&mut answer, &response);
        let mut entry = json!({"params": params(&request), "response": response, "answer": answer});
        if let Some(d) = request.get("deprecated") {
            entry["deprecated"] = deprecation(d);
        }
        commands.insert(name, entry);
    }
    // Since v24.11 a bad parameter's token is logged, not echoed.
    let hides = git(repo, &["show", &format!("{tag}:common/json_command.c")]).map(|t| t.contains("see logs for details")).unwrap_or(false);
    Ok(json!({"tag": tag, "badparam_hides_token": hides, "commands": commands}))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((repo, releases)) = args.split_first().filter(|(_, r)| !r.is_empty()) else {
        eprintln!("usage: rpc-fixtures REPO NAME=TAG...   (e.g. rpc-fixtures ~/lightning.git v26.06=v26.06.6)");
        std::process::exit(2);
    };
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rpc");
    for r in releases {
        let Some((name, tag)) = r.split_once('=') else {
            eprintln!("rpc-fixtures: '{r}' is not NAME=TAG");
            std::process::exit(2);
        };
        match release(repo, tag) {
            Ok(v) => {
                let dir = out_dir.join(name);
                let text = serde_json::to_string(&v).unwrap_or_default();
                if let Err(e) = std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(dir.join("commands.json"), text + "\n")) {
                    eprintln!("rpc-fixtures: {}: {e}", dir.display());
                    std::process::exit(1);
                }
                eprintln!("{name}: {} commands from {tag}", v["commands"].as_object().map(Map::len).unwrap_or(0));
                // The hand-written answers beside it are made to fit too.
                for (cmd, c) in v["commands"].as_object().into_iter().flatten() {
                    let file = dir.join(format!("{cmd}.json"));
                    let Some(mut canned) = std::fs::read_to_string(&file).ok().and_then(|t| serde_json::from_str::<Value>(&t).ok()) else {
                        continue;
                    };
                    let before = canned.clone();
                    fit(&mut canned, &c["response"]);
                    if canned != before {
                        let text = serde_json::to_string_pretty(&canned).unwrap_or_default();
                        if let Err(e) = std::fs::write(&file, text + "\n") {
                            eprintln!("rpc-fixtures: {}: {e}", file.display());
                            std::process::exit(1);
                        }
                        eprintln!("{name}: {cmd}.json made to fit its schema");
                    }
                }
            }
            Err(e) => {
                eprintln!("rpc-fixtures: {tag}: {e}");
                std::process::exit(1);
            }
        }
    }
}
