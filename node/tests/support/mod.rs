//! Shared helpers for integration tests: spawning `redis-server` / `shardis`
//! on free ports, a raw RESP client that returns reply bytes untouched, and a
//! small RESP2/RESP3 parser and pretty printer for assertion messages.
//!
//! Include from a test crate with `mod support;`.
#![allow(dead_code)]

pub mod cluster;

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a server may take to answer its first `PING`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Default read timeout of [`RawClient`].
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Returns a port on 127.0.0.1 that was free a moment ago.
/// Waits up to `limit` for `child` to exit; its exit status if it did.
pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        thread::sleep(Duration::from_millis(20));
    }
    None
}

pub fn free_port() -> u16 {
    // Below the kernel's ephemeral range (32768 and up by default), so that no outgoing
    // connection — a node's peer links, a client — can take the port between this check and
    // the server binding it (that race made clusters fail to start with "Address already in
    // use"). Each process walks its own stretch of 10000..32000, starting from its pid.
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(2654435761) % 22_000;
    for _ in 0..22_000 {
        let port = 10_000 + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % 22_000;
        if TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
            return port as u16;
        }
    }
    panic!("no free loopback port below the ephemeral range");
}

/// Creates a fresh, unique directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "shardis-it-{tag}-{}-{}-{nanos}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&dir).expect("create temp dir for test server");
    dir
}

/// Which program a [`Server`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Redis,
    Shardis,
}

/// A server process on 127.0.0.1 that is killed and reaped on drop.
///
/// stdout and stderr go to `server.log` in a private temp dir; call
/// [`Server::dump_log`] to print it (done automatically when dropped during
/// a panic). The temp dir is removed on drop.
pub struct Server {
    child: Child,
    /// TCP port the server listens on (127.0.0.1).
    pub port: u16,
    /// Short label for messages, e.g. `redis` or `shardis`.
    pub name: String,
    /// The server's working directory (holds the log).
    pub dir: PathBuf,
    log_path: PathBuf,
    args: Vec<String>,
}

impl Server {
    /// `redis-server` with persistence off.
    pub fn redis() -> Server {
        Server::redis_with(&[])
    }

    /// `redis-server` with extra arguments; `{dir}` in an argument is
    /// replaced by the server's temp dir.
    pub fn redis_with(extra: &[&str]) -> Server {
        Server::start(Kind::Redis, extra)
    }

