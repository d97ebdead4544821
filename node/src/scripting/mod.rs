//! Lua scripts (EVAL, EVALSHA) as a shard runs them: on the leader, against a scratch copy of
//! the keys they touch, with their writes kept as **effects** — the write commands they made —
//! which the leader then logs as one transaction entry (`commands/transaction.rs`), guarded by
//! what every touched key held when the script read it. Replicas never run Lua: they apply the
//! effects, so a script that reads the clock or draws random numbers changes every replica
//! alike (redis 7's effects replication). If another write changed a touched key between the
//! run and the entry, the guard fails and the dispatcher runs the script again.
//!
//! The Lua is 5.1 (mlua, vendored, as redis embeds), with redis's API: `redis.call`,
//! `redis.pcall`, `redis.error_reply`, `redis.status_reply`, `redis.sha1hex`, `redis.log`,
//! `redis.setresp` (RESP2 or RESP3 conversions, see [`convert`]), `redis.set_repl` and
//! `redis.replicate_commands` (accepted; effects are always what is replicated), `KEYS`,
//! `ARGV`, the `bit`, `cjson`, `cmsgpack` and `struct` libraries ([`bitlib`], [`cjson`],
//! [`cmsgpack`], [`structlib`]); globals read-only and unknown globals an error, as in redis 7.
//! Functions (FUNCTION LOAD, FCALL) load their libraries here too ([`Engine::load_library`],
//! [`library`]).

pub mod bitlib;
pub mod cjson;
pub mod cmsgpack;
pub mod convert;
pub mod library;
pub mod payload;
pub mod structlib;

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value};

use crate::commands::args::Argv;
use crate::commands::transaction::{ExecCommand, ExecItem, Seen, Watched};
use crate::commands::{self, ApplyCtx, EffectStep};
use crate::keyspace::Keyspace;
use crate::protocol::Frame;
use crate::slot::key_slot;

/// Most memory one shard's Lua state may take; past it a script fails with an error instead of
/// growing the node without bound.
const MEMORY_LIMIT: usize = 256 * 1024 * 1024;
/// Compiled scripts kept per shard before the cache is dropped and starts again.
const COMPILED_MAX: usize = 1000;
/// A script whose last run took longer than this (or that never ran) is run with the worker
/// thread handed over (see [`Engine::may_run_long`]).
const SHORT_RUN: std::time::Duration = std::time::Duration::from_millis(1);
/// How long a script runs before other clients of its shard are answered `-BUSY` (redis's
/// `busy-reply-threshold`): a running script holds its shard, which is what makes it atomic.
pub const BUSY_AFTER_MS: u64 = 5000;
/// How long a script may run before it is stopped without a SCRIPT KILL: redis waits for ever;
/// a shard held for ever would be a part of the keyspace lost, so Shardis gives up at this.
pub const TIME_LIMIT_MS: u64 = 60_000;

/// `-BUSY` while an EVAL script runs (redis's `slowevalerr`).
pub const BUSY_SCRIPT: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// `-BUSY` while a function runs (redis's `slowscripterr`).
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// What the node knows of the script a shard runs: since when (SCRIPT KILL, `-BUSY`), and a
/// request to stop it, read by the Lua state every few thousand instructions.
#[derive(Default, Debug)]
pub struct ScriptControl {
    started: std::sync::atomic::AtomicU64,
    kill: std::sync::atomic::AtomicBool,
    /// Set by the instruction hook when it stops the running script.
    stopped: std::sync::atomic::AtomicBool,
    /// While a library loads: the Unix ms past which its loading is stopped (0: none).
    load_deadline: std::sync::atomic::AtomicU64,
    /// The function running, if what runs is one (FUNCTION STATS, and which of SCRIPT KILL
    /// and FUNCTION KILL stops it).
    function: std::sync::Mutex<Option<RunningFunction>>,
}

/// A function being run, as FUNCTION STATS shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunningFunction {
    /// Its name.
    pub name: String,
    /// The command that called it (FCALL or FCALL_RO, its arguments).
    pub command: Vec<Bytes>,
}

impl ScriptControl {
    /// How long the running script has run at `now` (Unix ms); `None` when none runs.
    pub fn running_for(&self, now: u64) -> Option<u64> {
        match self.started.load(std::sync::atomic::Ordering::Acquire) {
            0 => None,
            at => Some(now.saturating_sub(at)),
        }
    }

    /// The function running, when what runs is a function (not an EVAL script).
    pub fn running_function(&self) -> Option<RunningFunction> {
        self.running_for(0)?;
        self.function
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// SCRIPT KILL (`functions` false) or FUNCTION KILL (true): asks the running script or
    /// function to stop; false when none of that kind runs. A script can always be stopped,
    /// even after writes: its writes are effects not applied yet, so stopping it drops them
    /// all (redis answers `-UNKILLABLE` there, having applied them).
    pub fn kill(&self, functions: bool) -> Kill {
        if self.running_for(0).is_none() {
            return Kill::NotBusy;
        }
        if self.running_function().is_some() != functions {
            return Kill::OtherKind;
        }
        self.kill.store(true, std::sync::atomic::Ordering::Release);
        Kill::Killed
    }
}

/// What a SCRIPT KILL or FUNCTION KILL found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kill {
    /// Nothing runs.
    NotBusy,
    /// A function runs and SCRIPT KILL was asked, or the other way round.
    OtherKind,
    /// Asked to stop.
    Killed,
}

impl Kill {
    /// The reply to SCRIPT KILL (`functions` false) or FUNCTION KILL, given what every shard
    /// found (the best of them).
    pub fn reply(found: impl Iterator<Item = Kill>, functions: bool) -> crate::protocol::Frame {
        match (found.max().unwrap_or(Kill::NotBusy), functions) {
            (Kill::Killed, _) => Frame::ok(),
            (Kill::NotBusy, _) => Frame::error("NOTBUSY No scripts in execution right now."),
            (Kill::OtherKind, false) => Frame::error(BUSY_FUNCTION),
            (Kill::OtherKind, true) => Frame::error(BUSY_SCRIPT),
        }
    }
}

