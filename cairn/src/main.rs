use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod auth;
mod console;
mod limits;
mod observers;
mod run;
mod serve;
mod test;
mod validate;

// Executions allocate and free many small JSON values per state; mimalloc roughly halves
// that cost compared with the system allocator (measured on the Map benchmark).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Serve the Step Functions API (AWS JSON 1.0) on an embedded durable store.
    Serve(serve::Args),
    /// Run test suites of state machines (mocked Task states, assertions, coverage).
    Test(test::Args),
    /// Serve the web console locally for a Cairn elsewhere (a deployed serverless one),
    /// forwarding its API calls signed with your AWS credentials.
    Console(console::Args),
}

fn main() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Validate(args) => validate::main(args),
        Command::Run(args) => run::main(args),
        Command::Serve(args) => serve::main(args),
        Command::Test(args) => test::main(args),
        Command::Console(args) => console::main(args),
    }
}

/// The task invoker both commands share: AWS services reached as the AWS SDKs are
/// configured (`--region`, then the environment).
fn integrations(region: &str) -> anyhow::Result<cairn_integrations::Integrations> {
    let settings = cairn_integrations::Settings {
        region: Some(region.to_owned()),
        ..cairn_integrations::Settings::from_env()
    };
    Ok(cairn_integrations::Integrations::new(
        settings,
        std::sync::Arc::new(cairn_runtime::Unsupported),
    )?)
}
