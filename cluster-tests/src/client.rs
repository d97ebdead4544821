//! A small cluster-aware client for the workload. It learns which node leads each slot from
//! `MOVED` replies and follows them, and retries `TRYAGAIN` and `LOADING` (all mean the request was not
//! executed), but never retries anything else: a write that timed out or lost its connection is
//! reported as such, so the history knows exactly which writes may have been applied. (General
//! clients such as the `redis` crate may resend a request after a lost connection, which applies
//! a non-idempotent INCR twice; their behaviour is tested in `node/tests/cluster_clients.rs`.)
//! A transaction ([`Client::transaction`]) is tried again only until its EXEC is sent.

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::scenario::key_slot;

/// A reply value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `$-1` / `_`.
    Nil,
    /// `:n`.
    Int(i64),
    /// `$n` or `+text`.
    Text(String),
    /// `*n` (`*-1` is [`Value::Nil`]).
    Array(Vec<Value>),
}

/// Why a call did not get a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// An error reply other than MOVED / TRYAGAIN (the node answered).
    Reply(String),
    /// The request may have been sent, and no reply came (timeout, connection lost).
    Lost(String),
}

/// Connection and routing state of one client.
pub struct Client {
    ports: Vec<u16>,
    owner: HashMap<u16, u16>,
    conns: HashMap<u16, BufReader<TcpStream>>,
    next: usize,
    timeout: Duration,
}

impl Client {
    /// A client of the nodes on `ports`; a reply must come within `timeout`.
    pub fn new(ports: Vec<u16>, timeout: Duration) -> Client {
        Client {
            ports,
            owner: HashMap::new(),
            conns: HashMap::new(),
            next: 0,
            timeout,
        }
    }

    fn pick(&mut self, slot: u16) -> u16 {
        match self.owner.get(&slot) {
            Some(&p) => p,
            None => {
                self.next += 1;
                self.ports[self.next % self.ports.len()]
            }
        }
    }

    /// Sends `args` (the key is `args[1]`, or for EVAL, EVALSHA and FCALL their first key) to
    /// the node leading its slot, following MOVED and TRYAGAIN for up to `self.timeout` in all.
    pub async fn call(&mut self, args: &[String]) -> Result<Value, CallError> {
        let slot = key_slot(first_key(args));
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut last = String::from("no node reachable");
        while tokio::time::Instant::now() < deadline {
            let port = self.pick(slot);
            if !self.connect(slot, port).await {
                last = format!("connect to {port} failed");
                continue;
            }
            let Some(conn) = self.conns.get_mut(&port) else {
                continue;
            };
            let reply = match ask(conn, args, deadline).await {
                Ok(r) => r,
                Err(e) => {
                    self.conns.remove(&port);
                    self.owner.remove(&slot);
                    return Err(CallError::Lost(e));
                }
            };
            match reply {
                Ok(v) => {
                    self.owner.insert(slot, port);
                    return Ok(v);
                }
                Err(e) if self.follow(slot, port, &e).await => last = e,
                Err(e) => return Err(CallError::Reply(e)),
            }
        }
        Err(CallError::Reply(format!("gave up: {last}")))
    }

