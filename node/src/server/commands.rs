//! Connection and server commands, answered by the connection without touching a shard:
//! PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET, READONLY/READWRITE/ASKING, CLIENT, COMMAND,
//! CONFIG, TIME, SHUTDOWN, OBJECT HELP, and CLUSTER (see `cluster`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use super::{Handler, ServerState};
use crate::commands::args::{self, Argv};
use crate::commands::errors;
use crate::commands::registry::Command;
use crate::commands::table::{self, BeginSearch, CommandSpec, FindKeys};
use crate::glob;
use crate::keyspace::encoding::Setting;
use crate::limits::{parse_memory, parse_u64};
use crate::protocol::Frame;
use crate::session::ClientHandle;
use crate::session::Session;

/// The connection and server commands.
pub static COMMANDS: &[Command<Handler>] = &[
    Command::node("ping", |argv, _, _| {
        Some(match argv.get(1) {
            _ if argv.len() > 2 => errors::wrong_arity("ping"),
            None => Frame::simple("PONG"),
            Some(msg) => Frame::Bulk(msg.clone()),
        })
    }),
    Command::node("echo", |argv, _, _| Some(Frame::Bulk(argv[1].clone()))),
    Command::node("hello", |argv, session, state| {
        Some(hello(argv, session, state))
    }),
    Command::node("auth", |argv, session, state| {
        Some(auth(argv, session, state))
    }),
    Command::node("select", |argv, _, _| {
        Some(match args::int(&argv[1]) {
            Err(e) => e,
            Ok(0) => Frame::ok(),
            Ok(_) => Frame::error("ERR SELECT is not allowed in cluster mode"),
        })
    }),
    Command::node("quit", |_, session, _| {
        session.closing = true;
        Some(Frame::ok())
    }),
    Command::node("reset", |_, session, state| Some(reset(session, state))),
    Command::node("readonly", |_, session, _| {
        Some(set_readonly(session, true))
    }),
    Command::node("readwrite", |_, session, _| {
        Some(set_readonly(session, false))
    }),
    Command::node("asking", |_, _, _| Some(Frame::ok())),
    Command::node("time", |_, _, _| Some(time())),
    Command::node("shutdown", shutdown),
    Command::node("object|help", |_, _, _| {
        Some(help(&[
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "HELP",
            "    Prints this help.",
        ]))
    }),
    Command::node("memory|help", |_, _, _| {
        Some(help(&[
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
            "HELP",
            "    Prints this help.",
        ]))
    }),
    Command::node("memory|stats", |_, _, st| {
        Some(super::info::memory_stats(st))
    }),
    Command::node("memory|doctor", |_, _, st| {
        Some(super::info::memory_doctor(st))
    }),
    Command::node("memory|malloc-stats", |_, _, _| {
        Some(Frame::Verbatim(Bytes::from(
            super::allocator::malloc_stats(),
        )))
    }),
    Command::node("memory|purge", |_, _, _| {
        Some(match super::allocator::purge_allocator() {
            true => Frame::ok(),
            false => Frame::error("ERR Error purging dirty pages"),
        })
    }),
    Command::node("client|id", |a, s, st| Some(client_id(a, s, st))),
    Command::node("client|setname", |a, s, st| Some(client_setname(a, s, st))),
    Command::node("client|getname", |a, s, st| Some(client_getname(a, s, st))),
    Command::node("client|setinfo", |a, s, st| Some(client_setinfo(a, s, st))),
    Command::node("client|list", |a, s, st| Some(client_list(a, s, st))),
    Command::node("client|info", |a, s, st| Some(client_info(a, s, st))),
    Command::node("client|kill", |a, s, st| Some(client_kill(a, s, st))),
    Command::node("client|unblock", |a, s, st| Some(client_unblock(a, s, st))),
    Command::node("client|help", |a, s, st| Some(client_help(a, s, st))),
    Command::node("command", |a, s, st| Some(command_all(a, s, st))),
    Command::node("command|count", |a, s, st| Some(command_count(a, s, st))),
    Command::node("command|info", |a, s, st| {
        Some(command_info_reply(a, s, st))
    }),
    Command::node("command|docs", |a, s, st| {
        Some(command_docs_reply(a, s, st))
    }),
    Command::node("command|list", |a, s, st| Some(command_list(a, s, st))),
    Command::node("command|getkeys", |a, s, st| {
        Some(command_getkeys(a, s, st))
    }),
    Command::node("command|help", |a, s, st| Some(command_help(a, s, st))),
    Command::node("config|get", |a, s, st| Some(config_get(a, s, st))),
    Command::node("config|set", |a, s, st| Some(config_set(a, s, st))),
    Command::node("config|resetstat", |a, s, st| {
        Some(config_resetstat(a, s, st))
    }),
    Command::node("config|help", |a, s, st| Some(config_help(a, s, st))),
];

