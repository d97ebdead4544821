//! A small cluster-aware client for the workload. It learns which node leads each slot from
//! `MOVED` replies and follows them, and retries `TRYAGAIN` and `LOADING` (all mean the request was not
//! executed), but never retries anything else: a write that timed out or lost its connection is
//! reported as such, so the history knows exactly which writes may have been applied. (General
//! clients such as the `redis` crate may resend a request after a lost connection, which applies
//! a non-idempotent INCR twice; their behaviour is tested in `node/tests/cluster_clients.rs`.)

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

    /// Sends `args` (the key is `args[1]`) to the node leading its slot, following MOVED and
    /// TRYAGAIN for up to `self.timeout` in all.
    pub async fn call(&mut self, args: &[String]) -> Result<Value, CallError> {
        let slot = key_slot(args.get(1).map_or("", String::as_str));
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut last = String::from("no node reachable");
        while tokio::time::Instant::now() < deadline {
            let port = self.pick(slot);
            if let std::collections::hash_map::Entry::Vacant(slot_conn) = self.conns.entry(port) {
                let connect = tokio::time::timeout(
                    Duration::from_millis(300),
                    TcpStream::connect(("127.0.0.1", port)),
                )
                .await;
                match connect {
                    Ok(Ok(s)) => {
                        let _ = s.set_nodelay(true);
                        slot_conn.insert(BufReader::new(s));
                    }
                    _ => {
                        // Nothing was sent: another node may do.
                        self.owner.remove(&slot);
                        last = format!("connect to {port} failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                }
            }
            let Some(conn) = self.conns.get_mut(&port) else {
                continue;
            };
            let reply = tokio::time::timeout_at(deadline, exchange(conn, args)).await;
            let reply = match reply {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    self.conns.remove(&port);
                    self.owner.remove(&slot);
                    return Err(CallError::Lost(e));
                }
                Err(_) => {
                    self.conns.remove(&port);
                    self.owner.remove(&slot);
                    return Err(CallError::Lost(format!("no reply from {port}")));
                }
            };
            match reply {
                Ok(v) => {
                    self.owner.insert(slot, port);
                    return Ok(v);
                }
                Err(e) if e.starts_with("MOVED ") => {
                    let to = e
                        .rsplit(':')
                        .next()
                        .and_then(|p| p.trim().parse().ok())
                        .unwrap_or(port);
                    self.owner.insert(slot, to);
                    last = e;
                }
                Err(e) if e.starts_with("TRYAGAIN") => {
                    last = e;
                    tokio::time::sleep(Duration::from_millis(30)).await;
                }
                // A restarted node still loading its data ran nothing: ask another node (which
                // redirects to the leader) after a pause, as cluster clients retry LOADING.
                Err(e) if e.starts_with("LOADING") => {
                    self.owner.remove(&slot);
                    last = e;
                    tokio::time::sleep(Duration::from_millis(30)).await;
                }
                Err(e) => return Err(CallError::Reply(e)),
            }
        }
        Err(CallError::Reply(format!("gave up: {last}")))
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
