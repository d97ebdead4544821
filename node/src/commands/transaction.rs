//! A transaction as the shard runs it: EXEC's queued commands, applied in one go, behind the
//! guard of the keys WATCH saw.
//!
//! The connection queues MULTI's commands (`dispatch/transaction.rs`); at EXEC they become ONE
//! [`ExecCommand`], which is one command of one log entry of the slot's group, so every replica
//! applies the whole transaction at the same place of its history or nothing of it — a failover
//! can never leave half of it applied. Its reply is the array of the commands' replies, reads
//! included, each computed on the state the entry applies to.
//!
//! In the log it is one argument vector (see `log_form.rs`):
//!
//! ```text
//! shardis:exec <watched> [<key> <seen>]… then, per command: <argc> <arg>…
//! ```
//!
//! `<seen>` is what WATCH found: the key's version (the log index of its last change, low 32
//! bits), or `-` and its slot's deletion version when the key was absent. The guard is checked
//! against the keyspace at the entry's timestamp on every replica alike; when it fails, nothing
//! is applied and the reply is a null array, as redis answers an EXEC whose watched keys changed.

use bytes::Bytes;

use super::args::{word, Argv};
use super::blocking::{self, Blocking};
use super::{ApplyCtx, ShardCommand};
use crate::keyspace::Keyspace;
use crate::protocol::Frame;
use crate::slot::key_slot;

/// The name of a transaction in the log. Like the node's other own commands it has a colon,
/// which no redis command has, so no client can send it.
pub const EXEC: &str = "shardis:exec";

/// What WATCH saw of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// The key held a value of this version.
    Version(u32),
    /// The key was absent; its slot's deletion version was this.
    Absent(u32),
}

impl Seen {
    /// What `ks` holds of `key` at `now`, as WATCH records it.
    pub fn of(ks: &Keyspace, key: &[u8], now: u64) -> Seen {
        match ks.peek(key, now) {
            Some(entry) => Seen::Version(entry.version()),
            None => Seen::Absent(ks.deletion_version(key_slot(key))),
        }
    }

    fn encode(self) -> Bytes {
        match self {
            Seen::Version(v) => Bytes::from(v.to_string()),
            Seen::Absent(v) => Bytes::from(format!("-{v}")),
        }
    }

    fn decode(arg: &[u8]) -> Option<Seen> {
        let text = std::str::from_utf8(arg).ok()?;
        match text.strip_prefix('-') {
            Some(v) => v.parse().ok().map(Seen::Absent),
            None => text.parse().ok().map(Seen::Version),
        }
    }
}

/// One watched key and what WATCH saw of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watched {
    /// The key.
    pub key: Bytes,
    /// Its state at WATCH.
    pub seen: Seen,
}

/// One queued command of a transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum ExecItem {
    /// A shard command, as it runs outside a transaction.
    Cmd(ShardCommand),
    /// A blocking pop (BLPOP …), which inside a transaction does not wait: it pops if a key
    /// holds something and answers a null array otherwise, as redis runs it there. Kept with
    /// its arguments, which are its log form.
    Pop(Blocking, Argv),
}

impl ExecItem {
    /// Runs the command on `ks`; its reply.
    pub fn apply(&self, ks: &mut Keyspace, ctx: &ApplyCtx) -> Frame {
        match self {
            ExecItem::Cmd(c) => c.apply(ks, ctx),
            ExecItem::Pop(b, _) => pop_now(b, ks, ctx),
        }
    }

    /// True when the command does not write.
    pub fn is_read_only(&self) -> bool {
        match self {
            ExecItem::Cmd(c) => c.is_read_only(),
            ExecItem::Pop(..) => false,
        }
    }

    /// The keys the command names.
    pub fn keys(&self) -> Vec<&Bytes> {
        match self {
            ExecItem::Cmd(c) => c.keys(),
            ExecItem::Pop(b, _) => {
                let mut keys: Vec<&Bytes> = b.keys.iter().collect();
                if let blocking::BlockingOp::Move { dst, .. } = &b.op {
                    keys.push(dst);
                }
                keys
            }
        }
    }

    fn to_argv(&self) -> Argv {
        match self {
            ExecItem::Cmd(c) => c.to_argv(),
            ExecItem::Pop(_, argv) => argv.clone(),
        }
    }

    fn for_each_bytes(&mut self, f: &mut impl FnMut(&mut Bytes)) {
        match self {
            ExecItem::Cmd(c) => c.for_each_bytes(f),
            ExecItem::Pop(b, argv) => {
                argv.iter_mut().for_each(&mut *f);
                b.keys.iter_mut().for_each(&mut *f);
                if let blocking::BlockingOp::Move { dst, .. } = &mut b.op {
                    f(dst);
                }
            }
        }
    }