/// A script run asked of a shard.
#[derive(Clone, Debug)]
pub struct ScriptRequest {
    /// The body's SHA-1, hex.
    pub sha: String,
    /// The body.
    pub body: Bytes,
    /// KEYS.
    pub keys: Vec<Bytes>,
    /// ARGV.
    pub args: Vec<Bytes>,
    /// The run's timestamp: the clock every command of the script reads.
    pub ctx: ApplyCtx,
    /// EVAL_RO / EVALSHA_RO: writes are refused.
    pub read_only: bool,
    /// For a script of no declared key run again on the shard of the key it touched first:
    /// that key's slot.
    pub slot: Option<u16>,
    /// FCALL: the function to run, instead of the body.
    pub function: Option<FunctionTarget>,
}

/// The function an FCALL runs.
#[derive(Clone, Debug)]
pub struct FunctionTarget {
    /// Its name.
    pub name: String,
    /// Its library (the shard loads the library's code once, under its SHA-1).
    pub library: std::sync::Arc<library::Library>,
    /// The command that called it, for FUNCTION STATS.
    pub command: Vec<Bytes>,
}

/// What a script run gave.
#[derive(Debug)]
pub struct ScriptOutcome {
    /// The script's reply (valid once the effects, if any, are applied).
    pub reply: Frame,
    /// The writes to log, behind the guard of every key the script touched; none for a script
    /// that wrote nothing.
    pub effects: Option<ExecCommand>,
    /// A script that declared no key touched one of this slot, which another shard holds: run
    /// it there instead (nothing was done here).
    pub elsewhere: Option<u16>,
}

/// Where a call's script comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// EVAL: the body.
    Body(Bytes),
    /// EVALSHA: the SHA-1 of a body the node has seen.
    Sha(String),
    /// FCALL: a function of the node's libraries.
    Function(String),
}

/// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct ScriptCall {
    /// The script.
    pub source: Source,
    /// KEYS.
    pub keys: Vec<Bytes>,
    /// ARGV.
    pub args: Vec<Bytes>,
    /// The `_RO` forms.
    pub read_only: bool,
    /// FCALL's error about its key count, answered only once the function is found (redis
    /// looks the function up first).
    pub refused: Option<Frame>,
}

impl ScriptCall {
    /// Parses `<script or sha> <numkeys> [key …] [arg …]` as redis does.
    pub fn parse(name: &str, argv: &Argv) -> Result<ScriptCall, Frame> {
        if name.starts_with("fcall") {
            let function = String::from_utf8_lossy(&argv[1]).into_owned();
            let mut call = ScriptCall {
                source: Source::Function(function),
                keys: Vec::new(),
                args: Vec::new(),
                read_only: name.ends_with("_ro"),
                refused: None,
            };
            match ScriptCall::split(argv, Frame::error("ERR Bad number of keys provided")) {
                Ok((keys, args)) => (call.keys, call.args) = (keys, args),
                Err(e) => call.refused = Some(e),
            }
            return Ok(call);
        }
        let (keys, args) = ScriptCall::split(argv, crate::commands::errors::not_integer())?;
        let source = if name.starts_with("evalsha") {
            Source::Sha(String::from_utf8_lossy(&argv[1]).to_ascii_lowercase())
        } else {
            Source::Body(argv[1].clone())
        };
        Ok(ScriptCall {
            source,
            keys,
            args,
            read_only: name.ends_with("_ro"),
            refused: None,
        })
    }

    /// The keys and the arguments of `<script> <numkeys> [key …] [arg …]`; `not_integer` is
    /// the error for a key count that is not a number.
    fn split(argv: &Argv, not_integer: Frame) -> Result<(Vec<Bytes>, Vec<Bytes>), Frame> {
        let numkeys = crate::protocol::parse::parse_i64(&argv[2]).ok_or(not_integer)?;
        if numkeys < 0 {
            return Err(Frame::error("ERR Number of keys can't be negative"));
        }
        let numkeys = numkeys as usize;
        if numkeys > argv.len() - 3 {
            return Err(Frame::error(
                "ERR Number of keys can't be greater than number of args",
            ));
        }
        Ok((argv[3..3 + numkeys].to_vec(), argv[3 + numkeys..].to_vec()))
    }
}

/// What a batch of scripts gave ([`Engine::run_batch`]).
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Per script run, in order (fewer than asked when one was stopped); their `effects` are
    /// `None`: the batch's are `effects`.
    pub outcomes: Vec<ScriptOutcome>,
    /// The writes of all of them, behind the guard of every key any of them touched.
    pub effects: Option<ExecCommand>,
}

/// SHA-1 of `data`, as 40 lower-case hex digits (script ids, `redis.sha1hex`).
pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

/// Compiles `body` in a throwaway state (SCRIPT LOAD): the compile error redis answers, if any.
pub fn check_syntax(body: &[u8]) -> Result<(), Frame> {
    let skip = shebang_len(body)?;
    let lua = Lua::new_with(StdLib::NONE, LuaOptions::default())
        .map_err(|e| Frame::error_owned(format!("ERR {e}")))?;
    lua.load(&body[skip..])
        .set_name("@user_script")
        .into_function()
        .map(|_| ())
        .map_err(|e| {
            Frame::error_owned(format!(
                "ERR Error compiling script (new function): {}",
                lua_message(&e)
            ))
        })
}

/// How much of a script's start its `#!lua` line takes (0 without one); its error as a reply.
pub fn shebang_len(body: &[u8]) -> Result<usize, Frame> {
    library::script_shebang(body)
        .map(|found| found.map_or(0, |(_, len)| len))
        .map_err(|e| Frame::error_owned(format!("ERR {e}")))
}