/// RESET: the connection as it was when it connected (protocol 2, not READONLY, no name, and
/// authenticated only if no password is set).
fn reset(session: &mut Session, state: &ServerState) -> Frame {
    session.end_multi();
    session.set_proto(2);
    session.set_readonly(false);
    session.authenticated = state.requirepass().is_none();
    session.handle.update(|m| m.name.clear());
    Frame::simple("RESET")
}

/// READONLY / READWRITE.
fn set_readonly(session: &mut Session, readonly: bool) -> Frame {
    session.set_readonly(readonly);
    Frame::ok()
}

/// TIME: seconds and microseconds.
fn time() -> Frame {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Frame::Array(vec![
        Frame::bulk_int(now.as_secs() as i64),
        Frame::bulk_int(i64::from(now.subsec_micros())),
    ])
}

pub(super) fn help(lines: &[&'static str]) -> Frame {
    Frame::Array(lines.iter().map(|l| Frame::simple(l)).collect())
}

fn check_password(state: &ServerState, user: &[u8], pass: &[u8]) -> bool {
    let Some(pw) = state.requirepass() else {
        return user == b"default";
    };
    user == b"default" && pass == pw.as_bytes()
}

fn wrongpass() -> Frame {
    Frame::error("WRONGPASS invalid username-password pair or user is disabled.")
}

fn auth(argv: &Argv, session: &mut Session, state: &ServerState) -> Frame {
    if argv.len() > 3 {
        return errors::syntax();
    }
    if argv.len() == 2 && state.requirepass().is_none() {
        return Frame::error(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        );
    }
    let (user, pass) = if argv.len() == 3 {
        (&argv[1], &argv[2])
    } else {
        (&Bytes::from_static(b"default"), &argv[1])
    };
    if check_password(state, user, pass) {
        session.authenticated = true;
        Frame::ok()
    } else {
        wrongpass()
    }
}

fn hello(argv: &Argv, session: &mut Session, state: &ServerState) -> Frame {
    let mut proto = session.proto();
    if let Some(v) = argv.get(1) {
        match args::int(v) {
            Ok(v) if v == 2 || v == 3 => proto = v as u8,
            Ok(_) => return Frame::error("NOPROTO unsupported protocol version"),
            Err(_) => {
                return Frame::error("ERR Protocol version is not an integer or out of range")
            }
        }
    }
    let mut name = None;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if args::is(&argv[i], "auth") && more >= 2 {
            if !check_password(state, &argv[i + 1], &argv[i + 2]) {
                return wrongpass();
            }
            session.authenticated = true;
            i += 3;
        } else if args::is(&argv[i], "setname") && more >= 1 {
            if let Err(e) = valid_name(&argv[i + 1], "Client names") {
                return e;
            }
            name = Some(String::from_utf8_lossy(&argv[i + 1]).into_owned());
            i += 2;
        } else {
            return Frame::error_owned(format!(
                "ERR Syntax error in HELLO option '{}'",
                errors::quote_arg(&argv[i], 128)
            ));
        }
    }
    if !session.authenticated {
        return Frame::error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        );
    }
    session.set_proto(proto);
    if let Some(n) = name {
        session.handle.update(|m| m.name = n);
    }
    let bulk = |s: &str| Frame::bulk_from(s.as_bytes());
    Frame::Map(vec![
        (bulk("server"), bulk("redis")),
        (bulk("version"), bulk(super::REDIS_VERSION)),
        (bulk("proto"), Frame::Integer(i64::from(proto))),
        (bulk("id"), Frame::Integer(session.handle.id as i64)),
        (bulk("mode"), bulk("cluster")),
        (bulk("role"), bulk("master")),
        (bulk("modules"), Frame::Array(Vec::new())),
    ])
}

fn shutdown(argv: &Argv, session: &mut Session, state: &Arc<ServerState>) -> Option<Frame> {
    for a in &argv[1..] {
        if !["nosave", "save", "now", "force", "abort"]
            .iter()
            .any(|w| args::is(a, w))
        {
            return Some(errors::syntax());
        }
        if args::is(a, "abort") {
            return Some(Frame::error("ERR No shutdown in progress."));
        }
    }
    tracing::warn!(client = session.handle.id, "SHUTDOWN requested by a client");
    session.closing = true;
    state.begin_shutdown();
    None
}

/// CLIENT SETNAME / SETINFO rule: printable ASCII without spaces.
fn valid_name(name: &[u8], what: &str) -> Result<(), Frame> {
    if name.iter().all(|&c| (b'!'..=b'~').contains(&c)) {
        Ok(())
    } else {
        Err(Frame::error_owned(format!(
            "ERR {what} cannot contain spaces, newlines or special characters."
        )))
    }
}