    /// `redis-server` in cluster mode owning all 16384 slots, waited on until
    /// `cluster_state:ok`.
    pub fn redis_cluster() -> Server {
        let server = Server::redis_with(&[
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "{dir}/nodes.conf",
        ]);
        let mut client = server.client();
        let reply = client.cmd_str(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
        if reply != b"+OK\r\n" {
            // Dropping `server` while panicking prints its log.
            panic!("CLUSTER ADDSLOTSRANGE failed: {}", pretty(&reply));
        }
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let info = client.cmd_str(&["CLUSTER", "INFO"]);
            if contains(&info, b"cluster_state:ok") {
                return server;
            }
            if Instant::now() > deadline {
                panic!(
                    "redis cluster never reached cluster_state:ok: {}",
                    pretty(&info)
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The `shardis` binary built by cargo, with 4 shards.
    pub fn shardis() -> Server {
        Server::shardis_with(&[])
    }

    /// `shardis` with extra arguments; `{dir}` is replaced as for
    /// [`Server::redis_with`].
    pub fn shardis_with(extra: &[&str]) -> Server {
        Server::start(Kind::Shardis, extra)
    }

    /// Spawns `kind` and waits until it answers `PING`; retries a couple of
    /// times if the chosen port turned out to be taken.
    pub fn start(kind: Kind, extra: &[&str]) -> Server {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Server::try_start(kind, extra) {
                (server, Ok(())) => return server,
                (server, Err(why)) => {
                    let log = server.log();
                    let port_taken = log.contains("in use") || log.contains("AddrInUse");
                    if port_taken && attempt < 3 {
                        continue;
                    }
                    panic!("{} did not start: {why} (log below)", server.name);
                }
            }
        }
    }

    /// Spawns once; the server comes back even if it is not ready (for its log).
    fn try_start(kind: Kind, extra: &[&str]) -> (Server, Result<(), String>) {
        let port = free_port();
        let dir = temp_dir(match kind {
            Kind::Redis => "redis",
            Kind::Shardis => "shardis",
        });
        let port_s = port.to_string();
        let (program, name, mut args): (&str, &str, Vec<String>) = match kind {
            Kind::Redis => (
                "redis-server",
                "redis",
                [
                    "--port",
                    &port_s,
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--protected-mode",
                    "no",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            ),
            Kind::Shardis => (
                env!("CARGO_BIN_EXE_shardis"),
                "shardis",
                [
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    &port_s,
                    "--shards",
                    "4",
                    "--log-level",
                    "warn",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            ),
        };
        let dir_s = dir.to_string_lossy().into_owned();
        args.extend(extra.iter().map(|a| a.replace("{dir}", &dir_s)));

        let log_path = dir.join("server.log");
        let log = File::create(&log_path).expect("create server log file");
        let log_err = log.try_clone().expect("clone server log handle");
        let child = Command::new(program)
            .args(&args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {program}: {e}"));
        let mut server = Server {
            child,
            port,
            name: name.to_string(),
            dir,
            log_path,
            args,
        };
        let ready = server.wait_ready();
        (server, ready)
    }

    /// The `--requirepass` the server was started with, if any.
    fn password(&self) -> Option<String> {
        let at = self.args.iter().position(|a| a == "--requirepass")?;
        self.args.get(at + 1).cloned()
    }

    /// Polls until a fresh connection (authenticated with the server's password, if it has
    /// one) gets `+PONG` for `PING`: the server is up and done loading its data.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut last = String::from("no attempt");
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("process exited early with {status}"));
            }
            match RawClient::try_connect(self.port) {
                Ok(mut c) => {
                    c.set_read_timeout(Duration::from_secs(1));
                    if let Some(pw) = self.password() {
                        let _ = c.try_cmd(&[b"AUTH", pw.as_bytes()]);
                    }
                    match c.try_cmd(&[b"PING"]) {
                        Ok(r) if r.starts_with(b"+PONG") => return Ok(()),
                        Ok(r) => last = format!("PING answered {}", pretty(&r)),
                        Err(e) => last = format!("PING failed: {e}"),
                    }
                }
                Err(e) => last = format!("connect failed: {e}"),
            }
            thread::sleep(Duration::from_millis(25));
        }
        Err(format!("not ready after {STARTUP_TIMEOUT:?} ({last})"))
    }

    /// A new raw connection to this server (panics if it cannot connect).
    pub fn client(&self) -> RawClient {
        RawClient::try_connect(self.port)
            .unwrap_or_else(|e| panic!("connect to {} on port {}: {e}", self.name, self.port))
    }

    /// Whether the process is still running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The log written so far.
    pub fn log(&self) -> String {
        fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|e| format!("<cannot read {}: {e}>", self.log_path.display()))
    }

    /// Prints the command line and the log (its last 80 lines) to stderr.
    pub fn dump_log(&self) {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let from = lines.len().saturating_sub(80);
        eprintln!(
            "----- {} (port {}) args: {:?}\n----- log {}{}:\n{}\n----- end of {} log",
            self.name,
            self.port,
            self.args,
            self.log_path.display(),
            if from > 0 { " (tail)" } else { "" },
            lines[from..].join("\n"),
            self.name
        );
    }

    /// Path of the server's working directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            self.dump_log();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Why [`RawClient::try_read_reply`] returned no reply.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection (EOF or reset); holds unparsed bytes.
    Closed(Vec<u8>),
    /// Nothing complete arrived within the read timeout; holds partial bytes.
    Timeout(Vec<u8>),
    /// The bytes received are not valid RESP.
    Protocol(String, Vec<u8>),
    /// Any other socket error.
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Closed(rest) if rest.is_empty() => write!(f, "<connection closed>"),
            ReadError::Closed(rest) => {
                write!(f, "<connection closed after partial {}>", pretty(rest))
            }
            ReadError::Timeout(rest) if rest.is_empty() => write!(f, "<timeout, no reply>"),
            ReadError::Timeout(rest) => write!(f, "<timeout after partial {}>", pretty(rest)),
            ReadError::Protocol(why, rest) => write!(f, "<bad RESP: {why} in {}>", pretty(rest)),
            ReadError::Io(e) => write!(f, "<io error: {e}>"),
        }
    }
}