/// A shard's Lua state and the scripts compiled in it.
pub struct Engine {
    lua: Lua,
    /// The globals scripts read through their read-only environment.
    globals: Table,
    /// The read-only environment compiled scripts run in.
    env: Table,
    /// Compiled scripts by SHA-1 (kept in the Lua registry).
    compiled: HashSet<String>,
    /// The running script, as the node sees it.
    control: std::sync::Arc<ScriptControl>,
    /// The `redis` table itself (scripts see it through a read-only view), where each run sets
    /// `call` and `pcall`.
    redis: Table,
    /// The environment libraries' code is compiled in (see PRELUDE).
    libenv: Table,
    /// Switches `libenv` between the library API (while a library loads) and the globals.
    set_loading: Function,
    /// The `redis` table a loading library sees, where each load sets `register_function`.
    load_redis: Table,
    /// Binds a function to its KEYS and ARGV tables.
    bind: Function,
    /// The functions of the libraries loaded here, by the SHA-1 of the library's code.
    libraries: HashMap<String, HashMap<String, Function>>,
    /// How long each script's last run took, by SHA-1 (a function's: by its name).
    last_run: HashMap<String, std::time::Duration>,
    /// `xpcall`, and the error handler scripts run under (made once: see [`error_handler`]).
    xpcall: Function,
    handler: Function,
    /// The protocol the running script chose with `redis.setresp` (RESP3 when set): how
    /// commands' replies reach it and how its booleans are answered. RESP2 at each start.
    resp3: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// The Lua side of the API: the reply helpers, constants, and the read-only environment
/// scripts run in (`redis.call` and `redis.pcall` are set for each run: see `Engine::run`).
const PRELUDE: &str = r#"
local G = _G
redis.error_reply = function(e)
  if type(e) ~= 'string' then error('wrong number or type of arguments', 2) end
  if string.sub(e, 1, 1) == '-' then e = string.sub(e, 2) end
  return {err = e}
end
redis.status_reply = function(s)
  if type(s) ~= 'string' then error('wrong number or type of arguments', 2) end
  return {ok = s}
end
redis.set_repl = function() end
redis.replicate_commands = function() return true end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
-- The libraries are read-only too, as redis 7's: each is replaced by a table that reads
-- through to it and refuses writes.
local function readonly(t)
  return setmetatable({}, {
    __index = t,
    __newindex = function() error("Attempt to modify a readonly table", 2) end,
    __metatable = false,
  })
end
for _, name in ipairs({'redis', 'bit', 'cjson', 'cmsgpack', 'struct', 'string', 'math', 'table'}) do
  rawset(G, name, readonly(rawget(G, name)))
end
-- What a library's code sees while it loads (FUNCTION LOAD): only `redis`, with
-- `register_function` (set by the engine for each load), `log` and the log levels; any other
-- name is an error, as in redis 7.
local load_redis_raw = {log = rawget(G, 'redis').log}
load_redis_raw.LOG_DEBUG, load_redis_raw.LOG_VERBOSE = 0, 1
load_redis_raw.LOG_NOTICE, load_redis_raw.LOG_WARNING = 2, 3
local function missing(name, level)
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", level)
end
local function refuse_write()
  error("Attempt to modify a readonly table", 2)
end
local library_api = {
  redis = setmetatable({}, {
    __index = function(_, name)
      local found = load_redis_raw[name]
      if found == nil then missing(name, 3) end
      return found
    end,
    __newindex = refuse_write,
    __metatable = false,
  }),
}
local loading = false
-- What scripts see as their globals: reads of the real ones, an error for unknown names and for
-- any write, raised at the script's line (level 2), as redis 7's read-only globals.
local env = setmetatable({}, {
  __index = function(_, name)
    local found = rawget(G, name)
    if found == nil then missing(name, 3) end
    return found
  end,
  __newindex = refuse_write,
  __metatable = false,
})
-- The globals of libraries' code: the library API while one loads, the scripts' globals when
-- its functions run.
local libenv = setmetatable({}, {
  __index = function(_, name)
    local found
    if loading then found = library_api[name] else found = rawget(G, name) end
    if found == nil then missing(name, 3) end
    return found
  end,
  __newindex = refuse_write,
  __metatable = false,
})
local function set_loading(on) loading = on end
-- A function called with its KEYS and ARGV tables (xpcall passes no arguments in Lua 5.1).
local function bind(f, keys, args) return function() return f(keys, args) end end
return env, libenv, set_loading, load_redis_raw, bind
"#;

impl Engine {
    /// A fresh Lua state with redis's libraries and API, its scripts seen and stopped through
    /// `control`.
    pub fn new(control: std::sync::Arc<ScriptControl>) -> mlua::Result<Engine> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        lua.set_memory_limit(MEMORY_LIMIT)?;
        let globals = lua.globals();
        for unsafe_name in ["loadfile", "dofile", "print"] {
            globals.raw_set(unsafe_name, Value::Nil)?;
        }
        let redis = lua.create_table()?;
        redis.raw_set(
            "sha1hex",
            lua.create_function(|_, s: mlua::String| Ok(sha1_hex(&s.as_bytes())))?,
        )?;
        redis.raw_set(
            "log",
            lua.create_function(|_, (level, msg): (i64, mlua::String)| {
                let msg = msg.to_string_lossy();
                match level {
                    3 => tracing::warn!(script = true, "{msg}"),
                    2 => tracing::info!(script = true, "{msg}"),
                    _ => tracing::debug!(script = true, "{msg}"),
                }
                Ok(())
            })?,
        )?;
        let resp3 = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let chosen = resp3.clone();
        redis.raw_set(
            "setresp",
            lua.create_function(move |_, args: MultiValue| {
                let args: Vec<Value> = args.into_iter().collect();
                let [n] = args.as_slice() else {
                    return Err(mlua::Error::RuntimeError(
                        "redis.setresp() requires one argument.".into(),
                    ));
                };
                // lua_tonumber's reading: a number or a numeric string, else 0.
                let n = match n {
                    Value::Integer(n) => *n as f64,
                    Value::Number(n) => *n,
                    Value::String(s) => s
                        .to_str()
                        .ok()
                        .and_then(|t| t.trim().parse().ok())
                        .unwrap_or(0.0),
                    _ => 0.0,
                };
                match n as i64 {
                    v @ (2 | 3) => {
                        chosen.store(v == 3, std::sync::atomic::Ordering::Relaxed);
                        Ok(())
                    }
                    _ => Err(mlua::Error::RuntimeError(
                        "RESP version must be 2 or 3.".into(),
                    )),
                }
            })?,
        )?;
        globals.raw_set("redis", redis.clone())?;
        globals.raw_set("bit", bitlib::table(&lua)?)?;
        globals.raw_set("cjson", cjson::table(&lua)?)?;
        globals.raw_set("cmsgpack", cmsgpack::table(&lua)?)?;
        globals.raw_set("struct", structlib::table(&lua)?)?;
        let (env, libenv, set_loading, load_redis, bind): (
            Table,
            Table,
            Function,
            Table,
            Function,
        ) = lua.load(PRELUDE).set_name("=shardis").eval()?;
        let watched = control.clone();
        lua.set_hook(
            mlua::HookTriggers::new().every_nth_instruction(10_000),
            move |_, _| {
                if watched.kill.load(std::sync::atomic::Ordering::Acquire) {
                    watched
                        .stopped
                        .store(true, std::sync::atomic::Ordering::Release);
                    return Err(mlua::Error::RuntimeError(
                        "Script killed by user with SCRIPT KILL...".into(),
                    ));
                }
                let now = crate::clock::now_ms();
                let deadline = watched
                    .load_deadline
                    .load(std::sync::atomic::Ordering::Acquire);
                if deadline != 0 && now > deadline {
                    return Err(mlua::Error::external(ReplyError(Bytes::from_static(
                        b"ERR FUNCTION LOAD timeout",
                    ))));
                }
                if watched
                    .running_for(now)
                    .is_some_and(|ms| ms > TIME_LIMIT_MS)
                {
                    watched
                        .stopped
                        .store(true, std::sync::atomic::Ordering::Release);
                    return Err(mlua::Error::RuntimeError(format!(
                        "Script killed: it ran longer than {TIME_LIMIT_MS} ms, the longest a \
                         script may hold its shard"
                    )));
                }
                Ok(mlua::VmState::Continue)
            },
        );
        let xpcall = globals.raw_get("xpcall")?;
        let handler = lua.create_function(error_handler)?;
        Ok(Engine {
            lua,
            globals,
            env,
            compiled: HashSet::new(),
            control,
            redis,
            libenv,
            set_loading,
            load_redis,
            bind,
            libraries: HashMap::new(),
            last_run: HashMap::new(),
            xpcall,
            handler,
            resp3,
        })
    }