/// One CLIENT LIST line (without the newline).
pub fn client_line(c: &ClientHandle) -> String {
    let m = c.meta();
    // In redis's order.
    let mut flags = String::new();
    for (set, flag) in [
        (m.multi >= 0, 'x'),
        (c.blocked.load(Ordering::Relaxed), 'b'),
        (c.readonly(), 'r'),
    ] {
        if set {
            flags.push(flag);
        }
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let (qbuf, rbs, omem) = c.buffers.sizes();
    format!(
        "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags={} db=0 sub=0 psub=0 ssub=0 multi={} watch={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp={} obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
        c.id,
        c.addr,
        c.laddr,
        m.name,
        c.created.elapsed().as_secs(),
        m.last_active.elapsed().as_secs(),
        flags,
        m.multi,
        m.watch,
        qbuf,
        rbs.saturating_sub(qbuf),
        rbs,
        rbs,
        omem,
        rbs + omem,
        m.last_cmd,
        c.proto(),
        m.lib_name,
        m.lib_ver
    )
}

/// CLIENT ID.
fn client_id(_argv: &Argv, session: &mut Session, _state: &ServerState) -> Frame {
    Frame::Integer(session.handle.id as i64)
}

/// CLIENT SETNAME.
fn client_setname(argv: &Argv, session: &mut Session, _state: &ServerState) -> Frame {
    match valid_name(&argv[2], "Client names") {
        Err(e) => e,
        Ok(()) => {
            let n = String::from_utf8_lossy(&argv[2]).into_owned();
            session.handle.update(|m| m.name = n);
            Frame::ok()
        }
    }
}

/// CLIENT GETNAME.
fn client_getname(_argv: &Argv, session: &mut Session, _state: &ServerState) -> Frame {
    let n = session.handle.meta().name;
    if n.is_empty() {
        Frame::Null
    } else {
        Frame::Bulk(Bytes::from(n))
    }
}

/// CLIENT SETINFO.
fn client_setinfo(argv: &Argv, session: &mut Session, _state: &ServerState) -> Frame {
    let value = &argv[3];
    let (is_name, label) = if args::is(&argv[2], "lib-name") {
        (true, "lib-name")
    } else if args::is(&argv[2], "lib-ver") {
        (false, "lib-ver")
    } else {
        return Frame::error_owned(format!(
            "ERR Unrecognized option '{}'",
            errors::quote_arg(&argv[2], 128)
        ));
    };
    if let Err(e) = valid_name(value, label) {
        return e;
    }
    let v = String::from_utf8_lossy(value).into_owned();
    session.handle.update(|m| {
        if is_name {
            m.lib_name = v
        } else {
            m.lib_ver = v
        }
    });
    Frame::ok()
}

/// CLIENT LIST.
fn client_list(_argv: &Argv, _session: &mut Session, state: &ServerState) -> Frame {
    let mut text = String::new();
    for c in state.client_list() {
        text.push_str(&client_line(&c));
        text.push('\n');
    }
    Frame::Verbatim(Bytes::from(text))
}

/// CLIENT INFO.
fn client_info(_argv: &Argv, session: &mut Session, _state: &ServerState) -> Frame {
    Frame::Verbatim(Bytes::from(client_line(&session.handle) + "\n"))
}

/// CLIENT HELP.
fn client_help(_argv: &Argv, _session: &mut Session, _state: &ServerState) -> Frame {
    help(&[
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are: ID, ADDR, LADDR, TYPE, USER, SKIPME, MAXAGE.",
        "LIST",
        "    Return information about client connections.",
        "SETINFO <option> <value>",
        "    Set client meta attributes: LIB-NAME or LIB-VER.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "HELP",
        "    Prints this help.",
    ])
}

/// Closes client `c`: another connection at once; this very one once the replies so far
/// (CLIENT KILL's own included) are written, before the batch's later requests run (as redis
/// does), so it is not told to stop in the middle of writing them.
fn kill_client(c: &ClientHandle, session: &mut Session) {
    if c.id == session.handle.id {
        session.closing = true;
    } else {
        c.kill();
    }
}

/// CLIENT KILL.
/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: ends a blocking pop's wait, answered as if it timed out
/// or with redis's UNBLOCKED error. 1 when that client was waiting, else 0.
fn client_unblock(argv: &Argv, _session: &mut Session, state: &ServerState) -> Frame {
    let Some(id) = crate::protocol::parse::parse_i64(&argv[2]) else {
        return errors::not_integer();
    };
    let with_error = match argv.get(3) {
        None => false,
        Some(w) if args::is(w, "timeout") => false,
        Some(w) if args::is(w, "error") => true,
        Some(_) => return Frame::error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
    };
    let clients = state.client_list();
    match clients
        .iter()
        .find(|c| c.id as i64 == id && c.blocked.load(Ordering::Acquire))
    {
        Some(c) => {
            c.unblock_error.store(with_error, Ordering::Release);
            c.unblock.notify_one();
            Frame::Integer(1)
        }
        None => Frame::Integer(0),
    }
}

fn client_kill(argv: &Argv, session: &mut Session, state: &ServerState) -> Frame {
    let clients = state.client_list();
    if argv.len() == 3 {
        let addr = String::from_utf8_lossy(&argv[2]);
        return match clients.iter().find(|c| c.addr.to_string() == addr) {
            Some(c) => {
                kill_client(c, session);
                Frame::ok()
            }
            None => Frame::error("ERR No such client"),
        };
    }
    if !argv.len().is_multiple_of(2) {
        return errors::syntax();
    }
    let mut id = None;
    let mut addr = None;
    let mut laddr = None;
    let mut skipme = true;
    let mut maxage = None;
    let mut type_ok = true;
    let mut user_ok = true;
    for pair in argv[2..].chunks(2) {
        let (opt, val) = (&pair[0], &pair[1]);
        if args::is(opt, "id") {
            match crate::protocol::parse::parse_i64(val) {
                Some(n) if n > 0 => id = Some(n as u64),
                _ => return Frame::error("ERR client-id should be greater than 0"),
            }
        } else if args::is(opt, "addr") {
            addr = Some(String::from_utf8_lossy(val).into_owned());
        } else if args::is(opt, "laddr") {
            laddr = Some(String::from_utf8_lossy(val).into_owned());
        } else if args::is(opt, "skipme") {
            if args::is(val, "yes") {
                skipme = true;
            } else if args::is(val, "no") {
                skipme = false;
            } else {
                return errors::syntax();
            }
        } else if args::is(opt, "type") {
            if args::is(val, "normal") {
                type_ok = true;
            } else if ["master", "slave", "replica", "pubsub"]
                .iter()
                .any(|t| args::is(val, t))
            {
                type_ok = false;
            } else {
                return Frame::error_owned(format!(
                    "ERR Unknown client type '{}'",
                    errors::quote_arg(val, 128)
                ));
            }
        } else if args::is(opt, "user") {
            if val.as_ref() != b"default" {
                return Frame::error_owned(format!(
                    "ERR No such user '{}'",
                    errors::quote_arg(val, 128)
                ));
            }
            user_ok = true;
        } else if args::is(opt, "maxage") {
            match args::int(val) {
                Ok(n) => maxage = Some(n),
                Err(e) => return e,
            }
        } else {
            return errors::syntax();
        }
    }
    let mut killed = 0;
    for c in clients {
        let matches = type_ok
            && user_ok
            && id.is_none_or(|i| c.id == i)
            && addr.as_ref().is_none_or(|a| c.addr.to_string() == *a)
            && laddr.as_ref().is_none_or(|a| c.laddr.to_string() == *a)
            && maxage.is_none_or(|age| c.created.elapsed().as_secs() as i64 >= age)
            && !(skipme && c.id == session.handle.id);
        if matches {
            kill_client(&c, session);
            killed += 1;
        }
    }
    Frame::Integer(killed)
}

/// COMMAND INFO's 10-element description of one command.
pub fn command_info(spec: &CommandSpec) -> Frame {
    let status_set = |items: &[&str]| {
        Frame::Set(
            items
                .iter()
                .map(|s| Frame::Simple(Bytes::from(s.to_string())))
                .collect(),
        )
    };
    let bulk = |s: &str| Frame::bulk_from(s.as_bytes());
    let int = |n: i32| Frame::Integer(i64::from(n));
    let key_specs = spec
        .key_specs
        .iter()
        .map(|ks| {
            let mut pairs = Vec::new();
            if !ks.notes.is_empty() {
                pairs.push((bulk("notes"), bulk(ks.notes)));
            }
            pairs.push((bulk("flags"), status_set(ks.flags)));
            let begin = match ks.begin_search {
                BeginSearch::Index(i) => (bulk("index"), Frame::Map(vec![(bulk("index"), int(i))])),
                BeginSearch::Keyword {
                    keyword,
                    start_from,
                } => (
                    bulk("keyword"),
                    Frame::Map(vec![
                        (bulk("keyword"), bulk(keyword)),
                        (bulk("startfrom"), int(start_from)),
                    ]),
                ),
                BeginSearch::Unknown => (bulk("unknown"), Frame::Map(Vec::new())),
            };
            pairs.push((
                bulk("begin_search"),
                Frame::Map(vec![(bulk("type"), begin.0), (bulk("spec"), begin.1)]),
            ));
            let find = match ks.find_keys {
                FindKeys::Range {
                    last_key,
                    key_step,
                    limit,
                } => (
                    bulk("range"),
                    Frame::Map(vec![
                        (bulk("lastkey"), int(last_key)),
                        (bulk("keystep"), int(key_step)),
                        (bulk("limit"), int(limit)),
                    ]),
                ),
                FindKeys::Keynum {
                    keynum_idx,
                    first_key,
                    key_step,
                } => (
                    bulk("keynum"),
                    Frame::Map(vec![
                        (bulk("keynumidx"), int(keynum_idx)),
                        (bulk("firstkey"), int(first_key)),
                        (bulk("keystep"), int(key_step)),
                    ]),
                ),
                FindKeys::Unknown => (bulk("unknown"), Frame::Map(Vec::new())),
            };
            pairs.push((
                bulk("find_keys"),
                Frame::Map(vec![(bulk("type"), find.0), (bulk("spec"), find.1)]),
            ));
            Frame::Map(pairs)
        })
        .collect();
    Frame::Array(vec![
        bulk(spec.name),
        int(spec.arity),
        status_set(spec.flags),
        int(spec.first_key),
        int(spec.last_key),
        int(spec.step),
        status_set(spec.acl_categories),
        Frame::Set(spec.tips.iter().map(|t| bulk(t)).collect()),
        Frame::Set(key_specs),
        Frame::Set(spec.subcommands.iter().map(command_info).collect()),
    ])
}

fn command_docs(spec: &CommandSpec) -> Frame {
    let bulk = |s: &str| Frame::bulk_from(s.as_bytes());
    let mut pairs = vec![
        (bulk("summary"), bulk(spec.summary)),
        (bulk("since"), bulk(spec.since)),
        (bulk("group"), bulk(spec.group)),
    ];
    if !spec.complexity.is_empty() {
        pairs.push((bulk("complexity"), bulk(spec.complexity)));
    }
    if !spec.doc_flags.is_empty() {
        pairs.push((
            bulk("doc_flags"),
            Frame::Set(
                spec.doc_flags
                    .iter()
                    .map(|f| Frame::Simple(Bytes::from(f.to_string())))
                    .collect(),
            ),
        ));
    }
    if !spec.subcommands.is_empty() {
        pairs.push((
            bulk("subcommands"),
            Frame::Map(
                spec.subcommands
                    .iter()
                    .map(|s| (bulk(s.name), command_docs(s)))
                    .collect(),
            ),
        ));
    }
    Frame::Map(pairs)
}

/// A command or `parent|sub` name looked up as COMMAND INFO/DOCS take it.
fn find_any(name: &[u8]) -> Option<&'static CommandSpec> {
    match memchr::memchr(b'|', name) {
        None => table::lookup(name),
        Some(i) => table::lookup_subcommand(table::lookup(&name[..i])?, &name[i + 1..]),
    }
}