/// A blocking RESP client that hands back raw reply bytes.
///
/// Bytes read past the end of one reply stay buffered, so pipelined replies
/// are split correctly.
pub struct RawClient {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawClient {
    /// Connects to 127.0.0.1:`port` with a 5 s read timeout (panics on error).
    pub fn connect(port: u16) -> RawClient {
        RawClient::try_connect(port).unwrap_or_else(|e| panic!("connect to port {port}: {e}"))
    }

    /// Connects to 127.0.0.1:`port` with a 5 s read timeout.
    pub fn try_connect(port: u16) -> io::Result<RawClient> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        stream.set_write_timeout(Some(READ_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(RawClient {
            stream,
            buf: Vec::new(),
        })
    }

    /// Changes the read timeout.
    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.stream
            .set_read_timeout(Some(timeout))
            .expect("set_read_timeout");
    }

    /// Writes one command as a RESP multibulk (panics on write error).
    pub fn send(&mut self, args: &[&[u8]]) {
        self.try_send(args).expect("write command to server");
    }

    /// Writes one command as a RESP multibulk.
    pub fn try_send(&mut self, args: &[&[u8]]) -> io::Result<()> {
        self.try_send_raw(&encode_command(args))
    }

    /// Writes bytes as they are (panics on write error).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.try_send_raw(bytes).expect("write raw bytes to server");
    }

    /// Writes bytes as they are.
    pub fn try_send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Reads exactly one complete reply and returns its raw bytes (panics on
    /// timeout, EOF or malformed RESP).
    pub fn read_reply(&mut self) -> Vec<u8> {
        self.try_read_reply()
            .unwrap_or_else(|e| panic!("reading reply: {e}"))
    }

    /// Reads exactly one complete reply (an attribute and the value it
    /// annotates count as one) and returns its raw bytes.
    pub fn try_read_reply(&mut self) -> Result<Vec<u8>, ReadError> {
        loop {
            match frame_len(&self.buf) {
                Ok(Some(n)) => return Ok(self.buf.drain(..n).collect()),
                Ok(None) => {}
                Err(why) => return Err(ReadError::Protocol(why, self.buf.clone())),
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(ReadError::Closed(std::mem::take(&mut self.buf))),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => match e.kind() {
                    io::ErrorKind::Interrupted => {}
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                        return Err(ReadError::Timeout(self.buf.clone()))
                    }
                    io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
                        return Err(ReadError::Closed(std::mem::take(&mut self.buf)))
                    }
                    _ => return Err(ReadError::Io(e)),
                },
            }
        }
    }

    /// Sends one command and reads one reply (panics on failure).
    pub fn cmd(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(args);
        self.read_reply()
    }

    /// [`RawClient::cmd`] for string arguments.
    pub fn cmd_str(&mut self, args: &[&str]) -> Vec<u8> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.cmd(&args)
    }

    /// Sends one command and reads one reply.
    pub fn try_cmd(&mut self, args: &[&[u8]]) -> Result<Vec<u8>, ReadError> {
        if let Err(e) = self.try_send(args) {
            return Err(match e.kind() {
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => {
                    ReadError::Closed(Vec::new())
                }
                _ => ReadError::Io(e),
            });
        }
        self.try_read_reply()
    }

    /// Waits (up to the read timeout) for the server to close the
    /// connection; `Ok(())` if it did with no further bytes, otherwise what
    /// was seen instead.
    pub fn expect_closed(&mut self) -> Result<(), String> {
        match self.try_read_reply() {
            Err(ReadError::Closed(rest)) if rest.is_empty() => Ok(()),
            Err(e) => Err(e.to_string()),
            Ok(reply) => Err(format!("connection still open, got {}", pretty(&reply))),
        }
    }

    /// Half-closes the write side (the server sees EOF).
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// Encodes one command as a RESP multibulk.
pub fn encode_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A parsed RESP2/RESP3 value (used where raw bytes are not compared).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reply {
    /// `+`
    Simple(Vec<u8>),
    /// `-`
    Error(Vec<u8>),
    /// `:`
    Integer(i64),
    /// `$`, `None` for `$-1`.
    Bulk(Option<Vec<u8>>),
    /// `*`, `None` for `*-1`.
    Array(Option<Vec<Reply>>),
    /// `_`
    Null,
    /// `,` (kept as text)
    Double(Vec<u8>),
    /// `#`
    Boolean(bool),
    /// `(` (kept as text)
    BigNumber(Vec<u8>),
    /// `!`
    BulkError(Vec<u8>),
    /// `=` (including the `xxx:` format prefix)
    Verbatim(Vec<u8>),
    /// `%`
    Map(Vec<(Reply, Reply)>),
    /// `~`
    Set(Vec<Reply>),
    /// `>`
    Push(Vec<Reply>),
    /// `|` attributes followed by the value they annotate.
    Attribute(Vec<(Reply, Reply)>, Box<Reply>),
}

