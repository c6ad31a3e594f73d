use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    madoguchi::cli::run(madoguchi::cli::Cli::parse())
}