fn all_specs() -> impl Iterator<Item = &'static CommandSpec> {
    table::COMMANDS
        .iter()
        .flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
}

/// COMMAND.
fn command_all(_argv: &Argv, _session: &mut Session, _state: &ServerState) -> Frame {
    Frame::Array(table::COMMANDS.iter().map(command_info).collect())
}

/// COMMAND COUNT.
fn command_count(_argv: &Argv, _session: &mut Session, _state: &ServerState) -> Frame {
    Frame::Integer(table::COMMANDS.len() as i64)
}

/// COMMAND INFO.
fn command_info_reply(argv: &Argv, _session: &mut Session, _state: &ServerState) -> Frame {
    if argv.len() == 2 {
        return Frame::Array(table::COMMANDS.iter().map(command_info).collect());
    }
    Frame::Array(
        argv[2..]
            .iter()
            .map(|n| find_any(n).map_or(Frame::Null, command_info))
            .collect(),
    )
}

/// COMMAND DOCS.
fn command_docs_reply(argv: &Argv, _session: &mut Session, _state: &ServerState) -> Frame {
    let specs: Vec<&CommandSpec> = if argv.len() == 2 {
        table::COMMANDS.iter().collect()
    } else {
        argv[2..].iter().filter_map(|n| find_any(n)).collect()
    };
    Frame::Map(
        specs
            .into_iter()
            .map(|s| (Frame::bulk_from(s.name.as_bytes()), command_docs(s)))
            .collect(),
    )
}

