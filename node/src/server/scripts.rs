//! The script commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD / EXISTS / FLUSH /
//! KILL / HELP, declared once here.
//!
//! A script runs on the leader of its keys' shard (`dispatch/script.rs` sends it, the shard
//! actor runs it: `scripting/`). The script cache EVALSHA looks in is the node's, as redis's is
//! its server's: EVAL and SCRIPT LOAD add to it, SCRIPT FLUSH empties it.

use super::commands::help;
use super::{Handler, ServerState};
use crate::commands::args::is;
use crate::commands::registry::{Command, Routing};
use crate::protocol::Frame;
use crate::scripting;

/// The family's commands.
pub static COMMANDS: &[Command<Handler>] = &[
    Command {
        name: "eval",
        routing: Routing::Script,
    },
    Command {
        name: "evalsha",
        routing: Routing::Script,
    },
    Command {
        name: "eval_ro",
        routing: Routing::Script,
    },
    Command {
        name: "evalsha_ro",
        routing: Routing::Script,
    },
    Command::node("script|load", |argv, _, state| {
        Some(match scripting::check_syntax(&argv[2]) {
            Ok(()) => Frame::bulk_from(remember(state, &argv[2]).as_bytes()),
            Err(e) => e,
        })
    }),
    Command::node("script|exists", |argv, _, state| {
        let cache = state.scripts.lock().unwrap_or_else(|p| p.into_inner());
        Some(Frame::Array(
            argv[2..]
                .iter()
                .map(|sha| {
                    let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                    Frame::Integer(i64::from(cache.contains_key(&sha)))
                })
                .collect(),
        ))
    }),
    Command::node("script|flush", |argv, _, state| {
        if argv.len() > 3
            || argv
                .get(2)
                .is_some_and(|m| !is(m, "sync") && !is(m, "async"))
        {
            return Some(Frame::error(
                "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
            ));
        }
        state
            .scripts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        Some(Frame::ok())
    }),
    Command::node("script|kill", |_, _, state| Some(kill(state, false))),
    Command::node("script|help", |_, _, _| {
        Some(help(&[
            "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
            "HELP",
            "    Prints this help.",
        ]))
    }),
];

/// SCRIPT KILL (`functions` false) or FUNCTION KILL: stops what runs of that kind on every
/// shard of the node.
pub fn kill(state: &ServerState, functions: bool) -> Frame {
    let groups = state.groups.load();
    let found = groups
        .all()
        .map(|(_, g)| g.shard.counters.script.kill(functions))
        .collect::<Vec<_>>();
    scripting::Kill::reply(found.into_iter(), functions)
}

/// Adds a body to the node's script cache; its SHA-1.
pub fn remember(state: &ServerState, body: &bytes::Bytes) -> String {
    let sha = scripting::sha1_hex(body);
    state
        .scripts
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(sha.clone())
        .or_insert_with(|| body.clone());
    sha
}