impl Reply {
    /// Elements of an array, set or push reply.
    pub fn items(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(Some(v)) | Reply::Set(v) | Reply::Push(v) => Some(v),
            _ => None,
        }
    }

    /// Bytes of a bulk, simple or verbatim string.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(Some(b)) | Reply::Simple(b) | Reply::Verbatim(b) => Some(b),
            _ => None,
        }
    }

    /// The integer value, also for a bulk string holding an integer.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Integer(n) => Some(*n),
            Reply::Bulk(Some(b)) => std::str::from_utf8(b).ok()?.parse().ok(),
            _ => None,
        }
    }
}

/// Length in bytes of the first complete reply in `buf`, `Ok(None)` if more
/// bytes are needed.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, String> {
    Ok(parse_at(buf, 0)?.map(|(_, end)| end))
}

/// Parses one complete raw reply (panics if `raw` is not exactly one reply).
pub fn parse_reply(raw: &[u8]) -> Reply {
    match parse_at(raw, 0) {
        Ok(Some((reply, end))) if end == raw.len() => reply,
        Ok(Some((_, end))) => panic!("trailing bytes after reply at {end}: {}", pretty(raw)),
        Ok(None) => panic!("incomplete reply: {}", pretty(raw)),
        Err(e) => panic!("malformed reply ({e}): {}", pretty(raw)),
    }
}

/// The line starting at `pos` (without CRLF) and the index after its CRLF.
fn line_at(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(pos..)?;
    let i = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..i], pos + i + 2))
}

fn parse_int(line: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad integer {}", pretty(line)))
}