/// COMMAND LIST.
fn command_list(argv: &Argv, _session: &mut Session, _state: &ServerState) -> Frame {
    let filter = if argv.len() == 2 {
        None
    } else if argv.len() == 5 && args::is(&argv[2], "filterby") {
        Some((argv[3].clone(), argv[4].clone()))
    } else {
        return errors::syntax();
    };
    let keep = |s: &CommandSpec| match &filter {
        None => true,
        Some((kind, value)) if args::is(kind, "pattern") => {
            glob::matches(value, s.name.as_bytes(), true)
        }
        Some((kind, value)) if args::is(kind, "aclcat") => s.acl_categories.iter().any(|c| {
            c.trim_start_matches('@')
                .as_bytes()
                .eq_ignore_ascii_case(value)
        }),
        Some((kind, _)) if args::is(kind, "module") => false,
        Some(_) => false,
    };
    if let Some((kind, _)) = &filter {
        if !["pattern", "aclcat", "module"]
            .iter()
            .any(|k| args::is(kind, k))
        {
            return errors::syntax();
        }
    }
    Frame::Array(
        all_specs()
            .filter(|s| keep(s))
            .map(|s| Frame::bulk_from(s.name.as_bytes()))
            .collect(),
    )
}

/// COMMAND GETKEYS.
fn command_getkeys(argv: &Argv, _session: &mut Session, _state: &ServerState) -> Frame {
    let cmd_argv = &argv[2..];
    let Some(mut spec) = table::lookup(&cmd_argv[0]) else {
        return Frame::error("ERR Invalid command specified");
    };
    if !spec.subcommands.is_empty() && cmd_argv.len() >= 2 {
        match table::lookup_subcommand(spec, &cmd_argv[1]) {
            Some(sub) => spec = sub,
            None => return Frame::error("ERR Invalid command specified"),
        }
    }
    if !table::arity_ok(spec, cmd_argv.len()) {
        return Frame::error("ERR Invalid number of arguments specified for command");
    }
    if !table::has_keys(spec) {
        return Frame::error("ERR The command has no key arguments");
    }
    let refs: Vec<&[u8]> = cmd_argv.iter().map(|a| a.as_ref()).collect();
    match table::key_positions(spec, &refs) {
        Ok(pos) if !pos.is_empty() => Frame::Array(
            pos.into_iter()
                .map(|i| Frame::Bulk(cmd_argv[i].clone()))
                .collect(),
        ),
        Ok(_) => Frame::error("ERR The command has no key arguments"),
        Err(()) => Frame::error("ERR Invalid arguments specified for command"),
    }
}