    /// Parses one queued command's argument vector (a client's, or the log's).
    pub fn parse(argv: &Argv) -> Result<ExecItem, Frame> {
        let spec = super::resolve(argv)?;
        if blocking::COMMANDS.iter().any(|c| c.name == spec.name) {
            return blocking::parse(spec.name, argv).map(|b| ExecItem::Pop(b, argv.clone()));
        }
        match super::parse_shard_command(spec.name, argv) {
            Some(parsed) => parsed.map(ExecItem::Cmd),
            None => Err(Frame::error_owned(format!(
                "ERR {} cannot run inside a shard",
                spec.name
            ))),
        }
    }
}

/// A blocking pop that does not wait: the first of its keys holding something is popped, as the
/// same look and pop a waiting client makes (`dispatch/blocking.rs`), in one step.
fn pop_now(b: &Blocking, ks: &mut Keyspace, ctx: &ApplyCtx) -> Frame {
    // What redis answers when it will not block: BLMOVE and BRPOPLPUSH a null bulk (not the
    // null array of their timeout), the others a null array.
    let nothing = || match b.op {
        blocking::BlockingOp::Move { .. } => Frame::Null,
        _ => Frame::NullArray,
    };
    match b.probe(b.keys.clone(), true).apply(ks, ctx) {
        Frame::Integer(i) if i >= 0 => {
            let Some(key) = b.keys.get(i as usize) else {
                return nothing();
            };
            match b.pop(key) {
                Ok(pop) => b.reply(key, pop.apply(ks, ctx)).unwrap_or_else(nothing),
                Err(e) => e,
            }
        }
        Frame::Integer(_) => nothing(),
        other => other,
    }
}

/// EXEC's queued commands behind WATCH's guard: one command of one log entry.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ExecCommand {
    /// The keys WATCH saw, all in the transaction's slot.
    pub watched: Vec<Watched>,
    /// The queued commands, in order.
    pub items: Vec<ExecItem>,
}

impl ExecCommand {
    /// Applies the transaction: a null array when a watched key changed since WATCH (nothing
    /// applied), else the array of the commands' replies.
    pub fn apply(&self, ks: &mut Keyspace, ctx: &ApplyCtx) -> Frame {
        let changed = self
            .watched
            .iter()
            .any(|w| Seen::of(ks, &w.key, ctx.now) != w.seen);
        if changed {
            return Frame::NullArray;
        }
        Frame::Array(self.items.iter().map(|i| i.apply(ks, ctx)).collect())
    }

    /// True when no queued command writes (then it is served as a read, without an entry).
    pub fn is_read_only(&self) -> bool {
        self.items.iter().all(ExecItem::is_read_only)
    }

    /// The keys of the queued commands, then the watched ones.
    pub fn keys(&self) -> Vec<&Bytes> {
        let mut keys: Vec<&Bytes> = self.items.iter().flat_map(ExecItem::keys).collect();
        keys.extend(self.watched.iter().map(|w| &w.key));
        keys
    }

    /// Calls `f` on every byte string held, in a fixed order.
    pub fn for_each_bytes(&mut self, f: &mut impl FnMut(&mut Bytes)) {
        for w in &mut self.watched {
            f(&mut w.key);
        }
        for i in &mut self.items {
            i.for_each_bytes(f);
        }
    }

    /// The log form (see the module's documentation).
    pub fn to_argv(&self) -> Argv {
        let mut argv = vec![word(EXEC), Bytes::from(self.watched.len().to_string())];
        for w in &self.watched {
            argv.push(w.key.clone());
            argv.push(w.seen.encode());
        }
        for item in &self.items {
            let args = item.to_argv();
            argv.push(Bytes::from(args.len().to_string()));
            argv.extend(args);
        }
        argv
    }

