//! A Bitcoin backend plugin for a real lightningd: the five methods
//! lightningd calls on `bcli` (getchaininfo, estimatefees,
//! getrawblockbyheight, getutxout, sendrawtransaction), answered for a
//! regtest chain that holds only its genesis block. With it a real node
//! starts with no bitcoind, which is what cross-checks need.
//!
//! lightningd spawns a plugin by path with no arguments, so
//! [`write_wrapper`] writes a small shell script that execs
//! `cln-harness backend`.

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// The regtest genesis block, as `getrawblockbyheight` returns it.
pub const GENESIS_HEX: &str = include_str!("../fixtures/backend/genesis-regtest.hex");
/// The regtest genesis block's hash.
pub const GENESIS_HASH: &str = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206";
const FEES: &str = include_str!("../fixtures/backend/estimatefees.json");
const FEES_V23_02: &str = include_str!("../fixtures/backend/estimatefees-v23.02.json");

/// The methods lightningd requires of its Bitcoin backend.
pub const METHODS: [&str; 5] = ["getchaininfo", "estimatefees", "getrawblockbyheight", "getutxout", "sendrawtransaction"];

/// Whether `version` (lightningd's `--version`, e.g. `v23.02.2`) reads the
/// `estimatefees` shape of v23.02 and earlier: one field per named feerate.
/// From v23.05 lightningd reads `feerate_floor` and `feerates`.
fn old_fees(version: &str) -> bool {
    let v = version.trim().trim_start_matches('v');
    let mut parts = v.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(|s| s.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    major != 0 && (major, minor) < (23, 5)
}

/// The result lightningd expects for `method`, or `None` for a method the
/// backend does not serve. `version` is lightningd's (from
/// `LIGHTNINGD_VERSION`), which decides the `estimatefees` shape.
pub fn answer(method: &str, params: &Value, version: &str) -> Option<Value> {
    let height = match params {
        Value::Object(m) => m.get("height").and_then(Value::as_u64),
        Value::Array(a) => a.first().and_then(Value::as_u64),
        _ => None,
    };
    Some(match method {
        "getchaininfo" => json!({"chain": "regtest", "headercount": 0, "blockcount": 0, "ibd": false}),
        "estimatefees" => {
            let text = if old_fees(version) { FEES_V23_02 } else { FEES };
            serde_json::from_str(text).expect("fixtures/backend estimatefees files are JSON")
        }
        "getrawblockbyheight" if height == Some(0) => json!({"blockhash": GENESIS_HASH, "block": GENESIS_HEX.trim()}),
        "getrawblockbyheight" => json!({"blockhash": null, "block": null}),
        "getutxout" => json!({"amount": null, "script": null}),
        "sendrawtransaction" => {
            json!({"success": false, "errmsg": "cln-harness backend: this regtest chain holds only its genesis block and accepts no transaction"})
        }
        _ => return None,
    })
}

fn manifest() -> Value {
    let methods: Vec<Value> = METHODS
        .iter()
        .map(|m| json!({"name": m, "usage": "", "description": format!("{m} for a genesis-only regtest chain")}))
        .collect();
    json!({"options": [], "rpcmethods": methods, "dynamic": false})
}

/// Serves lightningd on `input`/`output` until `input` closes. Requests
/// for anything else get a JSON-RPC error; notifications are ignored.
pub fn serve(input: impl Read, output: impl Write, version: &str) -> std::io::Result<()> {
    let mut out = BufWriter::new(output);
    for msg in serde_json::Deserializer::from_reader(input).into_iter::<Value>() {
        // A malformed stream from lightningd cannot be answered: stop, and
        // lightningd sees its backend die.
        let Ok(msg) = msg else { return Ok(()) };
        let Some(id) = msg.get("id").cloned() else { continue };
        let method = msg.get("method").and_then(Value::as_str).unwrap_or("");
        let params = msg.get("params").cloned().unwrap_or(Value::Null);
        let reply = match method {
            "getmanifest" => json!({"jsonrpc": "2.0", "id": id, "result": manifest()}),
            "init" => json!({"jsonrpc": "2.0", "id": id, "result": {}}),
            m => match answer(m, &params, version) {
                Some(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
                None => json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": format!("cln-harness backend does not serve '{m}'")}}),
            },
        };
        serde_json::to_writer(&mut out, &reply)?;
        out.write_all(b"\n\n")?;
        out.flush()?;
    }
    Ok(())
}

/// Writes `<dir>/cln-harness-backend`, an executable script that runs
/// `<exe> backend`, and returns its path: what `--plugin=` is given.
pub fn write_wrapper(dir: &Path, exe: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("cln-harness-backend");
    let quoted = exe.to_string_lossy().replace('\'', r"'\''");
    std::fs::write(&path, format!("#!/bin/sh\nexec '{quoted}' backend\n"))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn genesis_block_is_the_regtest_one() {
        // The hash itself is checked by the real node (tests/differential.rs):
        // here, that the fixture is the 285-byte block with regtest's
        // timestamp, bits and nonce, not mainnet's.
        let block = unhex(GENESIS_HEX.trim());
        assert_eq!(block.len(), 285);
        assert_eq!(&block[68..80], &[0xda, 0xe5, 0x49, 0x4d, 0xff, 0xff, 0x7f, 0x20, 0x02, 0, 0, 0]);
    }

    #[test]
    fn estimatefees_shape_follows_the_release() {
        let old = answer("estimatefees", &Value::Null, "v23.02.2").unwrap();
        for k in ["opening", "mutual_close", "unilateral_close", "delayed_to_us", "htlc_resolution", "penalty", "min_acceptable", "max_acceptable"] {
            assert!(old[k].is_u64(), "{k} in {old}");
        }
        for v in ["v23.05", "v23.11.2", "v26.06.6", "v26.06.6-modded"] {
            let new = answer("estimatefees", &Value::Null, v).unwrap();
            assert!(new["feerate_floor"].is_u64(), "{v}: {new}");
            let blocks: Vec<u64> = new["feerates"].as_array().unwrap().iter().map(|f| f["blocks"].as_u64().unwrap()).collect();
            assert!(blocks.windows(2).all(|w| w[0] < w[1]), "lightningd wants increasing blocks: {blocks:?}");
        }
    }

    #[test]
    fn serves_requests_and_refuses_unknown_methods() {
        let input = concat!(
            r#"{"jsonrpc":"2.0","id":1,"method":"getmanifest","params":{}}"#,
            "\n\n",
            r#"{"jsonrpc":"2.0","id":"x","method":"getrawblockbyheight","params":{"height":0}}"#,
            r#"{"jsonrpc":"2.0","method":"log","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"getrawblockbyheight","params":{"height":1}}"#,
            r#"{"jsonrpc":"2.0","id":4,"method":"nosuch","params":{}}"#
        );
        let mut out = Vec::new();
        serve(input.as_bytes(), &mut out, "v26.06.6").unwrap();
        let replies: Vec<Value> = serde_json::Deserializer::from_slice(&out).into_iter().map(Result::unwrap).collect();
        assert_eq!(replies.len(), 4);
        let names: Vec<&str> = replies[0]["result"]["rpcmethods"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
        assert_eq!(names, METHODS);
        assert_eq!(replies[1]["id"], "x");
        assert_eq!(replies[1]["result"]["blockhash"], GENESIS_HASH);
        assert!(replies[2]["result"]["block"].is_null());
        assert_eq!(replies[3]["error"]["code"], -32601);
    }
}
