// The profiles, notifications, hooks and mock RPC answers are compiled into
// the binary (include_dir); rebuild when any of them changes.
fn main() {
    for dir in ["fixtures/profiles", "fixtures/rpc", "fixtures/notifications", "fixtures/hooks"] {
        println!("cargo:rerun-if-changed={dir}");
    }
}
