//! lightningd's `filter` request member: a template of the result where
//! `true` keeps a member whole, an object keeps only its own members, and a
//! one-element array applies its element to every item of an array.

use serde_json::Value;

/// Cuts `result` down to what `filter` names.
pub(super) fn apply(result: &mut Value, filter: &Value) {
    match (result, filter) {
        (_, Value::Bool(true)) => {}
        (Value::Object(members), Value::Object(keep)) => {
            members.retain(|k, _| keep.contains_key(k));
            for (k, v) in members.iter_mut() {
                if let Some(f) = keep.get(k) {
                    apply(v, f);
                }
            }
        }
        (Value::Array(items), Value::Array(each)) => {
            if let Some(f) = each.first() {
                for item in items.iter_mut() {
                    apply(item, f);
                }
            }
        }
        // A template of the wrong shape: lightningd warns and keeps the
        // value as it is.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn keeps_only_named_members_through_arrays() {
        let mut r = json!({"peers": [{"id": "a", "connected": true}, {"id": "b", "netaddr": []}], "x": 1});
        super::apply(&mut r, &json!({"peers": [{"id": true}]}));
        assert_eq!(r, json!({"peers": [{"id": "a"}, {"id": "b"}]}));
    }
}