    /// Runs `before` (commands that do not write, such as WATCH and a GET), then `MULTI`,
    /// `queued` and `EXEC`, all on one connection to the node leading the slot of the first
    /// key, for up to `self.timeout` in all. Until EXEC is sent nothing can have been applied
    /// (the node only queues, and a closed connection drops the queue), so a redirect (MOVED,
    /// TRYAGAIN, LOADING) or a lost connection before then ends the attempt — with DISCARD or
    /// UNWATCH, or by dropping the connection — and the whole transaction is tried again where
    /// the redirect points. Once EXEC is sent, it is never sent again: see [`TxReply`].
    ///
    /// Returns the replies to `before` of the attempt whose EXEC was sent, and how it ended.
    pub async fn transaction(
        &mut self,
        before: &[Vec<String>],
        queued: &[Vec<String>],
    ) -> (Vec<Value>, TxReply) {
        let key = before
            .iter()
            .chain(queued)
            .find_map(|c| c.get(1))
            .map_or("", String::as_str);
        let slot = key_slot(key);
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut last = String::from("no node reachable");
        while tokio::time::Instant::now() < deadline {
            let port = self.pick(slot);
            if !self.connect(slot, port).await {
                last = format!("connect to {port} failed");
                continue;
            }
            let Some(conn) = self.conns.get_mut(&port) else {
                continue;
            };
            let (attempt, clean) = attempt(conn, before, queued, deadline).await;
            if !clean {
                // It may still be in MULTI, watch keys or owe a reply: the next command on it
                // would be queued, or read the wrong reply.
                self.conns.remove(&port);
            }
            match attempt {
                Attempt::Ended(replies, reply) => {
                    match &reply {
                        TxReply::Unknown(e) if !self.follow(slot, port, e).await => {
                            self.owner.remove(&slot);
                        }
                        TxReply::Unknown(_) => {}
                        _ => {
                            self.owner.insert(slot, port);
                        }
                    }
                    return (replies, reply);
                }
                Attempt::Again(e) => {
                    if !self.follow(slot, port, &e).await {
                        // Lost before EXEC: another node may answer.
                        self.owner.remove(&slot);
                    }
                    last = e;
                }
            }
        }
        (Vec::new(), TxReply::Refused(format!("gave up: {last}")))
    }

    /// Makes sure there is a connection to `port`; false (after a pause, with the slot's
    /// leader forgotten) if it cannot be opened: nothing was sent, another node may do.
    async fn connect(&mut self, slot: u16, port: u16) -> bool {
        let std::collections::hash_map::Entry::Vacant(slot_conn) = self.conns.entry(port) else {
            return true;
        };
        let connect = tokio::time::timeout(
            Duration::from_millis(300),
            TcpStream::connect(("127.0.0.1", port)),
        )
        .await;
        match connect {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                slot_conn.insert(BufReader::new(s));
                true
            }
            _ => {
                self.owner.remove(&slot);
                tokio::time::sleep(Duration::from_millis(20)).await;
                false
            }
        }
    }

    /// Learns from an error reply of node `port` about `slot` where to go next, and pauses as
    /// cluster clients do: true for MOVED, TRYAGAIN and LOADING (the request was not run),
    /// false for any other error.
    async fn follow(&mut self, slot: u16, port: u16, error: &str) -> bool {
        if error.starts_with("MOVED ") {
            let to = error
                .rsplit(':')
                .next()
                .and_then(|p| p.trim().parse().ok())
                .unwrap_or(port);
            self.owner.insert(slot, to);
        } else if error.starts_with("TRYAGAIN") {
            tokio::time::sleep(Duration::from_millis(30)).await;
        } else if error.starts_with("LOADING") {
            // A restarted node still loading its data ran nothing: ask another node (which
            // redirects to the leader) after a pause, as cluster clients retry LOADING.
            self.owner.remove(&slot);
            tokio::time::sleep(Duration::from_millis(30)).await;
        } else {
            return false;
        }
        true
    }
}

/// How a transaction ([`Client::transaction`]) ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxReply {
    /// EXEC answered: the array of the queued commands' replies, or [`Value::Nil`] when a
    /// watched key had changed (nothing applied).
    Exec(Value),
    /// Nothing of it was applied: EXEC answered EXECABORT or CROSSSLOT, or a command was
    /// refused (other than by a redirect) before EXEC was sent, or no attempt got as far as
    /// sending EXEC in time.
    Refused(String),
    /// EXEC was sent and answered an error other than EXECABORT and CROSSSLOT, or no reply
    /// came: the transaction may or may not have been applied. (Shardis answers MOVED and
    /// TRYAGAIN only for entries it never appended, but a transaction's test does not lean
    /// on that: any such answer to EXEC counts as unknown.)
    Unknown(String),
}