    /// Loads a library's code (FUNCTION LOAD checking it, or a shard's first call of one of its
    /// functions): compiles it in the library environment and runs it with the library API,
    /// collecting what it registers, within `limit_ms` (redis gives FUNCTION LOAD 500 ms). The
    /// error is redis's text, without `ERR`.
    pub fn load_library(
        &mut self,
        code: &Bytes,
        limit_ms: u64,
    ) -> Result<(library::Library, HashMap<String, Function>), String> {
        let header = library::parse_header(code)?;
        if !library::valid_name(&header.name) {
            return Err(library::BAD_NAME.into());
        }
        if !header.engine.eq_ignore_ascii_case("lua") {
            return Err(format!("Engine '{}' not found", header.engine));
        }
        let chunk = self
            .lua
            .load(&code[header.body_at..])
            .set_name("@user_function")
            .set_environment(self.libenv.clone())
            .into_function()
            .map_err(|e| format!("Error compiling function: {}", lua_message(&e)))?;
        let registered: std::cell::RefCell<Vec<(library::FunctionInfo, Function)>> =
            std::cell::RefCell::new(Vec::new());
        let control = &self.control;
        let result = self.lua.scope(|scope| {
            let register = scope.create_function(|_, args: MultiValue| {
                let (info, callback) = registration(args).map_err(load_error)?;
                let mut registered = registered.borrow_mut();
                if !library::valid_name(&info.name) {
                    return Err(load_error(library::BAD_NAME.into()));
                }
                if registered.iter().any(|(f, _)| f.name == info.name) {
                    return Err(load_error("Function already exists in the library".into()));
                }
                registered.push((info, callback));
                Ok(())
            })?;
            self.load_redis.raw_set("register_function", register)?;
            self.set_loading.call::<()>(true)?;
            control.load_deadline.store(
                crate::clock::now_ms() + limit_ms,
                std::sync::atomic::Ordering::Release,
            );
            let ran = chunk.call::<()>(());
            control
                .load_deadline
                .store(0, std::sync::atomic::Ordering::Release);
            self.set_loading.call::<()>(false)?;
            self.load_redis.raw_set("register_function", Value::Nil)?;
            Ok(ran)
        });
        let failed = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) | Err(e) => Some(e),
        };
        if let Some(e) = failed {
            let text = match reply_error(&e) {
                Some(text) => String::from_utf8_lossy(text).into_owned(),
                // Without mlua's traceback: the error itself, as redis gives it.
                None => match lua_message(&e).split_once("\nstack traceback:") {
                    Some((message, _)) => format!("ERR {message}"),
                    None => format!("ERR {}", lua_message(&e)),
                },
            };
            return Err(format!("Error registering functions: {text}"));
        }
        let registered = registered.into_inner();
        if registered.is_empty() {
            return Err("No functions registered".into());
        }
        let library = library::Library {
            name: header.name,
            code: code.clone(),
            sha: sha1_hex(code),
            functions: registered.iter().map(|(info, _)| info.clone()).collect(),
        };
        let functions = registered
            .into_iter()
            .map(|(info, f)| (info.name, f))
            .collect();
        Ok((library, functions))
    }

    /// The function an FCALL runs, its library loaded here on first use.
    fn library_function(&mut self, target: &FunctionTarget) -> Result<Function, Frame> {
        let sha = &target.library.sha;
        if !self.libraries.contains_key(sha) {
            if self.libraries.len() >= COMPILED_MAX {
                self.libraries.clear();
            }
            let (_, functions) = self
                .load_library(&target.library.code, TIME_LIMIT_MS)
                .map_err(|e| Frame::error_owned(format!("ERR {e}")))?;
            self.libraries.insert(sha.clone(), functions);
        }
        self.libraries
            .get(sha)
            .and_then(|functions| functions.get(&target.name))
            .cloned()
            .ok_or_else(|| Frame::error("ERR Function not found"))
    }

    /// The compiled function of a script, compiling it on first use.
    fn function(&mut self, sha: &str, body: &[u8]) -> Result<Function, Frame> {
        let key = format!("f_{sha}");
        if self.compiled.contains(sha) {
            if let Ok(f) = self.lua.named_registry_value::<Function>(&key) {
                return Ok(f);
            }
        }
        if self.compiled.len() >= COMPILED_MAX {
            for old in self.compiled.drain() {
                let _ = self.lua.unset_named_registry_value(&format!("f_{old}"));
            }
        }
        let skip = shebang_len(body)?;
        let f = self
            .lua
            .load(&body[skip..])
            .set_name("@user_script")
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| {
                Frame::error_owned(format!(
                    "ERR Error compiling script (new function): {}",
                    lua_message(&e)
                ))
            })?;
        self.lua
            .set_named_registry_value(&key, f.clone())
            .map_err(|e| Frame::error_owned(format!("ERR {e}")))?;
        self.compiled.insert(sha.to_string());
        Ok(f)
    }

    /// True when one of these scripts never ran here or ran longer than [`SHORT_RUN`] last
    /// time: it may hold the thread for long.
    pub fn may_run_long(&self, reqs: &[ScriptRequest]) -> bool {
        reqs.iter().any(|r| {
            self.last_run
                .get(run_key(r))
                .is_none_or(|took| *took > SHORT_RUN)
        })
    }

    /// Runs a script against `live` (not changed: writes go to a scratch copy of the keys
    /// touched) and returns its reply and effects.
    pub fn run(&mut self, live: &Keyspace, req: &ScriptRequest) -> ScriptOutcome {
        let mut batch = self.run_batch(live, std::slice::from_ref(req));
        let mut outcome = batch.outcomes.pop().unwrap_or(ScriptOutcome {
            reply: Frame::error("ERR script not run"),
            effects: None,
            elsewhere: None,
        });
        outcome.effects = batch.effects;
        outcome
    }

    /// Runs scripts one after the other against `live` and one shared scratch copy of the keys
    /// they touch, so that each sees the writes of those before it, as they would one after
    /// the other on redis; their effects are one transaction, guarded by what every key held
    /// when the first of them touched it. A script that is stopped ends the batch there: the
    /// outcomes are those of the scripts run, and the caller runs the rest again.
    pub fn run_batch(&mut self, live: &Keyspace, reqs: &[ScriptRequest]) -> BatchOutcome {
        let run = std::cell::RefCell::new(Run {
            live,
            ctx: reqs.first().map_or(
                ApplyCtx {
                    now: 0,
                    max_bulk_len: 0,
                },
                |r| r.ctx,
            ),
            read_only: false,
            slot: None,
            fresh: true,
            scratch: ahash::HashMap::default(),
            touched: Vec::new(),
            effects: Vec::new(),
            error_line: None,
            elsewhere: None,
        });
        let mut outcomes = Vec::with_capacity(reqs.len());
        for req in reqs {
            {
                let mut r = run.borrow_mut();
                r.ctx = req.ctx;
                r.read_only = req.read_only;
                r.slot = req.keys.first().map(|k| key_slot(k)).or(req.slot);
                r.fresh = true;
                r.error_line = None;
                r.elsewhere = None;
            }
            let before = run.borrow().effects.len();
            let started = std::time::Instant::now();
            let (reply, stopped) = self.run_one(&run, req);
            if self.last_run.len() >= COMPILED_MAX {
                self.last_run.clear();
            }
            let took = started.elapsed();
            match self.last_run.get_mut(run_key(req)) {
                Some(last) => *last = took,
                None => {
                    self.last_run.insert(run_key(req).to_string(), took);
                }
            }
            let elsewhere = run.borrow().elsewhere;
            if stopped {
                run.borrow_mut().effects.truncate(before);
                outcomes.push(ScriptOutcome {
                    reply,
                    effects: None,
                    elsewhere: None,
                });
                break;
            }
            outcomes.push(ScriptOutcome {
                reply: if elsewhere.is_some() {
                    Frame::Null
                } else {
                    reply
                },
                effects: None,
                elsewhere,
            });
        }
        let run = run.into_inner();
        let effects = (!run.effects.is_empty()).then(|| ExecCommand {
            watched: run
                .touched
                .into_iter()
                .map(|(key, seen)| Watched { key, seen })
                .collect(),
            items: run.effects,
        });
        BatchOutcome { outcomes, effects }
    }

    /// Runs one script of a batch on the shared state; its reply, and whether it was stopped
    /// (SCRIPT KILL, the time limit).
    fn run_one(&mut self, run: &std::cell::RefCell<Run<'_>>, req: &ScriptRequest) -> (Frame, bool) {
        let found = match &req.function {
            Some(target) => self.library_function(target),
            None => self.function(&req.sha, &req.body),
        };
        let function = match found {
            Ok(f) => f,
            Err(e) => return (e, false),
        };
        *self
            .control
            .function
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = req.function.as_ref().map(|f| RunningFunction {
            name: f.name.clone(),
            command: f.command.clone(),
        });
        use std::sync::atomic::Ordering::Relaxed;
        self.resp3.store(false, Relaxed);
        let resp3 = &self.resp3;
        let lua = &self.lua;
        let redis = &self.redis;
        let result = lua.scope(|scope| {
            // redis.call raises a command's error reply; redis.pcall returns it as {err = …}.
            // Both are Rust functions the script calls directly (a Lua wrapper would be
            // tail-called away from the script's frame, and the error would lose its line).
            let call = scope.create_function(|lua, args: MultiValue| {
                let mut run = run.borrow_mut();
                match run.call(args.iter().collect()) {
                    Frame::Error(e) => {
                        run.error_line = script_line(lua);
                        Err(mlua::Error::external(ReplyError(e)))
                    }
                    other => convert::frame_to_lua(lua, other, resp3.load(Relaxed)),
                }
            })?;
            let pcall = scope.create_function(|lua, args: MultiValue| {
                let reply = run.borrow_mut().call(args.iter().collect());
                convert::frame_to_lua(lua, reply, resp3.load(Relaxed))
            })?;
            redis.raw_set("call", call)?;
            redis.raw_set("pcall", pcall)?;
            let strings = |items: &[Bytes]| {
                lua.create_sequence_from(
                    items
                        .iter()
                        .map(|k| lua.create_string(k))
                        .collect::<mlua::Result<Vec<_>>>()?,
                )
            };
            let keys = strings(&req.keys)?;
            let args = strings(&req.args)?;
            // A script reads KEYS and ARGV as globals; a function gets them as its arguments
            // (and has no such globals, as in redis).
            let callable = if req.function.is_some() {
                self.globals.raw_set("KEYS", Value::Nil)?;
                self.globals.raw_set("ARGV", Value::Nil)?;
                self.bind.call::<Function>((function, keys, args))?
            } else {
                self.globals.raw_set("KEYS", keys)?;
                self.globals.raw_set("ARGV", args)?;
                function
            };
            let handler = &self.handler;
            let xpcall = &self.xpcall;
            let control = &self.control;
            control
                .kill
                .store(false, std::sync::atomic::Ordering::Release);
            control
                .stopped
                .store(false, std::sync::atomic::Ordering::Release);
            control.started.store(
                crate::clock::now_ms().max(1),
                std::sync::atomic::Ordering::Release,
            );
            let result = xpcall.call::<MultiValue>((callable, handler));
            control
                .started
                .store(0, std::sync::atomic::Ordering::Release);
            control
                .kill
                .store(false, std::sync::atomic::Ordering::Release);
            result
        });
        // Lua's own incremental collector keeps up (a full collection after every script cost
        // more than the script); the memory limit bounds what it lets grow.
        let stopped = self
            .control
            .stopped
            .swap(false, std::sync::atomic::Ordering::AcqRel);
        let values = match result {
            Ok(values) => values,
            Err(e) => {
                return (
                    Frame::error_owned(format!("ERR {}", lua_message(&e))),
                    stopped,
                )
            }
        };
        let mut values = values.into_iter();
        let ok = matches!(values.next(), Some(Value::Boolean(true)));
        let value = values.next().unwrap_or(Value::Nil);
        if ok {
            return (
                convert::lua_to_frame(&value, self.resp3.load(Relaxed)),
                stopped,
            );
        }
        // A script that failed keeps the writes it made before the error, as redis keeps them
        // (scripts are not rolled back); one stopped (SCRIPT KILL, the time limit) loses them
        // (see `run_batch`), which redis cannot do once a script wrote.
        let (text, line) = match &value {
            Value::Table(t) => (
                t.raw_get::<Value>("err")
                    .ok()
                    .and_then(|v| convert::argument(&v))
                    .unwrap_or_else(|| Bytes::from_static(b"ERR unknown error")),
                t.raw_get::<Option<i32>>("line").ok().flatten(),
            ),
            _ => (Bytes::from_static(b"ERR unknown error"), None),
        };
        let line = line.or(run.borrow().error_line).unwrap_or(0);
        let (name, source) = match &req.function {
            Some(f) => (f.name.as_str(), "@user_function"),
            None => (req.sha.as_str(), "@user_script"),
        };
        let reply = Frame::error_owned(format!(
            "{} script: {name}, on {source}:{line}.",
            String::from_utf8_lossy(&text),
        ));
        (reply, stopped)
    }
}

