//! The compression of history blocks: LZ77 in the layout of LZ4's block format (a token of
//! literal and match lengths, the literals, a 2-byte offset), so a block written here is a
//! valid LZ4 block and a library could take over reading and writing them later.
//!
//! A history is text that repeats itself (each event names its type, state and payload keys
//! again), and every byte written crosses SQLite's pages, the WAL, its fsync and the checkpoint
//! copy on the one writer thread; a greedy single-probe matcher is cheap next to that.

/// log2 of the match finder's largest table: 16 K positions (64 KiB of u32) for a block of
/// 64 KiB; a small input gets a table its size, since zeroing the table is the fixed cost.
const MAX_HASH_BITS: u32 = 14;
const MIN_HASH_BITS: u32 = 8;
const MIN_MATCH: usize = 4;
/// LZ4's end conditions: the last 5 bytes are always literals, and no match starts in the last 12.
const LAST_LITERALS: usize = 5;
const MATCH_START_LIMIT: usize = 12;
const MAX_OFFSET: usize = u16::MAX as usize;

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

fn hash(word: u32, bits: u32) -> usize {
    (word.wrapping_mul(2_654_435_761) >> (32 - bits)) as usize
}

thread_local! {
    /// The match finder's table, kept by each thread rather than allocated per call.
    static TABLE: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Appends the LZ4 block encoding of `input` to `out`.
pub fn compress(input: &[u8], out: &mut Vec<u8>) {
    TABLE.with_borrow_mut(|table| compress_with(input, out, table));
}

fn compress_with(input: &[u8], out: &mut Vec<u8>, table: &mut Vec<u32>) {
    let mut anchor = 0;
    if input.len() > MATCH_START_LIMIT {
        let bits = input
            .len()
            .next_power_of_two()
            .trailing_zeros()
            .clamp(MIN_HASH_BITS, MAX_HASH_BITS);
        table.clear();
        table.resize(1 << bits, 0);
        let start_limit = input.len() - MATCH_START_LIMIT;
        let end_limit = input.len() - LAST_LITERALS;
        let mut at = 0;
        let mut misses = 0usize;
        while at < start_limit {
            let word = u32_at(input, at);
            let slot = hash(word, bits);
            let candidate = table[slot] as usize;
            table[slot] = at as u32;
            if candidate >= at || at - candidate > MAX_OFFSET || u32_at(input, candidate) != word {
                // Skip faster through text that does not repeat, as LZ4 does.
                misses += 1;
                at += 1 + (misses >> 6);
                continue;
            }
            misses = 0;
            let mut length = MIN_MATCH;
            loop {
                if at + length + 8 > end_limit {
                    while at + length < end_limit && input[candidate + length] == input[at + length]
                    {
                        length += 1;
                    }
                    break;
                }
                let differ = u64_at(input, candidate + length) ^ u64_at(input, at + length);
                if differ != 0 {
                    length += (differ.trailing_zeros() / 8) as usize;
                    break;
                }
                length += 8;
            }
            sequence(out, &input[anchor..at], Some((at - candidate, length)));
            at += length;
            anchor = at;
            // The match's last position seeds the table, so runs that repeat are found again.
            if at - 2 < start_limit {
                table[hash(u32_at(input, at - 2), bits)] = (at - 2) as u32;
            }
        }
    }
    sequence(out, &input[anchor..], None);
}

fn sequence(out: &mut Vec<u8>, literals: &[u8], matched: Option<(usize, usize)>) {
    let match_extra = matched.map_or(0, |(_, length)| length - MIN_MATCH);
    let token = (literals.len().min(15) << 4) | match_extra.min(15);
    out.push(token as u8);
    if literals.len() >= 15 {
        length_bytes(out, literals.len() - 15);
    }
    out.extend_from_slice(literals);
    if let Some((offset, _)) = matched {
        out.extend_from_slice(&(offset as u16).to_le_bytes());
        if match_extra >= 15 {
            length_bytes(out, match_extra - 15);
        }
    }
}

fn length_bytes(out: &mut Vec<u8>, mut rest: usize) {
    while rest >= 255 {
        out.push(255);
        rest -= 255;
    }
    out.push(rest as u8);
}

fn read_length(input: &[u8], at: &mut usize) -> Option<usize> {
    let mut length = 0usize;
    loop {
        let byte = *input.get(*at)?;
        *at += 1;
        length = length.checked_add(usize::from(byte))?;
        if byte != 255 {
            return Some(length);
        }
    }
}

/// The bytes `input` encodes, which must be exactly `length` of them; None for anything that is
/// not such an encoding (never a panic, and never more than `length` bytes allocated).
pub fn decompress(input: &[u8], length: usize) -> Option<Vec<u8>> {
    // No input byte stands for more than 255 output bytes: a larger claim is damage, and must
    // not become an allocation.
    if length > input.len().saturating_mul(255) {
        return None;
    }
    let mut out = Vec::with_capacity(length);
    let mut at = 0;
    loop {
        let token = *input.get(at)?;
        at += 1;
        let mut literals = usize::from(token >> 4);
        if literals == 15 {
            literals += read_length(input, &mut at)?;
        }
        let end = at.checked_add(literals)?;
        if out.len() + literals > length {
            return None;
        }
        out.extend_from_slice(input.get(at..end)?);
        at = end;
        if at == input.len() {
            break;
        }
        let offset = usize::from(u16::from_le_bytes([*input.get(at)?, *input.get(at + 1)?]));
        at += 2;
        let mut matched = usize::from(token & 15) + MIN_MATCH;
        if token & 15 == 15 {
            matched += read_length(input, &mut at)?;
        }
        if offset == 0 || offset > out.len() || out.len() + matched > length {
            return None;
        }
        // An offset shorter than the match repeats the last `offset` bytes: each copy doubles
        // what the next can take.
        let start = out.len() - offset;
        let mut left = matched;
        while left > 0 {
            let chunk = left.min(out.len() - start);
            out.extend_from_within(start..start + chunk);
            left -= chunk;
        }
    }
    (out.len() == length).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::{compress, decompress};

    /// xorshift64*: seeded, so a failure replays.
    struct Random(u64);
    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn round_trip(input: &[u8]) -> Vec<u8> {
        let mut packed = Vec::new();
        compress(input, &mut packed);
        assert_eq!(
            decompress(&packed, input.len()).as_deref(),
            Some(input),
            "{} bytes",
            input.len()
        );
        packed
    }

    fn history_like(events: usize) -> Vec<u8> {
        (0..events)
            .map(|id| {
                format!(
                    "[{id},{},1796664120308,\"PassStateExited\",{{\"name\":\"P{:04}\",\"output\":{{\"i\":7,\"step\":{}}}}}]",
                    id.saturating_sub(1),
                    id / 2,
                    id / 2
                )
            })
            .collect::<String>()
            .into_bytes()
    }

    #[test]
    fn every_short_length_and_kind_of_input_round_trips() {
        let mut random = Random(0x9E37_79B9_7F4A_7C15);
        for length in 0..300 {
            let noise: Vec<u8> = (0..length).map(|_| random.next() as u8).collect();
            round_trip(&noise);
            round_trip(&vec![b'a'; length]);
            let few: Vec<u8> = (0..length).map(|_| b"ab{}"[random.below(4)]).collect();
            round_trip(&few);
        }
        // Runs whose lengths and offsets reach the extra length bytes, and offsets near 64 KiB.
        let mut long = vec![b'x'; 70_000];
        long.extend((0..70_000).map(|_| random.next() as u8));
        let copy = long[10..80_000].to_vec();
        long.extend(copy);
        round_trip(&long);
    }

    #[test]
    fn a_history_shrinks_several_times() {
        let input = history_like(2_000);
        let packed = round_trip(&input);
        assert!(
            packed.len() * 4 < input.len(),
            "{} -> {} bytes",
            input.len(),
            packed.len()
        );
    }

    #[test]
    fn damaged_input_is_refused_not_a_panic() {
        let input = history_like(200);
        let mut packed = Vec::new();
        compress(&input, &mut packed);
        let mut random = Random(7);
        for cut in 0..packed.len() {
            let _ = decompress(&packed[..cut], input.len());
        }
        for _ in 0..5_000 {
            let mut damaged = packed.clone();
            let at = random.below(damaged.len());
            damaged[at] = random.next() as u8;
            if let Some(out) = decompress(&damaged, input.len()) {
                assert_eq!(out.len(), input.len());
            }
        }
        assert_eq!(decompress(&packed, input.len() - 1), None);
        assert_eq!(decompress(&packed, input.len() + 1), None);
        assert_eq!(decompress(&[], 0), None);
    }
}