/// How one attempt at a transaction ended.
enum Attempt {
    /// For good: the replies to the commands before MULTI, and the outcome.
    Ended(Vec<Value>, TxReply),
    /// Not applied, and worth another attempt: a redirect, or the connection was lost (or
    /// answered too late) before EXEC was sent.
    Again(String),
}

/// One attempt at `before`, MULTI, `queued`, EXEC on `conn` (see [`Client::transaction`]), and
/// whether the connection is left clean: out of MULTI, watching nothing, owing no reply.
async fn attempt(
    conn: &mut BufReader<TcpStream>,
    before: &[Vec<String>],
    queued: &[Vec<String>],
    deadline: tokio::time::Instant,
) -> (Attempt, bool) {
    let mut replies = Vec::with_capacity(before.len());
    for cmd in before {
        match ask(conn, cmd, deadline).await {
            Ok(Ok(v)) => replies.push(v),
            Ok(Err(e)) => return refused_before_exec(conn, e, false, deadline).await,
            Err(e) => return (Attempt::Again(e), false),
        }
    }
    match ask(conn, &words(&["MULTI"]), deadline).await {
        Ok(Ok(Value::Text(t))) if t == "OK" => {}
        Ok(Ok(v)) => {
            let e = format!("MULTI answered {v:?}");
            return refused_before_exec(conn, e, true, deadline).await;
        }
        Ok(Err(e)) => return refused_before_exec(conn, e, false, deadline).await,
        Err(e) => return (Attempt::Again(e), false),
    }
    for cmd in queued {
        match ask(conn, cmd, deadline).await {
            Ok(Ok(Value::Text(t))) if t == "QUEUED" => {}
            Ok(Ok(v)) => {
                let name = cmd.first().map_or("?", String::as_str);
                let e = format!("{name} answered {v:?} in MULTI");
                return refused_before_exec(conn, e, true, deadline).await;
            }
            Ok(Err(e)) => return refused_before_exec(conn, e, true, deadline).await,
            Err(e) => return (Attempt::Again(e), false),
        }
    }
    let reply = match ask(conn, &words(&["EXEC"]), deadline).await {
        Ok(Ok(v)) => (TxReply::Exec(v), true),
        // EXEC ends the transaction and forgets the watched keys whatever it answers.
        Ok(Err(e)) if e.starts_with("EXECABORT") || e.starts_with("CROSSSLOT") => {
            (TxReply::Refused(e), true)
        }
        Ok(Err(e)) => (TxReply::Unknown(e), true),
        Err(e) => (TxReply::Unknown(e), false),
    };
    (Attempt::Ended(replies, reply.0), reply.1)
}

/// Ends an attempt refused before EXEC with `error` (nothing was applied): leaves the
/// transaction (DISCARD, which also forgets the watched keys, when `in_multi`; else UNWATCH),
/// then tries again after a redirect, or gives up on any other refusal.
async fn refused_before_exec(
    conn: &mut BufReader<TcpStream>,
    error: String,
    in_multi: bool,
    deadline: tokio::time::Instant,
) -> (Attempt, bool) {
    let leave = if in_multi { "DISCARD" } else { "UNWATCH" };
    let clean = matches!(
        ask(conn, &words(&[leave]), deadline).await,
        Ok(Ok(Value::Text(t))) if t == "OK"
    );
    let redirect = ["MOVED ", "TRYAGAIN", "LOADING"]
        .iter()
        .any(|r| error.starts_with(r));
    if redirect {
        (Attempt::Again(error), clean)
    } else {
        (Attempt::Ended(Vec::new(), TxReply::Refused(error)), clean)
    }
}

