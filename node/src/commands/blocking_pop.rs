//! A blocking pop, parsed: the keys it waits on, how long, what it pops and how it answers.
//!
//! Only types and what needs nothing but them live here, so that the command registry can name
//! a blocking command's parser without depending on the families (`blocking.rs` runs them).

use bytes::Bytes;

use super::args::Argv;
use crate::protocol::Frame;

/// Parses a blocking command's arguments (arity already checked).
pub type ParseBlocking = fn(&'static str, &Argv) -> Result<Blocking, Frame>;

/// A blocking pop, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct Blocking {
    /// The keys waited on, in the order they are tried.
    pub keys: Vec<Bytes>,
    /// How long to wait, in milliseconds; 0 waits for ever.
    pub timeout_ms: u64,
    /// What is popped.
    pub op: BlockingOp,
}

/// What a blocking pop pops, and how it answers.
#[derive(Clone, Debug, PartialEq)]
pub enum BlockingOp {
    /// BLPOP / BRPOP: one element, answered `[key, element]`.
    Pop {
        /// From the head.
        front: bool,
    },
    /// BLMOVE / BRPOPLPUSH: one element moved to `dst`, answered as the element.
    Move {
        /// The destination list.
        dst: Bytes,
        /// Pop from the head.
        from_front: bool,
        /// Push at the head.
        to_front: bool,
    },
    /// BLMPOP: up to `count` elements of one list, answered `[key, [elements]]`.
    MPop {
        /// From the head.
        front: bool,
        /// COUNT.
        count: i64,
    },
    /// BZPOPMIN / BZPOPMAX: one member, answered `[key, member, score]`.
    ZPop {
        /// The highest score.
        max: bool,
    },
    /// BZMPOP: up to `count` members of one sorted set, answered `[key, [[member, score]…]]`.
    ZMPop {
        /// The highest scores.
        max: bool,
        /// COUNT.
        count: i64,
    },
}

impl Blocking {
    /// The type of value its keys must hold.
    pub fn wanted(&self) -> &'static str {
        match self.op {
            BlockingOp::Pop { .. } | BlockingOp::Move { .. } | BlockingOp::MPop { .. } => "list",
            BlockingOp::ZPop { .. } | BlockingOp::ZMPop { .. } => "zset",
        }
    }

    /// The command's reply from the reply of [`Blocking::pop`] on `key`; `None` when nothing
    /// was popped (another client was faster): the client waits again.
    pub fn reply(&self, key: &Bytes, popped: Frame) -> Option<Frame> {
        match popped {
            Frame::Error(_) => Some(popped),
            Frame::Null | Frame::NullArray => None,
            Frame::Array(items) if items.is_empty() => None,
            Frame::Bulk(element) => Some(match self.op {
                BlockingOp::Pop { .. } => {
                    Frame::Array(vec![Frame::Bulk(key.clone()), Frame::Bulk(element)])
                }
                _ => Frame::Bulk(element),
            }),
            Frame::Array(mut items) => Some(match self.op {
                BlockingOp::ZPop { .. } => {
                    items.insert(0, Frame::Bulk(key.clone()));
                    Frame::Array(items)
                }
                _ => Frame::Array(items),
            }),
            other => Some(other),
        }
    }

    /// The reply when the timeout passes first: a null array, for every blocking pop (BLMOVE's
    /// included, although it answers a plain element when served), as redis 7.0 answers.
    pub fn timed_out(&self) -> Frame {
        Frame::NullArray
    }
}
