//! Base64 (RFC 4648): the standard alphabet with padding when encoding, and a lenient decoder
//! whose leniency each caller chooses, because AWS's `States.Base64Decode` and JSONata's
//! `$base64decode` forgive different things.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The standard-alphabet encoding of `bytes`, padded with `=` to a multiple of four.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            // A chunk of k bytes fills k + 1 sextets; the rest of the group is padding.
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What [`decode_lenient`] forgives besides skipping characters outside the alphabet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lenient {
    /// Also read the URL-safe alphabet's `-` and `_` as `+` and `/` (Node's `Buffer` does).
    pub url_safe: bool,
    /// The first `=` ends the data (AWS's `States.Base64Decode`); otherwise `=` is skipped
    /// like any other character outside the alphabet and decoding goes on after it.
    pub padding_ends_data: bool,
}

/// Decodes `text` without ever failing: characters outside the alphabet are skipped, and a
/// trailing group of 2 or 3 sextets gives 1 or 2 bytes (a lone sextet gives none).
pub fn decode_lenient(text: &str, lenient: Lenient) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut count = 0u32;
    // Bytes, not chars: no byte of a multi-byte character is in the alphabet or is `=`.
    for c in text.bytes() {
        let sextet = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'-' if lenient.url_safe => 62,
            b'_' if lenient.url_safe => 63,
            b'=' if lenient.padding_ends_data => break,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(sextet);
        count += 1;
        if count == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            acc = 0;
            count = 0;
        }
    }
    match count {
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT_PADDING: Lenient = Lenient {
        url_safe: false,
        padding_ends_data: true,
    };
    const NODE: Lenient = Lenient {
        url_safe: true,
        padding_ends_data: false,
    };

    #[test]
    fn rfc4648_test_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(encode(plain.as_bytes()), encoded);
            assert_eq!(decode_lenient(encoded, STRICT_PADDING), plain.as_bytes());
            assert_eq!(decode_lenient(encoded, NODE), plain.as_bytes());
        }
    }

    #[test]
    fn every_byte_value_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        for len in 0..bytes.len() {
            let encoded = encode(&bytes[..len]);
            assert_eq!(encoded.len(), len.div_ceil(3) * 4);
            assert_eq!(decode_lenient(&encoded, STRICT_PADDING), &bytes[..len]);
            assert_eq!(decode_lenient(&encoded, NODE), &bytes[..len]);
        }
        assert_eq!(encode(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn skips_what_is_not_base64() {
        for lenient in [STRICT_PADDING, NODE] {
            assert_eq!(decode_lenient(" YWJjZA== ", lenient), b"abcd");
            assert_eq!(decode_lenient("YW\nJj\u{e9}ZA", lenient), b"abcd");
            assert_eq!(decode_lenient("abc", lenient), [0x69, 0xb7]);
            assert_eq!(decode_lenient("Y", lenient), b"");
            assert_eq!(decode_lenient("!!!", lenient), b"");
        }
    }

    #[test]
    fn padding_ends_the_data_or_is_skipped() {
        assert_eq!(decode_lenient("ab==cd", STRICT_PADDING), [0x69]);
        assert_eq!(decode_lenient("ab==cd", NODE), [0x69, 0xb7, 0x1d]);
    }

    #[test]
    fn url_safe_alphabet_only_when_asked() {
        assert_eq!(decode_lenient("-_8=", NODE), [0xfb, 0xff]);
        assert_eq!(decode_lenient("ab-_", NODE), [0x69, 0xbf, 0xbf]);
        assert_eq!(decode_lenient("ab-_", STRICT_PADDING), [0x69]);
    }
}
