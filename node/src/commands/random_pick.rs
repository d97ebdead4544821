//! What HRANDFIELD, SRANDMEMBER and ZRANDMEMBER (and SPOP's pick) share: the count argument,
//! read as redis reads it, and which positions a count picks.

use rand::Rng;

use super::args;
use super::reply_budget;
use crate::protocol::Frame;

/// Most elements a negative count may ask for. Redis builds such a reply whatever its size
/// (`HRANDFIELD k -9223372036854775807` makes redis-server 7.0 allocate until it is killed);
/// Shardis answers redis's out-of-range error past this, about a gigabyte of reply.
pub const MAX_RANDOM_PICKS: i64 = 1 << 24;

/// A count argument in `-LONG_MAX..=LONG_MAX`, as redis's `getRangeLongFromObjectOrReply`.
pub fn ranged_count(arg: &[u8]) -> Result<i64, Frame> {
    match args::int(arg)? {
        i64::MIN => Err(Frame::error(
            "ERR value is out of range, value must between -9223372036854775807 and \
             9223372036854775807",
        )),
        n => Ok(n),
    }
}

/// The negative-count limits: [`MAX_RANDOM_PICKS`], and redis's own `LONG_MAX / 2` for the forms
/// that reply pairs (WITHVALUES, WITHSCORES).
pub fn check_negative(count: i64, pairs: bool) -> Result<(), Frame> {
    if count < -MAX_RANDOM_PICKS || (pairs && count < -(i64::MAX / 2)) {
        return Err(Frame::error("ERR value is out of range"));
    }
    Ok(())
}

/// Refuses, before any pick is made, a count whose reply would not fit in memory
/// ([`reply_budget`]): `|count|` picks (for a positive count, `len` at most) of the average size
/// of the `len` elements taking `bytes`.
pub fn check_reply(count: i64, len: usize, bytes: usize) -> Result<(), Frame> {
    let picks = match count < 0 {
        true => count.unsigned_abs(),
        false => (count as u64).min(len as u64),
    };
    let each = bytes / len.max(1) + reply_budget::PER_ELEMENT;
    reply_budget::check(
        usize::try_from(picks)
            .unwrap_or(usize::MAX)
            .saturating_mul(each),
    )
}

/// The positions (below `len`, which is not 0) a count picks: `|count|` uniform picks that may
/// repeat for a negative count, every position for a count of at least `len`, else `count`
/// distinct ones.
pub fn positions(len: usize, count: i64) -> Vec<usize> {
    let mut rng = rand::rng();
    if count < 0 {
        (0..count.unsigned_abs())
            .map(|_| rng.random_range(0..len))
            .collect()
    } else if count as u64 >= len as u64 {
        (0..len).collect()
    } else {
        rand::seq::index::sample(&mut rng, len, count as usize).into_vec()
    }
}

/// One uniform position below `len` (not 0).
pub fn one(len: usize) -> usize {
    rand::rng().random_range(0..len)
}
