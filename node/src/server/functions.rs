//! The function commands: FCALL, FCALL_RO and FUNCTION LOAD / DELETE / FLUSH / RESTORE / LIST
//! / DUMP / STATS / KILL / HELP, declared once here.
//!
//! Libraries are cluster-wide, not per node as on Redis Cluster (where a client loads them on
//! every master): they live in the metadata group as one hash, `{meta}functions` (library name
//! → code, see `raft/meta.rs`). Every change rewrites the hash in one entry guarded by the
//! version it was read at (a transaction entry, as EXEC after WATCH), so two nodes changing
//! libraries at once can neither lose a change nor register one function name twice; the
//! loser reads again and tries again.
//!
//! Each node keeps the libraries loaded in its [`FunctionCache`]: refreshed when the hash's
//! version changes, checked every 200 ms ([`keep_fresh`]), after each change this node makes,
//! and before an FCALL answers that its function does not exist. So a library loaded on one
//! node is callable on all of them once their replica of the metadata group has the entry (a
//! heartbeat), and at once on the node that loaded it.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;

use super::commands::help;
use super::{Handler, ServerState};
use crate::commands::args::{is, Argv};
use crate::commands::registry::{Command, Routing};
use crate::commands::transaction::Seen;
use crate::protocol::Frame;
use crate::scripting::library::{self, FunctionInfo, Libraries, Library};
use crate::scripting::{payload, Engine, ScriptControl};

/// The family's commands.
pub static COMMANDS: &[Command<Handler>] = &[
    Command {
        name: "fcall",
        routing: Routing::Script,
    },
    Command {
        name: "fcall_ro",
        routing: Routing::Script,
    },
    Command {
        name: "function|load",
        routing: Routing::Functions,
    },
    Command {
        name: "function|delete",
        routing: Routing::Functions,
    },
    Command {
        name: "function|flush",
        routing: Routing::Functions,
    },
    Command {
        name: "function|restore",
        routing: Routing::Functions,
    },
    Command::node("function|list", |argv, _, state| Some(list(state, argv))),
    Command::node("function|dump", |_, _, state| {
        let libraries = state.functions.libraries();
        Some(Frame::Bulk(payload::encode(
            libraries.iter().map(|l| l.code.as_ref()),
        )))
    }),
    Command::node("function|stats", |_, _, state| Some(stats(state))),
    Command::node("function|kill", |_, _, state| {
        Some(super::scripts::kill(state, true))
    }),
    Command::node("function|help", |_, _, _| Some(help(HELP))),
];

/// How long FUNCTION LOAD lets a library's code run to register its functions (redis's).
const LOAD_TIMEOUT_MS: u64 = 500;
/// How long a node lets a stored library load: it loaded within [`LOAD_TIMEOUT_MS`] on the
/// node that took it, but this one may be slower; the limit only keeps a node from hanging.
const RELOAD_TIMEOUT_MS: u64 = 10_000;
/// Tries of a change whose guard failed (another node changed the libraries, or this node's
/// replica had not caught up) before answering `-TRYAGAIN`.
const ATTEMPTS: usize = 50;
/// The pause between two tries, and between two reads while waiting for this node's replica.
const PAUSE: Duration = Duration::from_millis(20);

/// The libraries as this node last loaded them from the metadata group.
#[derive(Default)]
pub struct FunctionCache {
    cached: RwLock<Cached>,
}

#[derive(Default)]
struct Cached {
    /// What the libraries' hash held when they were read (`None` before the first read).
    seen: Option<Seen>,
    libraries: Arc<Libraries>,
}

impl FunctionCache {
    /// The libraries.
    pub fn libraries(&self) -> Arc<Libraries> {
        self.cached
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .libraries
            .clone()
    }

    fn seen(&self) -> Option<Seen> {
        self.cached.read().unwrap_or_else(|p| p.into_inner()).seen
    }

    fn store(&self, seen: Seen, libraries: Arc<Libraries>) {
        *self.cached.write().unwrap_or_else(|p| p.into_inner()) = Cached {
            seen: Some(seen),
            libraries,
        };
    }
}

