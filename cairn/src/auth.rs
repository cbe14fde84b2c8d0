//! `cairn serve --auth KEYS_FILE`: Signature Version 4 verification of each request against
//! the access keys in a JSON file, answering as AWS's JSON-protocol services do (the coral
//! framework's `__type`s and messages, all HTTP 400), so SDKs raise what they raise on AWS.
//!
//! Verifying is signing again: the canonical request is rebuilt from what arrived (the headers
//! the client lists in `SignedHeaders`, the body's SHA-256), signed with the secret of the
//! access key the credential names, and compared with the client's signature. The rules
//! (double percent-encoding of the path, sorted query, trimmed header values joined by
//! commas) are the ones every SDK applies to non-S3 services.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use cairn_common::civil::{days_from_civil, UtcDateTime};
use hmac::{Hmac, KeyInit, Mac};
use hyper::HeaderMap;
use serde::Deserialize;
use sha2::{Digest, Sha256};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const SERVICE: &str = "states";
const TERMINATOR: &str = "aws4_request";
/// AWS refuses a signature dated more than 15 minutes from its clock, either way.
const MAX_SKEW_MS: i64 = 15 * 60 * 1000;

/// A refused request: the `__type` and message AWS answers with (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub error_type: &'static str,
    pub message: String,
}

impl Rejection {
    fn new(error_type: &'static str, message: impl Into<String>) -> Rejection {
        Rejection {
            error_type,
            message: message.into(),
        }
    }
}

const MISSING_TOKEN: &str = "MissingAuthenticationTokenException";
const INCOMPLETE: &str = "IncompleteSignatureException";
const INVALID_SIGNATURE: &str = "InvalidSignatureException";
const UNRECOGNIZED: &str = "UnrecognizedClientException";

/// One entry of the keys file, named as IAM's `CreateAccessKey` and
/// `aws configure export-credentials` name them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    #[serde(rename = "AccessKeyId")]
    access_key_id: String,
    #[serde(rename = "SecretAccessKey")]
    secret_access_key: String,
    /// Temporary credentials: requests must then carry this `X-Amz-Security-Token`.
    #[serde(rename = "SessionToken", default)]
    session_token: Option<String>,
}

struct Secret {
    secret: String,
    session_token: Option<String>,
}

/// The access keys a `cairn serve --auth` accepts.
pub struct Keys {
    by_id: HashMap<String, Secret>,
    region: String,
}

/// The parts of a request that its signature covers.
pub struct Signed<'a> {
    pub method: &'a str,
    /// The path as it came on the request line, still percent-encoded.
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// The body as sent (compressed, if it was).
    pub body: &'a [u8],
}