/// Parses the value at `pos`; `Ok(None)` when `buf` ends before it does.
fn parse_at(buf: &[u8], pos: usize) -> Result<Option<(Reply, usize)>, String> {
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let Some((line, next)) = line_at(buf, pos + 1) else {
        return Ok(None);
    };
    let reply = match kind {
        b'+' => Reply::Simple(line.to_vec()),
        b'-' => Reply::Error(line.to_vec()),
        b':' => Reply::Integer(parse_int(line)?),
        b'_' if line.is_empty() => Reply::Null,
        b'_' => return Err(format!("null with payload {}", pretty(line))),
        b',' => Reply::Double(line.to_vec()),
        b'(' => Reply::BigNumber(line.to_vec()),
        b'#' => match line {
            b"t" => Reply::Boolean(true),
            b"f" => Reply::Boolean(false),
            _ => return Err(format!("bad boolean {}", pretty(line))),
        },
        b'$' | b'!' | b'=' => {
            let (data, end) = if line == b"?" {
                match parse_streamed_string(buf, next)? {
                    Some(x) => x,
                    None => return Ok(None),
                }
            } else {
                let n = parse_int(line)?;
                if n == -1 && kind == b'$' {
                    return Ok(Some((Reply::Bulk(None), next)));
                }
                let n = usize::try_from(n).map_err(|_| format!("bad length {n}"))?;
                let end = next + n + 2;
                if buf.len() < end {
                    return Ok(None);
                }
                if &buf[end - 2..end] != b"\r\n" {
                    return Err("bulk data not followed by CRLF".into());
                }
                (buf[next..end - 2].to_vec(), end)
            };
            let reply = match kind {
                b'$' => Reply::Bulk(Some(data)),
                b'!' => Reply::BulkError(data),
                _ => Reply::Verbatim(data),
            };
            return Ok(Some((reply, end)));
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let pairs = matches!(kind, b'%' | b'|');
            let mut items = Vec::new();
            let mut p = next;
            if line == b"?" {
                // Streamed aggregate: elements until a `.` terminator.
                loop {
                    if buf.get(p) == Some(&b'.') {
                        match line_at(buf, p + 1) {
                            Some((b"", after)) => {
                                p = after;
                                break;
                            }
                            Some(_) => return Err("bad streamed aggregate end".into()),
                            None => return Ok(None),
                        }
                    }
                    match parse_at(buf, p)? {
                        Some((r, e)) => {
                            items.push(r);
                            p = e;
                        }
                        None => return Ok(None),
                    }
                }
            } else {
                let n = parse_int(line)?;
                if n == -1 && kind == b'*' {
                    return Ok(Some((Reply::Array(None), next)));
                }
                let n = usize::try_from(n).map_err(|_| format!("bad aggregate length {n}"))?;
                let count = if pairs { n * 2 } else { n };
                for _ in 0..count {
                    match parse_at(buf, p)? {
                        Some((r, e)) => {
                            items.push(r);
                            p = e;
                        }
                        None => return Ok(None),
                    }
                }
            }
            if pairs && items.len() % 2 != 0 {
                return Err("map with odd number of elements".into());
            }
            let to_pairs = |items: Vec<Reply>| -> Vec<(Reply, Reply)> {
                let mut it = items.into_iter();
                let mut out = Vec::new();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    out.push((k, v));
                }
                out
            };
            let reply = match kind {
                b'*' => Reply::Array(Some(items)),
                b'~' => Reply::Set(items),
                b'>' => Reply::Push(items),
                b'%' => Reply::Map(to_pairs(items)),
                _ => {
                    // An attribute annotates the value that follows it.
                    return Ok(parse_at(buf, p)?.map(|(value, end)| {
                        (Reply::Attribute(to_pairs(items), Box::new(value)), end)
                    }));
                }
            };
            return Ok(Some((reply, p)));
        }
        other => return Err(format!("unknown RESP type byte {}", pretty(&[other]))),
    };
    Ok(Some((reply, next)))
}

/// Parses `;len\r\ndata\r\n` chunks of a streamed string up to `;0\r\n`.
fn parse_streamed_string(buf: &[u8], mut p: usize) -> Result<Option<(Vec<u8>, usize)>, String> {
    let mut data = Vec::new();
    loop {
        if p >= buf.len() {
            return Ok(None);
        }
        if buf[p] != b';' {
            return Err("expected ';' chunk in streamed string".into());
        }
        let Some((line, next)) = line_at(buf, p + 1) else {
            return Ok(None);
        };
        let n = usize::try_from(parse_int(line)?).map_err(|_| "negative chunk length")?;
        if n == 0 {
            return Ok(Some((data, next)));
        }
        let end = next + n + 2;
        if buf.len() < end {
            return Ok(None);
        }
        data.extend_from_slice(&buf[next..next + n]);
        p = end;
    }
}

/// Escapes bytes for messages: printable ASCII as is, `\r` `\n` `\t` `\\`
/// `\"` escaped, anything else as `\xNN`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// A raw reply as a quoted, escaped string (long replies are cut).
pub fn pretty(raw: &[u8]) -> String {
    const MAX: usize = 600;
    if raw.len() > MAX {
        format!("\"{}\"... ({} bytes)", escape(&raw[..MAX]), raw.len())
    } else {
        format!("\"{}\"", escape(raw))
    }
}

/// A command as a readable line, e.g. `SET "k" "v"`.
pub fn pretty_command<A: AsRef<[u8]>>(args: &[A]) -> String {
    args.iter()
        .map(|a| {
            let a = a.as_ref();
            let plain = !a.is_empty()
                && a.iter()
                    .all(|&b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
            if plain {
                escape(a)
            } else {
                format!("\"{}\"", escape(a))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
