use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The definition file (JSON).
    pub file: PathBuf,
}

pub fn main(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`cairn validate` is not implemented yet")
}