/// The key of a script in [`Engine::may_run_long`]'s record: its SHA-1, or its function's name.
fn run_key(req: &ScriptRequest) -> &str {
    match &req.function {
        Some(f) => &f.name,
        None => &req.sha,
    }
}

/// The error handler scripts run under (`xpcall`'s): the error as a table `{err, line}`, the
/// line being the script's, where the error came from.
fn error_handler(lua: &Lua, err: Value) -> mlua::Result<Table> {
    // The first frame of the script itself names the line the error came from.
    let line = script_line(lua);
    let t = lua.create_table()?;
    match err {
        Value::Table(e) => {
            let text: Value = e.raw_get("err")?;
            t.raw_set("err", text)?;
        }
        Value::String(s) => {
            let mut text = b"ERR ".to_vec();
            text.extend_from_slice(&s.as_bytes());
            t.raw_set("err", lua.create_string(&text)?)?;
        }
        Value::Error(e) => match reply_error(&e) {
            Some(text) => t.raw_set("err", lua.create_string(text)?)?,
            None => t.raw_set("err", format!("ERR {}", lua_message(&e)))?,
        },
        other => t.raw_set("err", format!("ERR {other:?}"))?,
    }
    t.raw_set("line", line)?;
    Ok(t)
}

/// A command's error reply, raised by `redis.call` as the script's error.
#[derive(Debug)]
struct ReplyError(Bytes);