impl Keys {
    /// Reads a JSON list of `{"AccessKeyId", "SecretAccessKey", "SessionToken"?}`. Requests
    /// must be signed for `region`, as AWS wants them scoped to the endpoint's region.
    pub fn load(path: &Path, region: &str) -> anyhow::Result<Keys> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Keys::parse(&text, region).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str, region: &str) -> anyhow::Result<Keys> {
        let entries: Vec<KeyEntry> = serde_json::from_str(text).context(
            "expected a JSON list of {\"AccessKeyId\": ..., \"SecretAccessKey\": ..., \"SessionToken\"?: ...}",
        )?;
        anyhow::ensure!(
            !entries.is_empty(),
            "no access keys: every request would be refused"
        );
        let mut by_id = HashMap::new();
        for entry in entries {
            anyhow::ensure!(
                !entry.access_key_id.is_empty() && !entry.secret_access_key.is_empty(),
                "an AccessKeyId or SecretAccessKey is empty"
            );
            let secret = Secret {
                secret: entry.secret_access_key,
                session_token: entry.session_token,
            };
            if by_id.insert(entry.access_key_id.clone(), secret).is_some() {
                anyhow::bail!("the access key {} is listed twice", entry.access_key_id);
            }
        }
        Ok(Keys {
            by_id,
            region: region.to_string(),
        })
    }

    /// Accepts the request if it is signed with one of the keys, for this region and Step
    /// Functions, within 15 minutes of `now_ms`. The checks come in the order AWS makes them,
    /// so a request with several faults gets AWS's answer.
    pub fn verify(&self, request: &Signed<'_>, now_ms: i64) -> Result<(), Rejection> {
        let authorization = header(request.headers, "authorization");
        let Some(authorization) = authorization.filter(|a| a.trim_start().starts_with("AWS4-"))
        else {
            return Err(Rejection::new(
                MISSING_TOKEN,
                "Request is missing Authentication Token",
            ));
        };
        let parsed = Authorization::parse(&authorization);
        let date =
            header(request.headers, "x-amz-date").or_else(|| header(request.headers, "date"));

        let mut missing = String::new();
        for (name, value) in [
            ("Credential", &parsed.credential),
            ("Signature", &parsed.signature),
            ("SignedHeaders", &parsed.signed_headers),
        ] {
            if value.is_none() {
                let _ = write!(
                    missing,
                    "Authorization header requires '{name}' parameter. "
                );
            }
        }
        if date.is_none() {
            missing.push_str(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
            );
        }
        let (Some(credential), Some(signature), Some(signed_headers), Some(date)) = (
            parsed.credential,
            parsed.signature,
            parsed.signed_headers,
            date,
        ) else {
            return Err(Rejection::new(
                INCOMPLETE,
                format!("{missing}Authorization={authorization}"),
            ));
        };

        let Some(signed_at) = parse_basic_date(&date) else {
            return Err(Rejection::new(
                INCOMPLETE,
                format!(
                    "Date must be in ISO-8601 'basic format'. Got '{date}'. See http://en.wikipedia.org/wiki/ISO_8601"
                ),
            ));
        };
        if signed_at < now_ms - MAX_SKEW_MS {
            return Err(Rejection::new(
                INVALID_SIGNATURE,
                format!(
                    "Signature expired: {date} is now earlier than {} ({} - 15 min.)",
                    basic_date(now_ms - MAX_SKEW_MS),
                    basic_date(now_ms)
                ),
            ));
        }
        if signed_at > now_ms + MAX_SKEW_MS {
            return Err(Rejection::new(
                INVALID_SIGNATURE,
                format!(
                    "Signature not yet current: {date} is still later than {} ({} + 15 min.)",
                    basic_date(now_ms + MAX_SKEW_MS),
                    basic_date(now_ms)
                ),
            ));
        }
        let header_names: Vec<&str> = signed_headers.split(';').collect();
        if !header_names.iter().any(|h| h.eq_ignore_ascii_case("host")) {
            return Err(Rejection::new(
                INVALID_SIGNATURE,
                "'Host' must be a 'SignedHeader' in the AWS Authorization.",
            ));
        }
        if parsed.algorithm != ALGORITHM {
            return Err(Rejection::new(
                INCOMPLETE,
                format!(
                    "Unsupported AWS 'algorithm': '{}' (only {ALGORITHM} for now). ",
                    parsed.algorithm
                ),
            ));
        }
        let trimmed = credential.trim_end_matches('/');
        let scope: Vec<&str> = trimmed.split('/').collect();
        let [key_id, scope_date, region, service, terminator] = scope[..] else {
            return Err(Rejection::new(
                INCOMPLETE,
                format!(
                    "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{trimmed}'"
                ),
            ));
        };
        let mut wrong = String::new();
        if region != self.region {
            let _ = write!(
                wrong,
                "Credential should be scoped to a valid region, not '{region}'. "
            );
        }
        if service != SERVICE {
            let _ = write!(
                wrong,
                "Credential should be scoped to correct service: '{SERVICE}'. "
            );
        }
        if terminator != TERMINATOR {
            let _ = write!(
                wrong,
                "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'. "
            );
        }
        if scope_date != &date[..8] {
            let _ = write!(
                wrong,
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{}', from '{date}'.",
                &date[..8]
            );
        }
        if !wrong.is_empty() {
            return Err(Rejection::new(INVALID_SIGNATURE, wrong.trim_end()));
        }
        let Some(key) = self.by_id.get(key_id) else {
            return Err(Rejection::new(
                UNRECOGNIZED,
                "The security token included in the request is invalid.",
            ));
        };

        let canonical = canonical_request(request, signed_headers.as_str(), &header_names);
        let scope = format!("{scope_date}/{region}/{service}/{terminator}");
        let string_to_sign = format!(
            "{ALGORITHM}\n{date}\n{scope}\n{}",
            hex_sha256(canonical.as_bytes())
        );
        let signing_key = signing_key(&key.secret, scope_date, region, service);
        let mut mac = hmac(&signing_key);
        mac.update(string_to_sign.as_bytes());
        let provided = decode_hex(&signature).unwrap_or_default();
        // verify_slice compares in constant time: the answer's timing says nothing of how
        // much of a forged signature was right.
        if mac.verify_slice(&provided).is_err() {
            return Err(Rejection::new(
                INVALID_SIGNATURE,
                format!(
                    "The request signature we calculated does not match the signature you provided. \
                     Check your AWS Secret Access Key and signing method. Consult the service \
                     documentation for details.\n\nThe Canonical String for this request should have \
                     been\n'{canonical}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
                ),
            ));
        }
        let token = header(request.headers, "x-amz-security-token");
        if token != key.session_token {
            return Err(Rejection::new(
                UNRECOGNIZED,
                "The security token included in the request is invalid",
            ));
        }
        Ok(())
    }
}