/// Reads the libraries from this node's replica of the metadata group, loading them again if
/// they changed since the last read; what their hash held and the libraries.
pub async fn refresh(state: &ServerState) -> Option<(Seen, Arc<Libraries>)> {
    let (seen, records) = state.meta.read_functions().await?;
    if state.functions.seen() == Some(seen) {
        return Some((seen, state.functions.libraries()));
    }
    let libraries = Arc::new(
        tokio::task::spawn_blocking(move || load_all(records))
            .await
            .ok()?,
    );
    state.functions.store(seen, libraries.clone());
    Some((seen, libraries))
}

/// Keeps the node's libraries fresh; runs until the node stops.
pub async fn keep_fresh(state: Arc<ServerState>) {
    loop {
        refresh(&state).await;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
            () = state.shutdown.wait() => return,
        }
    }
}

/// The function FCALL names and its library; when this node has no such function, its
/// replica of the metadata group is read again, for a little while (a library just loaded on
/// another node may not have reached it yet).
pub async fn find(state: &ServerState, name: &str) -> Option<(Arc<Library>, FunctionInfo)> {
    let lookup = |libraries: &Libraries| {
        libraries
            .function(name)
            .map(|(lib, info)| (lib.clone(), info.clone()))
    };
    if let Some(found) = lookup(&state.functions.libraries()) {
        return Some(found);
    }
    for _ in 0..5 {
        if let Some(found) = refresh(state).await.and_then(|(_, l)| lookup(&l)) {
            return Some(found);
        }
        tokio::time::sleep(PAUSE).await;
    }
    None
}

/// Loads stored libraries (name, code) in a fresh Lua state, to learn what they register; one
/// that no longer loads is left out, with a warning.
fn load_all(records: Vec<(Bytes, Bytes)>) -> Libraries {
    let mut libraries = Libraries::default();
    let mut engine = match Engine::new(Arc::new(ScriptControl::default())) {
        Ok(engine) => engine,
        Err(e) => {
            tracing::warn!(error = %e, "no Lua state to load the function libraries in");
            return libraries;
        }
    };
    for (name, code) in records {
        let added = engine
            .load_library(&code, RELOAD_TIMEOUT_MS)
            .and_then(|(lib, _)| libraries.add(lib, false));
        if let Err(e) = added {
            tracing::warn!(library = %String::from_utf8_lossy(&name), error = %e, "a stored function library was not loaded");
        }
    }
    libraries
}

/// Loads one library's code in a fresh Lua state, as FUNCTION LOAD checks it.
async fn load_one(code: Bytes, timeout_ms: u64) -> Result<Library, Frame> {
    let loaded = tokio::task::spawn_blocking(move || {
        let mut engine = Engine::new(Arc::new(ScriptControl::default()))
            .map_err(|e| format!("Lua state: {e}"))?;
        engine.load_library(&code, timeout_ms).map(|(lib, _)| lib)
    })
    .await
    .unwrap_or_else(|e| Err(format!("loading stopped: {e}")));
    loaded.map_err(|e| Frame::error_owned(format!("ERR {e}")))
}

/// FUNCTION LOAD, DELETE, FLUSH and RESTORE: the change, made in the metadata group.
pub async fn write(state: &ServerState, argv: &Argv) -> Frame {
    let sub = String::from_utf8_lossy(&argv[1]).to_ascii_lowercase();
    match sub.as_str() {
        "load" => load(state, argv).await,
        "delete" => {
            let name = String::from_utf8_lossy(&argv[2]).into_owned();
            change(state, |libs| {
                if libs.remove(&name) {
                    Ok(Frame::ok())
                } else {
                    Err(Frame::error("ERR Library not found"))
                }
            })
            .await
        }
        "flush" => {
            if argv.len() > 3 {
                return subcommand_syntax(argv);
            }
            if argv
                .get(2)
                .is_some_and(|m| !is(m, "sync") && !is(m, "async"))
            {
                return Frame::error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
            }
            change(state, |libs| {
                *libs = Libraries::default();
                Ok(Frame::ok())
            })
            .await
        }
        _ => restore(state, argv).await,
    }
}