/// The key that routes a command: `args[1]`, or for EVAL / EVALSHA / FCALL (and their `_RO`
/// forms) the first of the keys after `numkeys` (`""` if there is none).
fn first_key(args: &[String]) -> &str {
    let name = args.first().map_or("", |n| n.as_str()).to_ascii_uppercase();
    let at = match name.as_str() {
        "EVAL" | "EVALSHA" | "EVAL_RO" | "EVALSHA_RO" | "FCALL" | "FCALL_RO" => 3,
        _ => 1,
    };
    args.get(at).map_or("", String::as_str)
}

fn words(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| p.to_string()).collect()
}

/// [`exchange`] with a reply due by `deadline`: `Err` for an I/O failure or no reply in time
/// (the connection then owes a reply and must not be used again).
async fn ask(
    conn: &mut BufReader<TcpStream>,
    args: &[String],
    deadline: tokio::time::Instant,
) -> Result<Result<Value, String>, String> {
    match tokio::time::timeout_at(deadline, exchange(conn, args)).await {
        Ok(reply) => reply,
        Err(_) => Err(format!(
            "no reply from {}",
            conn.get_ref()
                .peer_addr()
                .map_or("?".to_string(), |a| a.to_string())
        )),
    }
}

/// Writes one command and reads one reply: `Ok(Ok(value))`, `Ok(Err(error reply))`, or
/// `Err(io failure)`.
async fn exchange(
    conn: &mut BufReader<TcpStream>,
    args: &[String],
) -> Result<Result<Value, String>, String> {
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    conn.get_mut()
        .write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    read_value(conn).await
}

/// A reply, an error reply, or an I/O failure (see [`exchange`]).
type Read<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Result<Value, String>, String>> + Send + 'a>,
>;

