//! The wire protocol: RESP2/RESP3 replies ([`frame`]) and the incremental request parser ([`parse`]).

pub mod frame;
pub mod parse;

pub use frame::Frame;
pub use parse::{ProtocolError, RequestParser};
