//! The Java number semantics AWS's implementation shows through: `Math.round`, the `(int)`
//! cast, `java.util.Random` for seeded `States.MathRandom`, and the hash-based iteration
//! order of `java.util.HashMap`/`HashSet` that shows in `States.JsonMerge` and
//! `States.ArrayUnique` results.

use serde_json::Value;

/// `java.lang.Math.round(double)`: half rounds up (towards positive infinity), so
/// `-2.5 -> -2` and `2.5 -> 3`, as the recorded `States.MathAdd` cases show.
pub(crate) fn round(x: f64) -> f64 {
    (x + 0.5).floor()
}

/// Java's `(int)` cast of a finite double: truncation towards zero. AWS truncates the
/// arguments of `States.ArrayRange`, `States.ArrayPartition`, `States.ArrayGetItem` and
/// `States.MathRandom` this way.
pub(crate) fn truncate(x: f64) -> f64 {
    x.trunc()
}

/// `String.hashCode()`, over UTF-16 code units.
pub(crate) fn string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// The `hashCode()` a JSON value has in AWS's Java implementation: `Boolean`/`Long`/
/// `Double`/`String` hashes for scalars, `List.hashCode` for arrays and `Map.hashCode` for
/// objects. Null hashes to 0, which puts it first as observed (`[null, null, 1]` gives
/// `[null, 1]`). `None` when the value nests deeper than `depth_left`.
pub(crate) fn value_hash(value: &Value, depth_left: usize) -> Option<i32> {
    let depth_left = depth_left.checked_sub(1)?;
    Some(match value {
        Value::Null => 0,
        Value::Bool(true) => 1231,
        Value::Bool(false) => 1237,
        Value::Number(n) => match n.as_i64() {
            Some(i) => (i ^ ((i as u64) >> 32) as i64) as i32,
            None => {
                let bits = n.as_f64().map_or(0, f64::to_bits);
                (bits ^ (bits >> 32)) as i32
            }
        },
        Value::String(s) => string_hash(s),
        Value::Array(items) => {
            let mut h: i32 = 1;
            for item in items {
                h = h
                    .wrapping_mul(31)
                    .wrapping_add(value_hash(item, depth_left)?);
            }
            h
        }
        Value::Object(map) => {
            let mut h: i32 = 0;
            for (k, v) in map {
                h = h.wrapping_add(string_hash(k) ^ value_hash(v, depth_left)?);
            }
            h
        }
    })
}

/// Iteration order of a `java.util.HashMap`/`HashSet` filled with these entries in this order
/// (default capacity 16, doubled past a 0.75 load factor): by bucket, then insertion order.
pub(crate) fn hash_order<T>(entries: Vec<(i32, T)>) -> Vec<T> {
    let mut capacity: usize = 16;
    while entries.len() * 4 > capacity * 3 {
        capacity *= 2;
    }
    let mut keyed: Vec<(usize, usize, T)> = entries
        .into_iter()
        .enumerate()
        .map(|(order, (hash, item))| {
            let spread = hash ^ ((hash as u32) >> 16) as i32;
            ((spread as u32 as usize) & (capacity - 1), order, item)
        })
        .collect();
    keyed.sort_by_key(|(bucket, order, _)| (*bucket, *order));
    keyed.into_iter().map(|(_, _, item)| item).collect()
}

/// `java.util.Random` (a 48-bit linear congruential generator), bit for bit.
pub(crate) struct JavaRandom {
    seed: i64,
}

const MULTIPLIER: i64 = 0x5_DEEC_E66D;
const ADDEND: i64 = 0xB;
const MASK: i64 = (1 << 48) - 1;

impl JavaRandom {
    pub(crate) fn new(seed: i64) -> Self {
        Self {
            seed: (seed ^ MULTIPLIER) & MASK,
        }
    }

    fn next(&mut self, bits: u32) -> i32 {
        self.seed = (self.seed.wrapping_mul(MULTIPLIER).wrapping_add(ADDEND)) & MASK;
        // Java: (int) (seed >>> (48 - bits)); the seed is non-negative after masking.
        (self.seed >> (48 - bits)) as i32
    }

    /// `Random.nextInt(bound)` for `bound > 0`; `None` otherwise (Java throws).
    pub(crate) fn next_int(&mut self, bound: i32) -> Option<i32> {
        if bound <= 0 {
            return None;
        }
        let mut r = self.next(31);
        let m = bound - 1;
        if bound & m == 0 {
            return Some(((i64::from(bound) * i64::from(r)) >> 31) as i32);
        }
        let mut u = r;
        loop {
            r = u % bound;
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return Some(r);
            }
            u = self.next(31);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_random_matches_reference_sequence() {
        // Values printed by a JVM for `new java.util.Random(42).nextInt(100)`, three times.
        let mut r = JavaRandom::new(42);
        assert_eq!(r.next_int(100), Some(30));
        assert_eq!(r.next_int(100), Some(63));
        assert_eq!(r.next_int(100), Some(48));
        assert_eq!(JavaRandom::new(3).next_int(999), Some(239));
        assert_eq!(JavaRandom::new(-10).next_int(9), Some(0));
    }

    #[test]
    fn java_random_power_of_two_bound() {
        // `new java.util.Random(0).nextInt(16)` on a JVM; takes the power-of-two branch.
        let mut r = JavaRandom::new(0);
        assert_eq!(r.next_int(16), Some(11));
    }

    #[test]
    fn next_int_rejects_non_positive_bound() {
        assert_eq!(JavaRandom::new(1).next_int(0), None);
        assert_eq!(JavaRandom::new(1).next_int(-5), None);
    }

    #[test]
    fn string_hash_matches_java() {
        // "hello".hashCode() == 99162322 and "".hashCode() == 0 in Java.
        assert_eq!(string_hash("hello"), 99_162_322);
        assert_eq!(string_hash(""), 0);
    }

    #[test]
    fn list_hash_matches_java() {
        // List.of(1, 2).hashCode() == 994, List.of(2, 1).hashCode() == 1024.
        assert_eq!(value_hash(&serde_json::json!([1, 2]), 8), Some(994));
        assert_eq!(value_hash(&serde_json::json!([2, 1]), 8), Some(1024));
        assert_eq!(value_hash(&serde_json::json!([[[1]]]), 2), None);
    }

    #[test]
    fn hash_order_is_bucket_then_insertion() {
        assert_eq!(
            hash_order(vec![(1231, "true"), (1237, "false")]),
            ["false", "true"]
        );
        assert_eq!(
            hash_order(vec![(17, "b"), (1, "a"), (33, "c")]),
            ["b", "a", "c"]
        );
    }

    #[test]
    fn round_is_half_up() {
        assert_eq!(round(0.5), 1.0);
        assert_eq!(round(-0.5), 0.0);
        assert_eq!(round(-2.5), -2.0);
        assert_eq!(round(2.5), 3.0);
        assert_eq!(round(-1.51), -2.0);
    }
}