/// Reads one reply (arrays element by element).
fn read_value(conn: &mut BufReader<TcpStream>) -> Read<'_> {
    Box::pin(async move {
        let mut line = String::new();
        let n = conn.read_line(&mut line).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed".into());
        }
        let line = line.trim_end();
        let (kind, rest) = line.split_at(line.len().min(1));
        match kind {
            "+" => Ok(Ok(Value::Text(rest.to_string()))),
            "-" => Ok(Err(rest.to_string())),
            ":" => rest
                .parse()
                .map(|n| Ok(Value::Int(n)))
                .map_err(|_| format!("bad integer {line:?}")),
            "_" => Ok(Ok(Value::Nil)),
            "$" => {
                let len: i64 = rest.parse().map_err(|_| format!("bad bulk {line:?}"))?;
                if len < 0 {
                    return Ok(Ok(Value::Nil));
                }
                let mut buf = vec![0u8; len as usize + 2];
                conn.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
                buf.truncate(len as usize);
                Ok(Ok(Value::Text(String::from_utf8_lossy(&buf).into_owned())))
            }
            "*" => {
                let len: i64 = rest.parse().map_err(|_| format!("bad array {line:?}"))?;
                if len < 0 {
                    return Ok(Ok(Value::Nil));
                }
                let mut items = Vec::with_capacity(len.min(1024) as usize);
                for _ in 0..len {
                    match read_value(conn).await? {
                        Ok(v) => items.push(v),
                        Err(e) => return Err(format!("an error inside an array: {e}")),
                    }
                }
                Ok(Ok(Value::Array(items)))
            }
            _ => Err(format!("unexpected reply {line:?}")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::net::TcpListener;

    /// What a fake node was sent, each command as its words.
    type Log = Arc<Mutex<Vec<Vec<String>>>>;

    /// A fake node on a free loopback port: answers each command with `reply(command)` (raw
    /// RESP; empty: close the connection) and logs it.
    async fn fake_node(reply: impl Fn(&[String]) -> String + Send + Sync + 'static) -> (u16, Log) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let log = Log::default();
        let (reply, seen) = (Arc::new(reply), log.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (reply, seen) = (reply.clone(), seen.clone());
                tokio::spawn(async move {
                    let mut conn = BufReader::new(stream);
                    while let Some(cmd) = read_command(&mut conn).await {
                        seen.lock().expect("log").push(cmd.clone());
                        let answer = reply(&cmd);
                        if answer.is_empty()
                            || conn.get_mut().write_all(answer.as_bytes()).await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        (port, log)
    }

    /// One request (`*n`, then `n` bulk strings), or `None` at the end of the connection.
    async fn read_command(conn: &mut BufReader<TcpStream>) -> Option<Vec<String>> {
        let mut line = String::new();
        conn.read_line(&mut line).await.ok().filter(|&n| n > 0)?;
        let n: usize = line.trim_end().strip_prefix('*')?.parse().ok()?;
        let mut words = Vec::with_capacity(n);
        for _ in 0..n {
            line.clear();
            conn.read_line(&mut line).await.ok()?;
            let len: usize = line.trim_end().strip_prefix('$')?.parse().ok()?;
            let mut buf = vec![0u8; len + 2];
            conn.read_exact(&mut buf).await.ok()?;
            words.push(String::from_utf8_lossy(&buf[..len]).into_owned());
        }
        Some(words)
    }

    /// The commands' names a fake node was sent.
    fn names(log: &Log) -> Vec<String> {
        log.lock()
            .expect("log")
            .iter()
            .map(|c| c[0].clone())
            .collect()
    }

    fn incr_both() -> Vec<Vec<String>> {
        vec![words(&["INCR", "tx:{0}a"]), words(&["INCR", "tx:{0}b"])]
    }

    /// A leader that queues everything and answers EXEC with `exec`.
    async fn leader(exec: &'static str) -> (u16, Log) {
        fake_node(move |cmd| match cmd[0].as_str() {
            "MULTI" | "DISCARD" | "UNWATCH" | "WATCH" => "+OK\r\n".into(),
            "EXEC" => exec.into(),
            "GET" => "$1\r\n3\r\n".into(),
            _ => "+QUEUED\r\n".into(),
        })
        .await
    }

    /// A node that answers every keyed command with MOVED to `to`.
    async fn follower(to: u16) -> (u16, Log) {
        fake_node(move |cmd| match cmd[0].as_str() {
            "MULTI" | "DISCARD" | "UNWATCH" => "+OK\r\n".into(),
            _ => format!("-MOVED 1 127.0.0.1:{to}\r\n"),
        })
        .await
    }

    #[test]
    fn an_eval_is_routed_by_its_first_key() {
        let eval = words(&["EVAL", "return 1", "2", "lua:{0}a", "lua:{0}b"]);
        assert_eq!(first_key(&eval), "lua:{0}a");
        assert_eq!(first_key(&words(&["evalsha", "abc", "0"])), "");
        let fcall = words(&["FCALL", "incr_both", "2", "lua:{1}a", "lua:{1}b"]);
        assert_eq!(first_key(&fcall), "lua:{1}a");
        let fcall_ro = words(&["fcall_ro", "read_both", "2", "lua:{0}a", "lua:{0}b"]);
        assert_eq!(first_key(&fcall_ro), "lua:{0}a");
        assert_eq!(first_key(&words(&["FCALL", "f", "0"])), "");
        assert_eq!(first_key(&words(&["INCR", "ctr:0"])), "ctr:0");
    }

    #[tokio::test]
    async fn a_transaction_moved_while_queueing_is_discarded_and_run_again_where_it_points() {
        let (to, at_leader) = leader("*2\r\n:1\r\n:1\r\n").await;
        let (from, at_follower) = follower(to).await;
        let mut c = Client::new(vec![from], Duration::from_secs(2));
        let (_, reply) = c.transaction(&[], &incr_both()).await;
        assert_eq!(
            reply,
            TxReply::Exec(Value::Array(vec![Value::Int(1), Value::Int(1)]))
        );
        assert_eq!(names(&at_follower), ["MULTI", "INCR", "DISCARD"]);
        assert_eq!(names(&at_leader), ["MULTI", "INCR", "INCR", "EXEC"]);
    }

    #[tokio::test]
    async fn a_watch_moved_is_unwatched_and_run_again_where_it_points() {
        let (to, at_leader) = leader("*-1\r\n").await;
        let (from, at_follower) = follower(to).await;
        let mut c = Client::new(vec![from], Duration::from_secs(2));
        let before = [words(&["WATCH", "tx:{0}a"]), words(&["GET", "tx:{0}a"])];
        let (replies, reply) = c.transaction(&before, &incr_both()).await;
        assert_eq!(reply, TxReply::Exec(Value::Nil));
        assert_eq!(replies, [Value::Text("OK".into()), Value::Text("3".into())]);
        assert_eq!(names(&at_follower), ["WATCH", "UNWATCH"]);
        assert_eq!(
            names(&at_leader),
            ["WATCH", "GET", "MULTI", "INCR", "INCR", "EXEC"]
        );
    }

    #[tokio::test]
    async fn exec_is_never_sent_twice() {
        // MOVED in answer to EXEC: unknown, but the route is learnt.
        let (to, at_leader) = leader("*2\r\n:1\r\n:1\r\n").await;
        let (from, at_old) = fake_node(move |cmd| match cmd[0].as_str() {
            "EXEC" => format!("-MOVED 1 127.0.0.1:{to}\r\n"),
            "MULTI" => "+OK\r\n".into(),
            _ => "+QUEUED\r\n".into(),
        })
        .await;
        let mut c = Client::new(vec![from], Duration::from_secs(2));
        let (_, reply) = c.transaction(&[], &incr_both()).await;
        assert_eq!(reply, TxReply::Unknown(format!("MOVED 1 127.0.0.1:{to}")));
        assert_eq!(names(&at_old), ["MULTI", "INCR", "INCR", "EXEC"]);
        assert!(names(&at_leader).is_empty());
        let (_, again) = c.transaction(&[], &incr_both()).await;
        assert!(matches!(again, TxReply::Exec(_)), "{again:?}");
        assert_eq!(names(&at_leader), ["MULTI", "INCR", "INCR", "EXEC"]);

        // The connection lost after EXEC was sent: unknown, and not sent again.
        let (port, log) = leader("").await;
        let mut c = Client::new(vec![port], Duration::from_secs(2));
        let (_, reply) = c.transaction(&[], &incr_both()).await;
        assert!(matches!(reply, TxReply::Unknown(_)), "{reply:?}");
        assert_eq!(names(&log), ["MULTI", "INCR", "INCR", "EXEC"]);
    }

    #[tokio::test]
    async fn refusals_end_the_transaction_with_nothing_applied() {
        for exec in [
            "-EXECABORT Transaction discarded because of previous errors.\r\n",
            "-CROSSSLOT Keys in request don't hash to the same slot\r\n",
        ] {
            let (port, log) = leader(exec).await;
            let mut c = Client::new(vec![port], Duration::from_secs(2));
            let (_, reply) = c.transaction(&[], &incr_both()).await;
            assert!(matches!(reply, TxReply::Refused(_)), "{reply:?}");
            assert_eq!(names(&log), ["MULTI", "INCR", "INCR", "EXEC"]);
        }
        // Refused while queueing, not by a redirect: discarded, not tried again.
        let (port, log) = fake_node(|cmd| match cmd[0].as_str() {
            "MULTI" | "DISCARD" => "+OK\r\n".into(),
            _ => "-OOM command not allowed when used memory > 'maxmemory'.\r\n".into(),
        })
        .await;
        let mut c = Client::new(vec![port], Duration::from_secs(2));
        let (_, reply) = c.transaction(&[], &incr_both()).await;
        assert!(
            matches!(&reply, TxReply::Refused(e) if e.starts_with("OOM")),
            "{reply:?}"
        );
        assert_eq!(names(&log), ["MULTI", "INCR", "DISCARD"]);
    }
}