impl std::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl std::error::Error for ReplyError {}

/// The reply text of an error `redis.call` raised, through mlua's wrapping.
fn reply_error(e: &mlua::Error) -> Option<&[u8]> {
    match e {
        mlua::Error::CallbackError { cause, .. } => reply_error(cause),
        mlua::Error::ExternalError(inner) => {
            inner.downcast_ref::<ReplyError>().map(|r| r.0.as_ref())
        }
        mlua::Error::WithContext { cause, .. } => reply_error(cause),
        _ => None,
    }
}

/// The line of the script being run that is deepest in the stack (the one that called
/// `redis.call`, or raised the error).
fn script_line(lua: &Lua) -> Option<i32> {
    (1..16)
        .filter_map(|level| lua.inspect_stack(level))
        .find(|d| {
            d.source()
                .source
                .as_deref()
                .is_some_and(|s| s.ends_with("user_script") || s.ends_with("user_function"))
        })
        .map(|d| d.curr_line())
}

/// The text of a Lua error, without mlua's decorations.
fn lua_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::MemoryError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_message(cause),
        other => other.to_string(),
    }
}

/// An error of the library API (`redis.register_function`), raised as redis raises it: its
/// text is the error's, with no script line.
fn load_error(message: String) -> mlua::Error {
    mlua::Error::external(ReplyError(Bytes::from(format!("ERR {message}"))))
}

