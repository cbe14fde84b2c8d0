//! The service quotas a user may raise, shared by `cairn run` and `cairn serve`. The
//! defaults are AWS's; anything larger is beyond AWS (a definition that needs it would fail
//! in AWS Step Functions).

use cairn_interpreter::Limits;

#[derive(clap::Args, Debug, Clone)]
pub struct LimitArgs {
    /// Most history events of a Standard execution before it fails with States.Runtime
    /// (AWS: 25000; Express executions have no such limit). Raising it is beyond AWS.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_history_events)]
    pub max_history_events: u64,
    /// Largest input or output of a state or execution, in bytes of JSON text
    /// (AWS: 262144, i.e. 256 KiB). Raising it is beyond AWS.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_payload_bytes)]
    pub max_payload_bytes: usize,
    /// Iterations an inline Map runs at once, whatever its MaxConcurrency says (AWS: 40).
    /// Raising it is beyond AWS.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_inline_map_concurrency,
          value_parser = at_least_one)]
    pub max_inline_map_concurrency: usize,
}

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(err) => Err(err.to_string()),
    }
}

impl LimitArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            max_history_events: self.max_history_events,
            max_payload_bytes: self.max_payload_bytes,
            max_inline_map_concurrency: self.max_inline_map_concurrency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        limits: LimitArgs,
    }

    #[test]
    fn defaults_are_aws_quotas_and_each_can_be_raised() {
        let cli = Cli::try_parse_from(["cairn"]).unwrap();
        assert_eq!(cli.limits.limits(), Limits::default());
        let cli = Cli::try_parse_from([
            "cairn",
            "--max-history-events",
            "100000",
            "--max-payload-bytes",
            "1048576",
            "--max-inline-map-concurrency",
            "200",
        ])
        .unwrap();
        let limits = cli.limits.limits();
        assert_eq!(limits.max_history_events, 100_000);
        assert_eq!(limits.max_payload_bytes, 1_048_576);
        assert_eq!(limits.max_inline_map_concurrency, 200);
        assert!(Cli::try_parse_from(["cairn", "--max-inline-map-concurrency", "0"]).is_err());
    }
}