    /// Parses the log form written by [`ExecCommand::to_argv`].
    pub fn from_argv(argv: &Argv) -> Result<ExecCommand, String> {
        let number = |at: usize| -> Result<usize, String> {
            argv.get(at)
                .and_then(|a| std::str::from_utf8(a).ok())
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| format!("{EXEC}: no count at argument {at}"))
        };
        let watched_count = number(1)?;
        let mut at = 2;
        let mut watched = Vec::new();
        for _ in 0..watched_count {
            let (Some(key), Some(seen)) = (argv.get(at), argv.get(at + 1)) else {
                return Err(format!("{EXEC}: watched keys cut short"));
            };
            let seen = Seen::decode(seen).ok_or_else(|| format!("{EXEC}: bad watched state"))?;
            watched.push(Watched {
                key: key.clone(),
                seen,
            });
            at += 2;
        }
        let mut items = Vec::new();
        while at < argv.len() {
            let argc = number(at)?;
            let args = argv
                .get(at + 1..at + 1 + argc)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| format!("{EXEC}: a command cut short"))?
                .to_vec();
            // Shard commands as the log writes them (the node's own too: a script's SPOP
            // effect), else a blocking pop.
            let item = match ShardCommand::from_argv(&args) {
                Ok(cmd) => ExecItem::Cmd(cmd),
                Err(_) => ExecItem::parse(&args).map_err(|e| match e {
                    Frame::Error(text) => format!("{EXEC}: {}", String::from_utf8_lossy(&text)),
                    other => format!("{EXEC}: {other:?}"),
                })?,
            };
            items.push(item);
            at += 1 + argc;
        }
        Ok(ExecCommand { watched, items })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Argv {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn exec(cmds: &[&[&str]]) -> ExecCommand {
        ExecCommand {
            watched: Vec::new(),
            items: cmds
                .iter()
                .map(|c| ExecItem::parse(&argv(c)).expect("a shard command"))
                .collect(),
        }
    }

    const CTX: ApplyCtx = ApplyCtx {
        now: 1_700_000_000_000,
        max_bulk_len: 512 * 1024 * 1024,
    };

    fn text(frame: &Frame) -> String {
        let mut out = Vec::new();
        frame.encode(2, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn the_replies_come_in_order_each_on_the_state_before_it() {
        let mut ks = Keyspace::new(0, 16383);
        let tx = exec(&[
            &["SET", "{t}a", "1"],
            &["INCR", "{t}a"],
            &["GET", "{t}a"],
            &["LPUSH", "{t}a", "x"],
            &["BLPOP", "{t}l", "{t}m", "0"],
            &["RPUSH", "{t}m", "y"],
            &["BLPOP", "{t}l", "{t}m", "0"],
        ]);
        assert!(!tx.is_read_only());
        assert_eq!(
            text(&tx.apply(&mut ks, &CTX)),
            "*7\r\n+OK\r\n:2\r\n$1\r\n2\r\n-WRONGTYPE Operation against a key holding the wrong \
             kind of value\r\n*-1\r\n:1\r\n*2\r\n$4\r\n{t}m\r\n$1\r\ny\r\n"
        );
        assert!(exec(&[&["GET", "a"], &["TTL", "b"]]).is_read_only());
    }

    #[test]
    fn a_watched_key_that_changed_aborts_everything() {
        let mut ks = Keyspace::new(0, 16383);
        ks.set_change_version(5);
        exec(&[&["SET", "{t}a", "1"]]).apply(&mut ks, &CTX);
        let seen_a = Seen::of(&ks, b"{t}a", CTX.now);
        let seen_b = Seen::of(&ks, b"{t}b", CTX.now);
        assert_eq!(seen_a, Seen::Version(5));
        let mut tx = exec(&[&["INCR", "{t}a"]]);
        tx.watched = vec![
            Watched {
                key: Bytes::from_static(b"{t}a"),
                seen: seen_a,
            },
            Watched {
                key: Bytes::from_static(b"{t}b"),
                seen: seen_b,
            },
        ];
        // Nothing changed: it applies.
        ks.set_change_version(6);
        assert_eq!(text(&tx.apply(&mut ks, &CTX)), "*1\r\n:2\r\n");
        // Its own write moved {t}a's version: the same guard now fails, and changes nothing.
        ks.set_change_version(7);
        assert_eq!(text(&tx.apply(&mut ks, &CTX)), "*-1\r\n");
        assert_eq!(
            text(&exec(&[&["GET", "{t}a"]]).apply(&mut ks, &CTX)),
            "*1\r\n$1\r\n2\r\n"
        );
    }

    #[test]
    fn the_log_form_parses_back_to_the_same_transaction() {
        let mut tx = exec(&[
            &["SET", "{t}a", "1", "EX", "10"],
            &["BLMOVE", "{t}l", "{t}m", "LEFT", "RIGHT", "0"],
            &["ZADD", "{t}z", "1", "m"],
            &["GET", "{t}a"],
        ]);
        tx.watched = vec![
            Watched {
                key: Bytes::from_static(b"{t}a"),
                seen: Seen::Version(u32::MAX),
            },
            Watched {
                key: Bytes::from_static(b"{t}\x00bin"),
                seen: Seen::Absent(0),
            },
        ];
        // A random write's logged effect (a script's SPOP) is an item too.
        let picked = Frame::Array(vec![Frame::Bulk(Bytes::from_static(b"m"))]);
        let set_pop = ExecItem::parse(&argv(&["SPOP", "{t}s"])).expect("SPOP");
        let ExecItem::Cmd(set_pop) = set_pop else {
            panic!("SPOP is a shard command");
        };
        let crate::commands::EffectStep::Write(effect) = set_pop.effect_write(picked) else {
            panic!("a pick gives an effect to log");
        };
        tx.items.push(ExecItem::Cmd(effect));
        let back = ExecCommand::from_argv(&tx.to_argv()).expect("parses");
        assert_eq!(back, tx);
        assert_eq!(ExecCommand::from_argv(&argv(&[EXEC, "0"])), Ok(exec(&[])));
        for bad in [
            &[EXEC][..],
            &[EXEC, "1", "k"],
            &[EXEC, "1", "k", "x1"],
            &[EXEC, "0", "3", "GET", "k"],
            &[EXEC, "0", "0"],
            &[EXEC, "0", "2", "NOSUCH", "k"],
            &[EXEC, "0", "1", "PING"],
        ] {
            assert!(ExecCommand::from_argv(&argv(bad)).is_err(), "{bad:?}");
        }
    }
}