/// The `Authorization` header's parts; a missing one stays `None`.
struct Authorization {
    algorithm: String,
    credential: Option<String>,
    signed_headers: Option<String>,
    signature: Option<String>,
}

impl Authorization {
    fn parse(value: &str) -> Authorization {
        let value = value.trim();
        let (algorithm, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
        let mut parsed = Authorization {
            algorithm: algorithm.to_string(),
            credential: None,
            signed_headers: None,
            signature: None,
        };
        for part in rest.split(',') {
            let Some((name, value)) = part.trim().split_once('=') else {
                continue;
            };
            let value = Some(value.trim().to_string()).filter(|v| !v.is_empty());
            match name.trim() {
                "Credential" => parsed.credential = value,
                "SignedHeaders" => parsed.signed_headers = value,
                "Signature" => parsed.signature = value,
                _ => {}
            }
        }
        parsed
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
}

fn canonical_request(request: &Signed<'_>, signed_headers: &str, names: &[&str]) -> String {
    let path = if request.path.is_empty() {
        "/"
    } else {
        request.path
    };
    let mut canonical = format!(
        "{}\n{}\n{}\n",
        request.method,
        uri_encode(path, false),
        canonical_query(request.query.unwrap_or(""))
    );
    for name in names {
        let values: Vec<String> = request
            .headers
            .get_all(*name)
            .iter()
            .map(|v| collapse_spaces(&String::from_utf8_lossy(v.as_bytes())))
            .collect();
        let _ = writeln!(
            canonical,
            "{}:{}",
            name.to_ascii_lowercase(),
            values.join(",")
        );
    }
    let _ = write!(
        canonical,
        "\n{signed_headers}\n{}",
        hex_sha256(request.body)
    );
    canonical
}

/// The query's pairs decoded, encoded again strictly and sorted by name then value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                uri_encode(&percent_decode(name), true),
                uri_encode(&percent_decode(value), true),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// RFC 3986 percent-encoding of everything but the unreserved characters (and `/` in a
/// path). Applied to a path that is already encoded it encodes it twice, as SigV4 wants for
/// every service but S3.
fn uri_encode(text: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_' | b'.' | b'~')
            || (byte == b'/' && !encode_slash)
        {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn collapse_spaces(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length, so this never fails; the fallback keeps it panic-free.
    HmacSha256::new_from_slice(key).unwrap_or_else(|_| HmacSha256::new(&Default::default()))
}

fn hmac_bytes(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = hmac(key);
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac_bytes(format!("AWS4{secret}").as_bytes(), date);
    let k_region = hmac_bytes(&k_date, region);
    let k_service = hmac_bytes(&k_region, service);
    hmac_bytes(&k_service, TERMINATOR)
}

fn hex_sha256(bytes: &[u8]) -> String {
    cairn_common::hex::encode(&Sha256::digest(bytes))
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// `20261207T094500Z` to epoch milliseconds.
fn parse_basic_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = text.get(range)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (digits(0..4)?, digits(4..6)?, digits(6..8)?);
    let (hour, minute, second) = (digits(9..11)?, digits(11..13)?, digits(13..15)?);
    if !(1..=12).contains(&month)
        || day == 0
        || day > cairn_common::civil::days_in_month(i64::from(year), month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    Some(seconds * 1000)
}

fn basic_date(epoch_ms: i64) -> String {
    let t = UtcDateTime::from_epoch_ms(epoch_ms);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::{HeaderName, HeaderValue};

    const KEYS: &str = r#"[{"AccessKeyId": "AKIDEXAMPLE", "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
        {"AccessKeyId": "TEMP", "SecretAccessKey": "s", "SessionToken": "tok"}]"#;
    const BODY: &[u8] =
        br#"{"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:m"}"#;
    /// 2015-08-30T12:36:00Z.
    const NOW: i64 = 1_440_938_160_000;

    fn keys() -> Keys {
        Keys::parse(KEYS, "us-east-1").unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    /// Signs as an SDK does, with the aws-sigv4 crate the AWS SDK for Rust uses, so the
    /// verifier is checked against an independent signer rather than itself.
    fn signed_by_sdk(
        key: &str,
        secret: &str,
        token: Option<&str>,
        region: &str,
        at_ms: i64,
        body: &[u8],
    ) -> HeaderMap {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        use aws_sigv4::sign::v4;
        let identity = aws_credential_types::Credentials::new(
            key,
            secret,
            token.map(str::to_string),
            None,
            "test",
        )
        .into();
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(at_ms as u64);
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(SERVICE)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let base = [
            ("host", "127.0.0.1:8083"),
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", "AWSStepFunctions.DescribeStateMachine"),
        ];
        let signable = SignableRequest::new(
            "POST",
            "http://127.0.0.1:8083/",
            base.iter().copied(),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut map = headers(&base);
        for (name, value) in instructions.headers() {
            map.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn verify(keys: &Keys, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), Rejection> {
        keys.verify(
            &Signed {
                method: "POST",
                path: "/",
                query: None,
                headers,
                body,
            },
            now,
        )
    }

    fn error_type(result: Result<(), Rejection>) -> &'static str {
        result.expect_err("the request must be refused").error_type
    }

    #[test]
    fn a_request_signed_by_the_sdk_signer_is_accepted() {
        let key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        let signed = signed_by_sdk("AKIDEXAMPLE", key, None, "us-east-1", NOW, BODY);
        assert_eq!(verify(&keys(), &signed, BODY, NOW), Ok(()));
        // Clocks 14 minutes apart either way are still within AWS's tolerance.
        assert_eq!(verify(&keys(), &signed, BODY, NOW + 14 * 60_000), Ok(()));
        assert_eq!(verify(&keys(), &signed, BODY, NOW - 14 * 60_000), Ok(()));
        let temporary = signed_by_sdk("TEMP", "s", Some("tok"), "us-east-1", NOW, BODY);
        assert_eq!(verify(&keys(), &temporary, BODY, NOW), Ok(()));
    }

    #[test]
    fn the_signature_covers_the_body_and_the_signed_headers() {
        let key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        let signed = signed_by_sdk("AKIDEXAMPLE", key, None, "us-east-1", NOW, BODY);
        let rejection = verify(&keys(), &signed, b"{}", NOW).unwrap_err();
        assert_eq!(rejection.error_type, "InvalidSignatureException");
        assert!(rejection
            .message
            .starts_with("The request signature we calculated does not match"));
        assert!(
            rejection.message.contains("been\n'POST\n/\n\n"),
            "{}",
            rejection.message
        );
        let mut retargeted = signed.clone();
        retargeted.insert(
            "x-amz-target",
            HeaderValue::from_static("AWSStepFunctions.DeleteStateMachine"),
        );
        assert_eq!(
            error_type(verify(&keys(), &retargeted, BODY, NOW)),
            "InvalidSignatureException"
        );
    }

    #[test]
    fn unknown_keys_wrong_secrets_and_tokens_are_refused_as_aws_does() {
        let unknown = signed_by_sdk("AKIDOTHER", "x", None, "us-east-1", NOW, BODY);
        assert_eq!(
            verify(&keys(), &unknown, BODY, NOW),
            Err(Rejection::new(
                "UnrecognizedClientException",
                "The security token included in the request is invalid."
            ))
        );
        let wrong = signed_by_sdk(
            "AKIDEXAMPLE",
            "not-the-secret",
            None,
            "us-east-1",
            NOW,
            BODY,
        );
        assert_eq!(
            error_type(verify(&keys(), &wrong, BODY, NOW)),
            "InvalidSignatureException"
        );
        let no_token = signed_by_sdk("TEMP", "s", None, "us-east-1", NOW, BODY);
        assert_eq!(
            error_type(verify(&keys(), &no_token, BODY, NOW)),
            "UnrecognizedClientException"
        );
        let other_token = signed_by_sdk("TEMP", "s", Some("nope"), "us-east-1", NOW, BODY);
        assert_eq!(
            error_type(verify(&keys(), &other_token, BODY, NOW)),
            "UnrecognizedClientException"
        );
    }

    #[test]
    fn unsigned_and_incomplete_requests_get_aws_answers() {
        let plain = headers(&[("host", "h"), ("x-amz-date", "20150830T123600Z")]);
        assert_eq!(
            verify(&keys(), &plain, BODY, NOW),
            Err(Rejection::new(
                "MissingAuthenticationTokenException",
                "Request is missing Authentication Token"
            ))
        );
        let incomplete = headers(&[
            ("host", "h"),
            ("authorization", "AWS4-HMAC-SHA256 Credential=a/b/c/d/e"),
        ]);
        assert_eq!(
            verify(&keys(), &incomplete, BODY, NOW),
            Err(Rejection::new(
                "IncompleteSignatureException",
                "Authorization header requires 'Signature' parameter. Authorization header \
                 requires 'SignedHeaders' parameter. Authorization header requires existence of \
                 either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 \
                 Credential=a/b/c/d/e"
            ))
        );
        let bad_date = headers(&[
            ("host", "h"),
            ("x-amz-date", "2015-08-30"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/states/aws4_request, SignedHeaders=host, Signature=00",
            ),
        ]);
        assert_eq!(
            error_type(verify(&keys(), &bad_date, BODY, NOW)),
            "IncompleteSignatureException"
        );
    }

    #[test]
    fn skew_beyond_15_minutes_expires_the_signature() {
        let key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        let signed = signed_by_sdk("AKIDEXAMPLE", key, None, "us-east-1", NOW, BODY);
        assert_eq!(
            verify(&keys(), &signed, BODY, NOW + 16 * 60_000),
            Err(Rejection::new(
                "InvalidSignatureException",
                "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z \
                 (20150830T125200Z - 15 min.)"
            ))
        );
        assert_eq!(
            verify(&keys(), &signed, BODY, NOW - 16 * 60_000),
            Err(Rejection::new(
                "InvalidSignatureException",
                "Signature not yet current: 20150830T123600Z is still later than \
                 20150830T123500Z (20150830T122000Z + 15 min.)"
            ))
        );
    }

    #[test]
    fn the_scope_must_name_this_region_and_step_functions() {
        let key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        let elsewhere = signed_by_sdk("AKIDEXAMPLE", key, None, "eu-west-1", NOW, BODY);
        assert_eq!(
            verify(&keys(), &elsewhere, BODY, NOW),
            Err(Rejection::new(
                "InvalidSignatureException",
                "Credential should be scoped to a valid region, not 'eu-west-1'."
            ))
        );
        let mut other_service = signed_by_sdk("AKIDEXAMPLE", key, None, "us-east-1", NOW, BODY);
        let authorization = header(&other_service, "authorization")
            .unwrap()
            .replace("/states/", "/lambda/");
        other_service.insert(
            "authorization",
            HeaderValue::from_str(&authorization).unwrap(),
        );
        assert_eq!(
            verify(&keys(), &other_service, BODY, NOW),
            Err(Rejection::new(
                "InvalidSignatureException",
                "Credential should be scoped to correct service: 'states'."
            ))
        );
    }

    /// AWS's published example (IAM ListUsers, General Reference "Signature Version 4 signing
    /// process"): the canonical request and the signing key give its signature.
    #[test]
    fn the_published_aws_example_signs_the_same() {
        let request_headers = headers(&[
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("host", "iam.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
        ]);
        let request = Signed {
            method: "GET",
            path: "/",
            query: Some("Version=2010-05-08&Action=ListUsers"),
            headers: &request_headers,
            body: b"",
        };
        let names = ["content-type", "host", "x-amz-date"];
        let canonical = canonical_request(&request, "content-type;host;x-amz-date", &names);
        assert_eq!(
            hex_sha256(canonical.as_bytes()),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        let string_to_sign = format!(
            "{ALGORITHM}\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n{}",
            hex_sha256(canonical.as_bytes())
        );
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20150830",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            cairn_common::hex::encode(&hmac_bytes(&key, &string_to_sign)),
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn paths_and_queries_are_encoded_as_sigv4_wants() {
        assert_eq!(uri_encode("/a b/%2F", false), "/a%20b/%252F");
        assert_eq!(canonical_query("b=2&a=x%20y&a=1&c"), "a=1&a=x%20y&b=2&c=");
        assert_eq!(collapse_spaces("  a   b  "), "a b");
    }

    #[test]
    fn a_keys_file_must_list_usable_keys() {
        assert!(Keys::parse("[]", "us-east-1").is_err());
        assert!(Keys::parse(r#"{"AKID": "secret"}"#, "us-east-1").is_err());
        assert!(Keys::parse(
            r#"[{"AccessKeyId": "a", "SecretAccessKey": "b"}, {"AccessKeyId": "a", "SecretAccessKey": "c"}]"#,
            "us-east-1"
        )
        .is_err());
        assert!(Keys::parse(r#"[{"AccessKeyId": "a", "SecretKey": "b"}]"#, "us-east-1").is_err());
    }

    #[test]
    fn basic_dates_round_trip() {
        assert_eq!(parse_basic_date("20150830T123600Z"), Some(NOW));
        assert_eq!(basic_date(NOW), "20150830T123600Z");
        assert_eq!(parse_basic_date("20150230T123600Z"), None);
        assert_eq!(parse_basic_date("2015083OT123600Z"), None);
    }
}
