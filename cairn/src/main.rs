use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod run;
mod validate;

/// Cairn: self-hosted AWS Step Functions.
#[derive(Parser)]
#[command(name = "cairn", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a state machine definition as CreateStateMachine would.
    Validate(validate::Args),
    /// Run one execution of a definition in this process.
    Run(run::Args),
}

fn main() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Validate(args) => validate::main(args),
        Command::Run(args) => run::main(args),
    }
}