/// COMMAND HELP.
fn command_help(_argv: &Argv, _session: &mut Session, _state: &ServerState) -> Frame {
    help(&[
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all commands.",
        "COUNT",
        "    Return the total number of commands in this server.",
        "LIST",
        "    Return a list of all commands in this server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple commands.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple commands.",
        "GETKEYS <full-command>",
        "    Return the keys from a full command.",
        "HELP",
        "    Prints this help.",
    ])
}

/// Applies a CONFIG SET value, or says why it cannot.
type ParamSetter = fn(&ServerState, &[u8]) -> Result<(), String>;

/// One CONFIG parameter: its name, how to read it, and whether CONFIG SET may change it.
struct Param {
    name: &'static str,
    get: fn(&ServerState) -> String,
    set: Option<ParamSetter>,
}

const PARAMS: &[Param] = &[
    Param {
        name: "bind",
        get: |s| s.config.bind.clone(),
        set: None,
    },
    Param {
        name: "port",
        get: |s| s.local_addr.port().to_string(),
        set: None,
    },
    Param {
        name: "shards",
        get: |s| s.config.shards.to_string(),
        set: None,
    },
    Param {
        name: "shard-queue",
        get: |s| s.config.shard_queue.to_string(),
        set: None,
    },
    Param {
        name: "hz",
        get: |s| s.config.hz.to_string(),
        set: None,
    },
    Param {
        name: "loglevel",
        get: |s| s.config.log_level.clone(),
        set: None,
    },
    Param {
        name: "maxclients",
        get: |s| s.runtime.maxclients.load(Ordering::Relaxed).to_string(),
        set: Some(|s, v| {
            let n = parse_u64(v)?;
            if n == 0 || n > u64::from(u32::MAX) {
                return Err("argument must be between 1 and 4294967295 inclusive".into());
            }
            crate::fd_limit::allow_maxclients(
                n,
                crate::fd_limit::reserved_fds(s.config.nodes.len()),
            )?;
            s.runtime.maxclients.store(n as usize, Ordering::Relaxed);
            Ok(())
        }),
    },
    Param {
        name: "timeout",
        get: |s| s.runtime.timeout.load(Ordering::Relaxed).to_string(),
        set: Some(|s, v| {
            s.runtime.timeout.store(parse_u64(v)?, Ordering::Relaxed);
            Ok(())
        }),
    },
    Param {
        name: "proto-max-bulk-len",
        get: |s| {
            s.runtime
                .proto_max_bulk_len
                .load(Ordering::Relaxed)
                .to_string()
        },
        set: Some(|s, v| {
            let n = parse_memory(v)?;
            // Redis allows up to 2^63-1; a Shardis string's length is 32 bits (as in the file).
            if !(1024 * 1024..=u64::from(u32::MAX)).contains(&n) {
                return Err("argument must be between 1048576 and 4294967295 inclusive".into());
            }
            s.runtime.proto_max_bulk_len.store(n, Ordering::Relaxed);
            Ok(())
        }),
    },
    Param {
        name: "client-query-buffer-limit",
        get: |s| {
            s.runtime
                .client_query_buffer_limit
                .load(Ordering::Relaxed)
                .to_string()
        },
        set: Some(|s, v| {
            let n = parse_memory(v)?;
            if !(1024 * 1024..=i64::MAX as u64).contains(&n) {
                return Err(
                    "argument must be between 1048576 and 9223372036854775807 inclusive".into(),
                );
            }
            s.runtime
                .client_query_buffer_limit
                .store(n, Ordering::Relaxed);
            Ok(())
        }),
    },
    Param {
        name: "client-output-buffer-limit",
        get: |s| s.runtime.output_limits.render(),
        set: Some(|s, v| s.runtime.output_limits.set(&String::from_utf8_lossy(v))),
    },
    Param {
        name: "requirepass",
        get: |s| s.requirepass().unwrap_or_default(),
        set: Some(|s, v| {
            if let Ok(mut pw) = s.runtime.requirepass.write() {
                *pw = String::from_utf8_lossy(v).into_owned();
            }
            Ok(())
        }),
    },
    Param {
        name: "databases",
        get: |_| "1".into(),
        set: None,
    },
    Param {
        name: "cluster-enabled",
        get: |_| "yes".into(),
        set: None,
    },
    Param {
        name: "save",
        get: |_| String::new(),
        set: None,
    },
    Param {
        name: "appendonly",
        get: |_| "no".into(),
        set: None,
    },
    Param {
        name: "maxmemory",
        get: |s| s.runtime.maxmemory.load(Ordering::Relaxed).to_string(),
        set: Some(|s, v| {
            let n = parse_memory(v)?;
            s.runtime.maxmemory.store(n, Ordering::Relaxed);
            // Compared at once, not after the gauge's next tick.
            s.refresh_used_memory();
            Ok(())
        }),
    },
    Param {
        name: "maxmemory-policy",
        get: |s| s.eviction_policy().name().into(),
        set: Some(|s, v| {
            let policy = crate::limits::EvictionPolicy::parse(&String::from_utf8_lossy(v))?;
            s.runtime
                .maxmemory_policy
                .store(policy.to_u8(), Ordering::Relaxed);
            crate::keyspace::access::set_lfu(policy.lfu());
            Ok(())
        }),
    },
    Param {
        name: "lfu-log-factor",
        get: |_| crate::keyspace::access::log_factor().to_string(),
        set: Some(|_, v| {
            crate::keyspace::access::set_log_factor(lfu_setting(v)?);
            Ok(())
        }),
    },
    Param {
        name: "lfu-decay-time",
        get: |_| crate::keyspace::access::decay_time().to_string(),
        set: Some(|_, v| {
            crate::keyspace::access::set_decay_time(lfu_setting(v)?);
            Ok(())
        }),
    },
    Param {
        name: "maxmemory-samples",
        get: |s| {
            s.runtime
                .maxmemory_samples
                .load(Ordering::Relaxed)
                .to_string()
        },
        set: Some(|s, v| {
            let n = parse_u64(v)?;
            if !(1..=64).contains(&n) {
                return Err("argument must be between 1 and 64 inclusive".into());
            }
            s.runtime.maxmemory_samples.store(n, Ordering::Relaxed);
            Ok(())
        }),
    },
    // The encodings' thresholds (keyspace/encoding.rs), under redis 7's names and redis 6's.
    Param {
        name: "hash-max-listpack-entries",
        get: |_| Setting::HashMaxEntries.get(),
        set: Some(|_, v| Setting::HashMaxEntries.set(v)),
    },
    Param {
        name: "hash-max-ziplist-entries",
        get: |_| Setting::HashMaxEntries.get(),
        set: Some(|_, v| Setting::HashMaxEntries.set(v)),
    },
    Param {
        name: "hash-max-listpack-value",
        get: |_| Setting::HashMaxValue.get(),
        set: Some(|_, v| Setting::HashMaxValue.set(v)),
    },
    Param {
        name: "hash-max-ziplist-value",
        get: |_| Setting::HashMaxValue.get(),
        set: Some(|_, v| Setting::HashMaxValue.set(v)),
    },
    Param {
        name: "set-max-intset-entries",
        get: |_| Setting::SetMaxIntsetEntries.get(),
        set: Some(|_, v| Setting::SetMaxIntsetEntries.set(v)),
    },
    Param {
        name: "zset-max-listpack-entries",
        get: |_| Setting::ZSetMaxEntries.get(),
        set: Some(|_, v| Setting::ZSetMaxEntries.set(v)),
    },
    Param {
        name: "zset-max-ziplist-entries",
        get: |_| Setting::ZSetMaxEntries.get(),
        set: Some(|_, v| Setting::ZSetMaxEntries.set(v)),
    },
    Param {
        name: "zset-max-listpack-value",
        get: |_| Setting::ZSetMaxValue.get(),
        set: Some(|_, v| Setting::ZSetMaxValue.set(v)),
    },
    Param {
        name: "zset-max-ziplist-value",
        get: |_| Setting::ZSetMaxValue.get(),
        set: Some(|_, v| Setting::ZSetMaxValue.set(v)),
    },
    Param {
        name: "list-max-listpack-size",
        get: |_| Setting::ListMaxSize.get(),
        set: Some(|_, v| Setting::ListMaxSize.set(v)),
    },
    Param {
        name: "list-max-ziplist-size",
        get: |_| Setting::ListMaxSize.get(),
        set: Some(|_, v| Setting::ListMaxSize.set(v)),
    },
];