/// FUNCTION LOAD [REPLACE] code.
async fn load(state: &ServerState, argv: &Argv) -> Frame {
    let mut replace = false;
    let mut at = 2;
    while at < argv.len() - 1 {
        if !is(&argv[at], "replace") {
            return Frame::error_owned(format!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(&argv[at])
            ));
        }
        replace = true;
        at += 1;
    }
    let Some(code) = argv.get(at).filter(|_| at < argv.len()) else {
        return Frame::error("ERR Function code is missing");
    };
    // Redis's order: the first line, then an existing library, then the code.
    let header = match library::parse_header(code) {
        Ok(h) => h,
        Err(e) => return Frame::error_owned(format!("ERR {e}")),
    };
    if !library::valid_name(&header.name) {
        return Frame::error_owned(format!("ERR {}", library::BAD_NAME));
    }
    if !header.engine.eq_ignore_ascii_case("lua") {
        return Frame::error_owned(format!("ERR Engine '{}' not found", header.engine));
    }
    let exists = |libs: &Libraries| libs.iter().any(|l| l.name == header.name);
    if !replace && exists(&state.functions.libraries()) {
        return Frame::error_owned(format!("ERR Library '{}' already exists", header.name));
    }
    let lib = match load_one(code.clone(), LOAD_TIMEOUT_MS).await {
        Ok(lib) => lib,
        Err(e) => return e,
    };
    let name = Frame::bulk_from(lib.name.as_bytes());
    change(state, |libs| {
        libs.add(lib.clone(), replace)
            .map(|()| name.clone())
            .map_err(|e| Frame::error_owned(format!("ERR {e}")))
    })
    .await
}

/// FUNCTION RESTORE payload [FLUSH | APPEND | REPLACE].
async fn restore(state: &ServerState, argv: &Argv) -> Frame {
    if argv.len() > 4 {
        return subcommand_syntax(argv);
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Policy {
        Append,
        Replace,
        Flush,
    }
    let policy =
        match argv.get(3) {
            None => Policy::Append,
            Some(p) if is(p, "append") => Policy::Append,
            Some(p) if is(p, "replace") => Policy::Replace,
            Some(p) if is(p, "flush") => Policy::Flush,
            Some(_) => return Frame::error(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ),
        };
    let codes = match payload::decode(&argv[2]) {
        Ok(codes) => codes,
        Err(e) => return Frame::error_owned(format!("ERR {}", e.message())),
    };
    // Loaded as redis loads them: into a set of their own first (a payload naming a library
    // twice is refused), then joined to the node's.
    let mut restored = Libraries::default();
    for code in codes {
        let lib = match load_one(code, 0).await {
            Ok(lib) => lib,
            Err(e) => return e,
        };
        if let Err(e) = restored.add(lib, false) {
            return Frame::error_owned(format!("ERR {e}"));
        }
    }
    change(state, |libs| {
        if policy == Policy::Flush {
            *libs = restored.clone();
            return Ok(Frame::ok());
        }
        libs.join(restored.clone(), policy == Policy::Replace)
            .map(|()| Frame::ok())
            .map_err(|e| Frame::error_owned(format!("ERR {e}")))
    })
    .await
}

/// Applies `edit` to the libraries as last stored and stores the result, guarded by what was
/// read; again from a fresh read while another change wins. Answers `edit`'s reply once this
/// node's cache holds the change.
async fn change(
    state: &ServerState,
    edit: impl Fn(&mut Libraries) -> Result<Frame, Frame>,
) -> Frame {
    for _ in 0..ATTEMPTS {
        let Some((seen, current)) = refresh(state).await else {
            return Frame::error("CLUSTERDOWN the cluster metadata is not available yet");
        };
        let mut next = (*current).clone();
        let reply = match edit(&mut next) {
            Ok(reply) => reply,
            Err(e) => return e,
        };
        match state.meta.replace_functions(seen, next.records()).await {
            Ok(true) => {
                // Committed: wait for this node's replica to apply it, so that this client's
                // next FUNCTION LIST or FCALL here sees it.
                for _ in 0..ATTEMPTS {
                    if refresh(state).await.is_some_and(|(now, _)| now != seen) {
                        break;
                    }
                    tokio::time::sleep(PAUSE).await;
                }
                return reply;
            }
            Ok(false) => tokio::time::sleep(PAUSE).await,
            Err(refused) => {
                return super::super::dispatch::refusal::for_key(&state.topology, &refused, None)
            }
        }
    }
    Frame::error("TRYAGAIN the function libraries kept changing, try again later")
}

/// Redis's reply to a subcommand with arguments it does not take.
fn subcommand_syntax(argv: &Argv) -> Frame {
    Frame::error_owned(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
        String::from_utf8_lossy(&argv[1])
    ))
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE].
fn list(state: &ServerState, argv: &Argv) -> Frame {
    let mut with_code = false;
    let mut pattern: Option<&Bytes> = None;
    let mut at = 2;
    while at < argv.len() {
        let arg = &argv[at];
        if !with_code && is(arg, "withcode") {
            with_code = true;
        } else if pattern.is_none() && is(arg, "libraryname") {
            if at >= argv.len() - 1 {
                return Frame::error("ERR library name argument was not given");
            }
            at += 1;
            pattern = Some(&argv[at]);
        } else {
            return Frame::error_owned(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(arg)
            ));
        }
        at += 1;
    }
    let libraries = state.functions.libraries();
    let bulk = |s: &str| Frame::bulk_from(s.as_bytes());
    Frame::Array(
        libraries
            .iter()
            .filter(|l| pattern.is_none_or(|p| crate::glob::matches(p, l.name.as_bytes(), true)))
            .map(|l| {
                let functions = l
                    .functions
                    .iter()
                    .map(|f| {
                        Frame::Map(vec![
                            (bulk("name"), bulk(&f.name)),
                            (
                                bulk("description"),
                                f.description.clone().map_or(Frame::Null, Frame::Bulk),
                            ),
                            (
                                bulk("flags"),
                                Frame::Set(
                                    f.flags.names().into_iter().map(Frame::simple).collect(),
                                ),
                            ),
                        ])
                    })
                    .collect();
                let mut fields = vec![
                    (bulk("library_name"), bulk(&l.name)),
                    (bulk("engine"), bulk("LUA")),
                    (bulk("functions"), Frame::Array(functions)),
                ];
                if with_code {
                    fields.push((bulk("library_code"), Frame::Bulk(l.code.clone())));
                }
                Frame::Map(fields)
            })
            .collect(),
    )
}