/// A Lua string or number as text (`lua_isstring`'s rule), else `None`.
fn text_of(v: &Value) -> Option<String> {
    convert::argument(v).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// The arguments of `redis.register_function`: `(name, callback)`, or one table of named
/// arguments (`function_name`, `callback`, `flags`, `description`). Errors are redis's.
fn registration(args: MultiValue) -> Result<(library::FunctionInfo, Function), String> {
    let args: Vec<Value> = args.into_iter().collect();
    match args.as_slice() {
        [Value::Table(t)] => named_registration(t),
        [_] => Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).".into()),
        [name, callback] => {
            let name = text_of(name)
                .ok_or("first argument to redis.register_function must be a string")?;
            let Value::Function(callback) = callback else {
                return Err("second argument to redis.register_function must be a function".into());
            };
            let info = library::FunctionInfo {
                name,
                description: None,
                flags: library::ScriptFlags::default(),
            };
            Ok((info, callback.clone()))
        }
        _ => Err("wrong number of arguments to redis.register_function".into()),
    }
}

/// The named form of [`registration`].
fn named_registration(t: &Table) -> Result<(library::FunctionInfo, Function), String> {
    let mut name = None;
    let mut description = None;
    let mut callback = None;
    let mut flags = library::ScriptFlags::default();
    for pair in t.clone().pairs::<Value, Value>() {
        let (key, value) = pair.map_err(|e| lua_message(&e))?;
        let key = text_of(&key)
            .ok_or("named argument key given to redis.register_function is not a string")?;
        match key.to_ascii_lowercase().as_str() {
            "function_name" => {
                name = Some(text_of(&value).ok_or(
                    "function_name argument given to redis.register_function must be a string",
                )?)
            }
            "description" => {
                description = Some(Bytes::from(text_of(&value).ok_or(
                    "description argument given to redis.register_function must be a string",
                )?))
            }
            "callback" => match value {
                Value::Function(f) => callback = Some(f),
                _ => {
                    return Err(
                        "callback argument given to redis.register_function must be a function"
                            .into(),
                    )
                }
            },
            "flags" => {
                let Value::Table(list) = value else {
                    return Err("flags argument to redis.register_function must be a table representing function flags".into());
                };
                for flag in list.sequence_values::<Value>() {
                    let flag = flag
                        .ok()
                        .and_then(|f| text_of(&f))
                        .and_then(|f| library::ScriptFlags::named(f.as_bytes()))
                        .ok_or("unknown flag given")?;
                    flags = flags.with(flag);
                }
            }
            _ => return Err("unknown argument given to redis.register_function".into()),
        }
    }
    let name = name.ok_or("redis.register_function must get a function name argument")?;
    let callback = callback.ok_or("redis.register_function must get a callback argument")?;
    let info = library::FunctionInfo {
        name,
        description,
        flags,
    };
    Ok((info, callback))
}

/// One run's state: the keys touched so far and their copies, the writes made.
struct Run<'a> {
    live: &'a Keyspace,
    ctx: ApplyCtx,
    read_only: bool,
    /// The slot every key of the running script must be in (its first key's, declared or
    /// not).
    slot: Option<u16>,
    /// True until the running script touches a key.
    fresh: bool,
    /// The copies of the keys touched, by slot.
    scratch: ahash::HashMap<u16, Keyspace>,
    /// Keys touched, with what they held when first touched.
    touched: Vec<(Bytes, Seen)>,
    /// The writes made, in order.
    effects: Vec<ExecItem>,
    /// The script line of the last command that answered an error.
    error_line: Option<i32>,
    /// Set when a script of no declared key touched a key of a slot another shard holds.
    elsewhere: Option<u16>,
}