/// CONFIG GET.
fn config_get(argv: &Argv, _session: &mut Session, state: &ServerState) -> Frame {
    let mut pairs = Vec::new();
    for pat in &argv[2..] {
        let is_pattern = pat.iter().any(|c| matches!(c, b'*' | b'?' | b'['));
        for p in PARAMS {
            let hit = if is_pattern {
                glob::matches(pat, p.name.as_bytes(), true)
            } else {
                pat.eq_ignore_ascii_case(p.name.as_bytes())
            };
            // Like redis: an exact name is echoed as the client spelled it.
            let name = if is_pattern {
                Bytes::from_static(p.name.as_bytes())
            } else {
                pat.clone()
            };
            if hit
                && !pairs
                    .iter()
                    .any(|(n, _): &(Bytes, Bytes)| n.eq_ignore_ascii_case(p.name.as_bytes()))
            {
                pairs.push((name, Bytes::from((p.get)(state))));
            }
        }
    }
    Frame::Map(
        pairs
            .into_iter()
            .map(|(n, v)| (Frame::Bulk(n), Frame::Bulk(v)))
            .collect(),
    )
}

/// CONFIG SET.
fn config_set(argv: &Argv, _session: &mut Session, state: &ServerState) -> Frame {
    if !argv.len().is_multiple_of(2) {
        return errors::wrong_arity("config|set");
    }
    // Check every pair first, so that a bad one changes nothing.
    let mut changes = Vec::new();
    for pair in argv[2..].chunks(2) {
        let Some(p) = PARAMS.iter().find(|p| args::is(&pair[0], p.name)) else {
            return Frame::error_owned(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                errors::quote_arg(&pair[0], 128)
            ));
        };
        let Some(set) = p.set else {
            return Frame::error_owned(format!(
                "ERR CONFIG SET failed (possibly related to argument '{}') - can't set immutable config",
                p.name
            ));
        };
        changes.push((p, set, &pair[1]));
    }
    for (p, set, value) in changes {
        if let Err(e) = set(state, value) {
            return Frame::error_owned(format!(
                "ERR CONFIG SET failed (possibly related to argument '{}') - {e}",
                p.name
            ));
        }
    }
    Frame::ok()
}

/// CONFIG RESETSTAT.
fn config_resetstat(_argv: &Argv, _session: &mut Session, state: &ServerState) -> Frame {
    let s = &state.stats;
    for c in [
        &s.connections_received,
        &s.rejected_connections,
        &s.commands_processed,
        &s.net_input_bytes,
        &s.net_output_bytes,
    ] {
        c.store(0, Ordering::Relaxed);
    }
    Frame::ok()
}

/// CONFIG HELP.
fn config_help(_argv: &Argv, _session: &mut Session, _state: &ServerState) -> Frame {
    help(&[
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "HELP",
        "    Prints this help.",
    ])
}

/// An LFU setting's value: redis reads both as integers in `0..=INT_MAX`.
fn lfu_setting(v: &[u8]) -> Result<u32, String> {
    let n = crate::protocol::parse::parse_i64(v)
        .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
    u32::try_from(n)
        .ok()
        .filter(|n| *n <= i32::MAX as u32)
        .ok_or_else(|| "argument must be between 0 and 2147483647 inclusive".to_string())
}
