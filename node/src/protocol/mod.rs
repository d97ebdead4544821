//! The wire protocol: RESP2/RESP3 replies ([`frame`]), a connection's replies waiting to be
//! written ([`output`]), and the incremental request parser ([`parse`]).

pub mod frame;
pub mod output;
pub mod parse;

pub use frame::Frame;
pub use output::Output;
pub use parse::{ProtocolError, RequestParser};