impl Run<'_> {
    /// `redis.call` / `redis.pcall`: runs one command on the scratch copy.
    fn call(&mut self, args: Vec<&Value>) -> Frame {
        if args.is_empty() {
            return Frame::error(
                "ERR Please specify at least one argument for this redis lib call",
            );
        }
        let Some(argv) = args
            .iter()
            .map(|v| convert::argument(v))
            .collect::<Option<Argv>>()
        else {
            return Frame::error("ERR Lua redis lib command arguments must be strings or integers");
        };
        let spec = match commands::table::lookup(&argv[0]) {
            None => return Frame::error("ERR Unknown Redis command called from script"),
            Some(_) => match commands::resolve(&argv) {
                Ok(spec) => spec,
                Err(_) => {
                    return Frame::error(
                        "ERR Wrong number of args calling Redis command from script",
                    )
                }
            },
        };
        if spec.flags.contains(&"noscript") {
            return Frame::error("ERR This Redis command is not allowed from script");
        }
        if self.read_only && spec.flags.contains(&"write") {
            return Frame::error("ERR Write commands are not allowed from read-only scripts.");
        }
        if spec.name == "time" {
            // The leader's clock: the effects, not this, are what replicas apply.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            return Frame::Array(vec![
                Frame::bulk_int(now.as_secs() as i64),
                Frame::bulk_int(i64::from(now.subsec_micros())),
            ]);
        }
        if spec.name == "ping" {
            return match argv.get(1) {
                Some(m) => Frame::Bulk(m.clone()),
                None => Frame::simple("PONG"),
            };
        }
        let item = match ExecItem::parse(&argv) {
            Ok(item) => item,
            Err(Frame::Error(e)) if e.ends_with(b"cannot run inside a shard") => {
                return Frame::error("ERR This Redis command is not allowed from script")
            }
            Err(e) => return e,
        };
        if let Err(e) = self.touch(&item) {
            return e;
        }
        let Some(ks) = self.slot.and_then(|slot| self.scratch.get_mut(&slot)) else {
            return Frame::error("ERR This Redis command is not allowed from script");
        };
        ks.set_clock(self.ctx.now);
        // A random write (SPOP) is picked here, once, and its pick is what is logged.
        if let ExecItem::Cmd(cmd) = &item {
            if let Some(read) = cmd.effect_read() {
                let picked = read.apply(ks, &self.ctx);
                return match cmd.effect_write(picked) {
                    EffectStep::Reply(reply) => reply,
                    EffectStep::Write(write) => {
                        let reply = write.apply(ks, &self.ctx);
                        self.effects.push(ExecItem::Cmd(write));
                        reply
                    }
                };
            }
        }
        let reply = item.apply(ks, &self.ctx);
        if !item.is_read_only() {
            self.effects.push(item);
        }
        reply
    }

    /// Copies the keys `item` names into the scratch keyspace on first touch, recording what
    /// they held; a key of another slot is refused.
    fn touch(&mut self, item: &ExecItem) -> Result<(), Frame> {
        for key in item.keys() {
            let slot = key_slot(key);
            let first = *self.slot.get_or_insert(slot);
            if slot != first {
                return Err(Frame::error(
                    "ERR Script attempted to access keys that do not hash to the same slot",
                ));
            }
            let (lo, hi) = self.live.slot_range();
            if slot < lo || slot > hi {
                if self.fresh {
                    // Its first key: the script belongs to that key's shard.
                    self.elsewhere = Some(slot);
                    return Err(Frame::error("ERR the script runs on another shard"));
                }
                return Err(Frame::error(
                    "ERR Script attempted to access a non local key in a cluster node script",
                ));
            }
            self.fresh = false;
            let scratch = self
                .scratch
                .entry(slot)
                .or_insert_with(|| Keyspace::new(slot, slot));
            if self.touched.iter().any(|(k, _)| k == key) {
                continue;
            }
            let now = self.ctx.now;
            self.touched
                .push((key.clone(), Seen::of(self.live, key, now)));
            if let Some(entry) = self.live.peek(key, now) {
                let value = self.live.value_of(entry);
                scratch.insert(key, value, entry.expires_at().unwrap_or(0));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: ApplyCtx = ApplyCtx {
        now: 1_700_000_000_000,
        max_bulk_len: 512 * 1024 * 1024,
    };

    fn request(body: &str, keys: &[&str]) -> ScriptRequest {
        ScriptRequest {
            sha: sha1_hex(body.as_bytes()),
            body: Bytes::copy_from_slice(body.as_bytes()),
            keys: keys
                .iter()
                .map(|k| Bytes::copy_from_slice(k.as_bytes()))
                .collect(),
            args: Vec::new(),
            ctx: CTX,
            read_only: false,
            slot: None,
            function: None,
        }
    }

    fn engine() -> Engine {
        Engine::new(std::sync::Arc::new(ScriptControl::default())).expect("a Lua state")
    }

    #[test]
    fn a_script_changes_nothing_until_its_effects_apply_behind_their_guard() {
        let mut ks = Keyspace::new(0, 16383);
        ks.set_change_version(3);
        ks.insert(b"{s}a", crate::keyspace::Value::Int(5), 0);
        let mut engine = engine();
        let out = engine.run(
            &ks,
            &request(
                "redis.call('incr', KEYS[1]) redis.call('set', KEYS[2], 'x') \
                 return {redis.call('get', KEYS[1]), redis.call('get', KEYS[2])}",
                &["{s}a", "{s}b"],
            ),
        );
        let six_and_x = Frame::Array(vec![
            Frame::Bulk(Bytes::from_static(b"6")),
            Frame::Bulk(Bytes::from_static(b"x")),
        ]);
        assert_eq!(out.reply, six_and_x);
        assert!(
            !ks.contains(b"{s}b", CTX.now),
            "the live keyspace is untouched"
        );
        let effects = out.effects.expect("it wrote");
        assert_eq!(effects.items.len(), 2, "the two writes, not the reads");
        assert_eq!(
            effects.watched.iter().map(|w| w.seen).collect::<Vec<_>>(),
            vec![Seen::Version(3), Seen::Absent(0)]
        );
        // Applied: the same state the script saw; applied twice: the guard refuses.
        ks.set_change_version(4);
        assert!(matches!(effects.apply(&mut ks, &CTX), Frame::Array(_)));
        assert_eq!(
            engine
                .run(
                    &ks,
                    &request(
                        "return {redis.call('get', KEYS[1]), redis.call('get', KEYS[2])}",
                        &["{s}a", "{s}b"]
                    )
                )
                .reply,
            six_and_x
        );
        assert_eq!(effects.apply(&mut ks, &CTX), Frame::NullArray);
        // A script that only reads has no effects.
        assert!(engine
            .run(
                &ks,
                &request("return redis.call('get', KEYS[1])", &["{s}a"])
            )
            .effects
            .is_none());
    }

    #[test]
    fn a_script_of_no_key_goes_to_the_shard_of_the_first_key_it_touches() {
        let ks = Keyspace::new(0, 99);
        let far = (0..)
            .map(|i| format!("k{i}"))
            .find(|k| key_slot(k.as_bytes()) > 99)
            .expect("a key past slot 99");
        let body = format!("redis.call('set', '{far}', 1) return 1");
        let out = engine().run(&ks, &request(&body, &[]));
        assert_eq!(out.elsewhere, Some(key_slot(far.as_bytes())));
        assert!(out.effects.is_none());
    }

    #[test]
    fn a_killed_script_stops_and_leaves_no_effects() {
        let control = std::sync::Arc::new(ScriptControl::default());
        let mut engine = Engine::new(control.clone()).expect("a Lua state");
        assert_eq!(control.kill(false), Kill::NotBusy, "nothing runs yet");
        let killer = std::thread::spawn({
            let control = control.clone();
            move || {
                while control.kill(false) != Kill::Killed {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
        });
        let ks = Keyspace::new(0, 16383);
        let out = engine.run(
            &ks,
            &request(
                "redis.call('set', KEYS[1], 'v') while true do end",
                &["{s}a"],
            ),
        );
        killer.join().expect("killer");
        let Frame::Error(e) = out.reply else {
            panic!("killed: {:?}", out.reply);
        };
        assert!(e.starts_with(b"ERR Script killed by user with SCRIPT KILL..."));
        assert!(out.effects.is_none());
        assert_eq!(control.running_for(CTX.now), None);
    }
}
