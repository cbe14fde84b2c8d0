//! SplitMix64 and version 4 UUIDs from its bits: the deterministic entropy behind execution ids,
//! retry jitter, `States.UUID`, JSONata's `$random`/`$uuid` and the run loop's seeds.
//!
//! Recorded histories and tests depend on these exact values: a change of a constant or of the
//! order of operations changes every id Cairn derives.

/// SplitMix64's increment, 2^64 divided by the golden ratio.
pub const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function (Stafford's variant 13): spreads any 64-bit value over all 64
/// bits. On its own, without the increment, it maps 0 to 0.
pub fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One SplitMix64 step from `z`: the increment, then [`finalize`]. The value a generator whose
/// state is `z` returns next, used as a stateless mixer of seeds and counters.
pub fn splitmix64(z: u64) -> u64 {
    finalize(z.wrapping_add(GOLDEN_GAMMA))
}

/// The next value of the SplitMix64 generator whose state is `state`, advancing it.
pub fn splitmix64_next(state: &mut u64) -> u64 {
    let out = splitmix64(*state);
    *state = state.wrapping_add(GOLDEN_GAMMA);
    out
}

/// A number in `[0, 1)` from the top 53 bits of `bits`: every double of that form equally
/// likely, as JavaScript's `Math.random()` gives.
pub fn unit_interval(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Formats 128 random bits as a version 4, variant 1 UUID (`xxxxxxxx-xxxx-4xxx-Nxxx-…`, N one
/// of 8, 9, a, b): `hi` gives the first 16 hex digits, `lo` the last 16, with the version and
/// variant bits overwritten.
pub fn uuid_from_bits(hi: u64, lo: u64) -> String {
    let hi = (hi & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

/// 64-bit FNV-1a of `bytes`: a hash that stays the same across processes, builds and
/// platforms (std's hashers are randomly keyed), for names and seeds that must be stable.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A reproducible decision seed: depends only on `seed`, the execution (`key`) and how far
/// its history has got, so a replay under other timing decides the same (simulations only:
/// task tokens derive from it).
pub fn decision_seed(seed: u64, key: &str, event_count: u64) -> u64 {
    finalize(seed ^ finalize(fnv1a(key.as_bytes()) ^ finalize(event_count)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_reference_values() {
        // The FNV-1a 64 test vectors of its authors.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn splitmix64_reference_values() {
        // The first outputs of the reference implementation seeded with 0.
        let mut state = 0;
        assert_eq!(splitmix64_next(&mut state), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64_next(&mut state), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(splitmix64_next(&mut state), 0x06C4_5D18_8009_454F);
        assert_eq!(state, GOLDEN_GAMMA.wrapping_mul(3));
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(1), 0x910A_2DEC_8902_5CC1);
    }

    #[test]
    fn splitmix64_is_the_increment_then_finalize() {
        for z in [0, 1, 42, u64::MAX, GOLDEN_GAMMA] {
            assert_eq!(splitmix64(z), finalize(z.wrapping_add(GOLDEN_GAMMA)));
        }
        assert_eq!(finalize(0), 0);
    }

    #[test]
    fn unit_interval_bounds() {
        assert_eq!(unit_interval(0), 0.0);
        assert_eq!(unit_interval(1 << 63), 0.5);
        assert_eq!(unit_interval(u64::MAX), 1.0 - f64::EPSILON / 2.0);
        assert!(unit_interval(u64::MAX) < 1.0);
    }

    #[test]
    fn uuid_version_and_variant_bits() {
        assert_eq!(uuid_from_bits(0, 0), "00000000-0000-4000-8000-000000000000");
        assert_eq!(
            uuid_from_bits(u64::MAX, u64::MAX),
            "ffffffff-ffff-4fff-bfff-ffffffffffff"
        );
        assert_eq!(
            uuid_from_bits(0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210),
            "01234567-89ab-4def-bedc-ba9876543210"
        );
        let mut state = 7;
        for _ in 0..100 {
            let id = uuid_from_bits(splitmix64_next(&mut state), splitmix64_next(&mut state));
            let bytes = id.as_bytes();
            assert_eq!(id.len(), 36);
            assert_eq!(
                (bytes[8], bytes[13], bytes[18], bytes[23]),
                (b'-', b'-', b'-', b'-')
            );
            assert_eq!(bytes[14], b'4');
            assert!(matches!(bytes[19], b'8' | b'9' | b'a' | b'b'), "{id}");
        }
    }
}