/// FUNCTION STATS: the function running on this node (the first found, if several shards run
/// one) and the libraries' counts.
fn stats(state: &ServerState) -> Frame {
    let now = crate::clock::now_ms();
    let groups = state.groups.load();
    let controls: Vec<_> = groups
        .all()
        .map(|(_, g)| g.shard.counters.script.clone())
        .collect();
    let running: Vec<_> = controls
        .iter()
        .filter_map(|c| c.running_for(now).map(|ms| (ms, c.running_function())))
        .collect();
    if running.iter().any(|(_, f)| f.is_none()) {
        return Frame::error(crate::scripting::BUSY_SCRIPT);
    }
    let bulk = |s: &str| Frame::bulk_from(s.as_bytes());
    let running_script = match running.into_iter().find_map(|(ms, f)| Some((ms, f?))) {
        None => Frame::Null,
        Some((ms, f)) => Frame::Map(vec![
            (bulk("name"), bulk(&f.name)),
            (
                bulk("command"),
                Frame::Array(f.command.into_iter().map(Frame::Bulk).collect()),
            ),
            (bulk("duration_ms"), Frame::Integer(ms as i64)),
        ]),
    };
    let libraries = state.functions.libraries();
    Frame::Map(vec![
        (bulk("running_script"), running_script),
        (
            bulk("engines"),
            Frame::Map(vec![(
                bulk("LUA"),
                Frame::Map(vec![
                    (
                        bulk("libraries_count"),
                        Frame::Integer(libraries.len() as i64),
                    ),
                    (
                        bulk("functions_count"),
                        Frame::Integer(libraries.function_count() as i64),
                    ),
                ]),
            )]),
        ),
    ])
}

/// FUNCTION HELP's text (redis 7.0's).
const HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
];
