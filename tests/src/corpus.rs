//! Locating and reading `../shared/conformance` (or `$CAIRN_CONFORMANCE_DIR`).

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Where the corpus is, if it is on this machine. `CAIRN_CONFORMANCE_DIR` wins; the default
/// is the team folder beside the checkout.
pub fn locate() -> Option<PathBuf> {
    let dir = match std::env::var_os("CAIRN_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance"),
    };
    dir.is_dir().then_some(dir)
}

/// One recorded case: its file stem (stable key for known-failures lists) and its JSON.
pub struct Case {
    pub key: String,
    pub json: Value,
}

impl Case {
    pub fn id(&self) -> &str {
        self.json
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or(&self.key)
    }
}

/// Every case of one kind (`executions`, `api_errors`, `test_state`), sorted by file name.
pub fn load(corpus: &Path, kind: &str) -> anyhow::Result<Vec<Case>> {
    let mut paths: Vec<PathBuf> = fs::read_dir(corpus.join(kind))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let key = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = fs::read_to_string(&path)?;
            let json = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            Ok(Case { key, json })
        })
        .collect()
}
