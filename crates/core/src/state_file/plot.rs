//! A plot's samples as the database keeps them, in the batch's own row: small enough that a
//! changed answer and its new sample are one page written, not two.
//!
//! A format byte, then each sample as three varints: how far its moment and its two counters
//! moved from the sample before (the first from zero), zigzag-encoded so a counter that went
//! down costs no more than one that went up. A sample a minute after the last, a few calls
//! later, takes 5 bytes; an hour's 61 samples about 300, against 2.7 KiB as JSON.

use crate::figures::Sample;

/// The first byte: the encoding, should it ever change.
const FORMAT: u8 = 1;

/// `samples` as stored: empty for no samples.
pub(super) fn encode(samples: &[Sample]) -> Vec<u8> {
    if samples.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(1 + samples.len() * 6);
    out.push(FORMAT);
    let mut before = Sample {
        at_ms: 0,
        completed: 0,
        failed: 0,
    };
    for s in samples {
        varint(&mut out, zigzag(s.at_ms.wrapping_sub(before.at_ms) as i64));
        for (now, was) in [(s.completed, before.completed), (s.failed, before.failed)] {
            varint(&mut out, zigzag(i64::from(now.wrapping_sub(was) as i32)));
        }
        before = *s;
    }
    out
}

/// What [`encode`] wrote; `None` for bytes it could not have written (then the plot starts
/// again: it is only a plot).
pub(super) fn decode(bytes: &[u8]) -> Option<Vec<Sample>> {
    let Some((&format, mut rest)) = bytes.split_first() else {
        return Some(Vec::new());
    };
    if format != FORMAT {
        return None;
    }
    let mut samples = Vec::new();
    let mut before = Sample {
        at_ms: 0,
        completed: 0,
        failed: 0,
    };
    let mut next = || -> Option<i64> {
        let (value, used) = read_varint(rest)?;
        rest = &rest[used..];
        Some(unzigzag(value))
    };
    while let Some(at) = next() {
        // A counter's difference is what 32 bits of it allow; more is not ours.
        let mut counter = |was: u32| -> Option<u32> {
            Some(was.wrapping_add(i32::try_from(next()?).ok()? as u32))
        };
        let sample = Sample {
            at_ms: before.at_ms.wrapping_add(at as u64),
            completed: counter(before.completed)?,
            failed: counter(before.failed)?,
        };
        samples.push(sample);
        before = sample;
    }
    // Every byte used: a cut-off or padded blob is not ours.
    rest.is_empty().then_some(samples)
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A varint at the start of `bytes` and how many bytes it took; `None` when there is none or
/// it runs past 64 bits.
fn read_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        let bits = u64::from(b & 0x7f);
        if i == 9 && bits > 1 {
            return None;
        }
        value |= bits << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn an_hour() -> Vec<Sample> {
        (0..61u32)
            .map(|m| Sample {
                at_ms: 1_703_097_600_000 + u64::from(m) * 60_000,
                completed: m * 3,
                failed: m / 4,
            })
            .collect()
    }

    #[test]
    fn an_hour_of_samples_is_a_few_hundred_bytes_and_reads_back() {
        let hour = an_hour();
        let bytes = encode(&hour);
        assert!(bytes.len() < 400, "{} bytes", bytes.len());
        assert_eq!(decode(&bytes), Some(hour));
        assert_eq!(encode(&[]), Vec::<u8>::new());
        assert_eq!(decode(&[]), Some(Vec::new()));
    }

    #[test]
    fn bytes_it_could_not_have_written_are_refused() {
        let bytes = encode(&an_hour());
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None, "cut off");
        assert_eq!(decode(&[2, 0, 0, 0]), None, "another format");
        assert_eq!(
            decode(&[FORMAT, 0xff, 0xff, 0xff]),
            None,
            "an endless varint"
        );
        let mut past_64_bits = vec![FORMAT];
        past_64_bits.extend([0xff; 9]);
        past_64_bits.push(0x02);
        assert_eq!(decode(&past_64_bits), None, "past 64 bits");
    }

    proptest! {
        /// Any samples, counters going down or wrapping included, read back as they were.
        #[test]
        fn any_samples_read_back(raw in proptest::collection::vec(any::<(u64, u32, u32)>(), 0..80)) {
            let samples: Vec<Sample> = raw
                .into_iter()
                .map(|(at_ms, completed, failed)| Sample { at_ms, completed, failed })
                .collect();
            prop_assert_eq!(decode(&encode(&samples)), Some(samples));
        }

        #[test]
        fn any_bytes_decode_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }
    }
}
