//! Task tokens as workers see them: the decider's opaque token followed by an HMAC-SHA256 of
//! it under a secret key (kept in the data directory by `cairn serve`). A forged or altered
//! token fails the check (InvalidToken) before any lookup; a genuine token whose task is
//! over is not in the store any more (TaskTimedOut).

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use cairn_interpreter::{Command, Decision};

/// Bytes of a freshly generated key.
pub const KEY_BYTES: usize = 32;

/// A new random key from the operating system.
pub fn new_key() -> Result<Vec<u8>, getrandom::Error> {
    let mut key = vec![0u8; KEY_BYTES];
    getrandom::getrandom(&mut key)?;
    Ok(key)
}

#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl Signer {
    pub fn new(key: Vec<u8>) -> Signer {
        Signer { key }
    }

    fn mac(&self, raw: &str) -> Option<Hmac<Sha256>> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).ok()?;
        mac.update(raw.as_bytes());
        Some(mac)
    }

    pub fn sign(&self, raw: &str) -> String {
        match self.mac(raw) {
            Some(mac) => format!(
                "{raw}{}",
                cairn_common::hex::encode(&mac.finalize().into_bytes())
            ),
            None => raw.to_string(),
        }
    }

    /// Whether `token` is a token this key signed (constant-time comparison).
    pub fn verify(&self, token: &str) -> bool {
        // 64 hex digits of the decider's token, 64 of the MAC, lower case as minted: the
        // token is also a lookup key, so an upper-cased copy must not verify and then miss.
        if token.len() != 128
            || !token
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return false;
        }
        let (raw, tag) = token.split_at(64);
        let Some(tag) = (0..32)
            .map(|i| {
                tag.get(i * 2..i * 2 + 2)
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()
        else {
            return false;
        };
        self.mac(raw)
            .is_some_and(|mac| mac.verify_slice(&tag).is_ok())
    }

    /// Replaces every token the decision mints by its signed form, in the commands (what
    /// workers and invokers receive) and in the history (what clients read), so the raw
    /// token never leaves the process.
    pub fn publish(&self, decision: &mut Decision) {
        let mut pairs = Vec::new();
        for command in &mut decision.commands {
            if let Command::InvokeTask {
                task_token: Some(token),
                input,
                ..
            } = command
            {
                let signed = self.sign(token);
                replace_in(input, token, &signed);
                pairs.push((std::mem::replace(token, signed.clone()), signed));
            }
        }
        if pairs.is_empty() {
            return;
        }
        for event in &mut decision.history {
            for (raw, signed) in &pairs {
                replace_in(&mut event.details, raw, signed);
            }
        }
    }
}

/// Replaces `raw` inside every string of `value` (iteratively: values can be deep).
fn replace_in(value: &mut Value, raw: &str, signed: &str) {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::String(text) if text.contains(raw) => *text = text.replace(raw, signed),
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Object(map) => stack.extend(map.values_mut()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signed_tokens_verify_and_altered_ones_do_not() {
        let signer = Signer::new(vec![7; KEY_BYTES]);
        let raw = "0123456789abcdef".repeat(4);
        let signed = signer.sign(&raw);
        assert!(signed.starts_with(&raw) && signed.len() == 128);
        assert!(signer.verify(&signed));
        let mut altered = signed.clone().into_bytes();
        altered[3] = if altered[3] == b'0' { b'1' } else { b'0' };
        assert!(!signer.verify(&String::from_utf8(altered).unwrap_or_default()));
        assert!(!signer.verify(&raw));
        assert!(!signer.verify(&signed.to_ascii_uppercase()));
        assert!(!Signer::new(vec![8; KEY_BYTES]).verify(&signed));
    }

    #[test]
    fn tokens_are_replaced_inside_nested_payloads() {
        let mut value = json!({"a": ["x-TOKEN-y", {"b": "TOKEN"}], "c": 1});
        replace_in(&mut value, "TOKEN", "SIGNED");
        assert_eq!(value, json!({"a": ["x-SIGNED-y", {"b": "SIGNED"}], "c": 1}));
    }
}
