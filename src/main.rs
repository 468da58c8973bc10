fn main() {
    std::process::exit(cln_harness_cli::main());
}

#[path = "cli.rs"]
mod cln_harness_cli;
