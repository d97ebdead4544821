//! The transaction commands: MULTI, EXEC, DISCARD, WATCH, UNWATCH, declared once here.
//!
//! MULTI, DISCARD and UNWATCH only change the connection's session. EXEC and WATCH need the
//! shards (the transaction's entry, the watched keys' versions), so the dispatcher runs them
//! (`dispatch/transaction.rs`); queueing between MULTI and EXEC happens there too.

use super::Handler;
use crate::commands::registry::{Command, Routing};
use crate::protocol::Frame;

/// The family's commands.
pub static COMMANDS: &[Command<Handler>] = &[
    Command::node("multi", |_, session, _| {
        Some(if session.multi.is_some() {
            Frame::error("ERR MULTI calls can not be nested")
        } else {
            session.begin_multi();
            Frame::ok()
        })
    }),
    Command {
        name: "exec",
        routing: Routing::Exec,
    },
    Command::node("discard", |_, session, _| {
        Some(if session.multi.is_some() {
            session.end_multi();
            Frame::ok()
        } else {
            Frame::error("ERR DISCARD without MULTI")
        })
    }),
    Command {
        name: "watch",
        routing: Routing::Watch,
    },
    Command::node("unwatch", |_, session, _| {
        session.unwatch();
        Some(Frame::ok())
    }),
];
