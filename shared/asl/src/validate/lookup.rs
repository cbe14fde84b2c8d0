//! Field lookups in the small objects a definition is made of. The map hashes the key with
//! SipHash on every `get`; a state has a handful of fields, and comparing them in order is
//! several times cheaper, which matters once per field check per state.

use serde_json::{Map, Value};

/// Objects up to this size are searched in order; larger ones (a scope's `States`) by hash.
const LINEAR: usize = 12;

pub(crate) trait Lookup {
    fn find(&self, key: &str) -> Option<&Value>;

    fn has(&self, key: &str) -> bool {
        self.find(key).is_some()
    }
}

impl Lookup for Map<String, Value> {
    fn find(&self, key: &str) -> Option<&Value> {
        if self.len() <= LINEAR {
            self.iter()
                .find(|(name, _)| name.as_str() == key)
                .map(|(_, value)| value)
        } else {
            self.get(key)
        }
    }
}

impl Lookup for Value {
    fn find(&self, key: &str) -> Option<&Value> {
        self.as_object()?.find(key)
    }
}
