//! A node whose disk fills up: writes are refused with `-MISCONF` (and held writes wait, never
//! lost), reads go on, and writes resume by themselves once space is back — no restart, no dead
//! shard. The data directory sits on a small tmpfs the test mounts; where mounting is not
//! allowed (not root), the WAL's fault hook plays the full disk instead (`SHARDIS_FAULTS`).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Where the node's data goes, and how its disk is made to fill.
enum Disk {
    /// A tmpfs of a few MB mounted by the test, with a filler file to delete for space.
    Tmpfs { mount: PathBuf, filler: PathBuf },
    /// No mount allowed: the WAL's first writes fail with ENOSPC (`wal-write:N`).
    Injected { dir: PathBuf },
}

impl Disk {
    fn new() -> Disk {
        let mount = support::temp_dir("disk-full");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=24m", "tmpfs"])
            .arg(&mount)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("cannot mount a tmpfs here (not root?): the WAL's fault hook fills the disk");
            return Disk::Injected { dir: mount };
        }
        // Most of the space goes to a filler file; the node gets the rest and fills it.
        let filler = mount.join("filler");
        std::fs::write(&filler, vec![7u8; 16 << 20]).expect("filler");
        Disk::Tmpfs { mount, filler }
    }

    fn data_dir(&self) -> PathBuf {
        match self {
            Disk::Tmpfs { mount, .. } => mount.join("data"),
            Disk::Injected { dir } => dir.join("data"),
        }
    }

    /// Space is back.
    fn free(&self) {
        if let Disk::Tmpfs { filler, .. } = self {
            std::fs::remove_file(filler).expect("remove the filler");
        }
    }

    fn faults(&self) -> &str {
        match self {
            Disk::Tmpfs { .. } => "",
            // 50 + 100 + ... ms of retries: about 5 s of a full disk.
            Disk::Injected { .. } => "wal-write:9",
        }
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        match self {
            Disk::Tmpfs { mount, .. } => {
                let _ = Command::new("umount").arg(&*mount).status();
                let _ = std::fs::remove_dir_all(&*mount);
            }
            Disk::Injected { dir } => {
                let _ = std::fs::remove_dir_all(&*dir);
            }
        }
    }
}

/// A node process, killed if the test ends early (so the tmpfs can be unmounted).
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(data: &Path, faults: &str, log: &Path) -> (Proc, u16) {
    let port = support::free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_shardis"))
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--shards", "2", "--data-dir"])
        .arg(data)
        .env("SHARDIS_FAULTS", faults)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("spawn shardis");
    (Proc(child), port)
}

fn connect(port: u16) -> redis::Connection {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let con = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .and_then(|c| c.get_connection());
        if let Ok(mut con) = con {
            let pong: redis::RedisResult<String> = redis::cmd("PING").query(&mut con);
            if pong.is_ok() {
                con.set_read_timeout(Some(Duration::from_secs(60)))
                    .expect("timeout");
                return con;
            }
        }
        assert!(Instant::now() < deadline, "the node never served");
        thread::sleep(Duration::from_millis(50));
    }
}

fn error_text(r: redis::RedisResult<String>) -> String {
    match r {
        Ok(v) => format!("+{v}"),
        Err(e) => format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or("")),
    }
}

#[test]
fn a_full_disk_refuses_writes_keeps_reads_and_writes_resume_when_space_is_back() {
    let disk = Disk::new();
    let log = std::env::temp_dir().join(format!("shardis-disk-full-{}.log", std::process::id()));
    let (mut child, port) = start(&disk.data_dir(), disk.faults(), &log);
    let mut con = connect(port);

    // A writer fills the disk with 4 KB values; each key it gets +OK for is acknowledged.
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop) = (acked.clone(), stop.clone());
        let mut con = connect(port);
        thread::spawn(move || {
            let value = vec![b'v'; 4096];
            let mut refused = 0u64;
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let r: redis::RedisResult<String> = redis::cmd("SET")
                    .arg(format!("k{i}"))
                    .arg(&value)
                    .query(&mut con);
                match r {
                    Ok(_) => {
                        acked.store(i + 1, Ordering::SeqCst);
                        i += 1;
                    }
                    Err(e) => {
                        // A write caught in the batch the full disk holds answers TIMEOUT
                        // (not known to be applied): it is sent again.
                        assert!(matches!(e.code(), Some("MISCONF" | "TIMEOUT")), "{e}");
                        refused += 1;
                        thread::sleep(Duration::from_millis(20));
                    }
                }
            }
            refused
        })
    };

    // The disk fills: writes get -MISCONF, naming the cause, and so does PING (as redis).
    let deadline = Instant::now() + Duration::from_secs(60);
    let misconf = loop {
        let r = error_text(redis::cmd("SET").arg("probe").arg("x").query(&mut con));
        if r.starts_with("MISCONF") {
            break r;
        }
        assert!(r == "+OK" || r.starts_with("TIMEOUT"), "{r}");
        assert!(Instant::now() < deadline, "the disk never filled");
        thread::sleep(Duration::from_millis(20));
    };
    assert!(
        misconf.contains("write-ahead log") && misconf.to_lowercase().contains("no space left"),
        "{misconf}"
    );
    assert!(error_text(redis::cmd("PING").query(&mut con)).starts_with("MISCONF"));
    let info: String = redis::cmd("INFO")
        .arg("persistence")
        .query(&mut con)
        .expect("info");
    assert!(info.contains("aof_last_write_status:err"), "{info}");

    // Reads keep working: every acknowledged key is there, DBSIZE counts them.
    let before_full = acked.load(Ordering::SeqCst);
    assert!(
        before_full > 0,
        "nothing was written before the disk filled"
    );
    let v: Vec<u8> = redis::cmd("GET").arg("k0").query(&mut con).expect("get");
    assert_eq!(v.len(), 4096);
    let n: u64 = redis::cmd("DBSIZE").query(&mut con).expect("dbsize");
    assert!(n >= before_full, "dbsize {n} < {before_full} acknowledged");
    let exists: u64 = redis::cmd("EXISTS")
        .arg(format!("k{}", before_full - 1))
        .query(&mut con)
        .expect("exists");
    assert_eq!(exists, 1);

    // Space comes back: writes resume by themselves, the held ones included.
    // Held long enough for the write the full disk caught to time out (2 s) and be refused
    // when sent again.
    thread::sleep(Duration::from_millis(2500));
    disk.free();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = error_text(redis::cmd("SET").arg("probe").arg("back").query(&mut con));
        if r == "+OK" {
            break;
        }
        assert!(r.starts_with("MISCONF") || r.starts_with("TIMEOUT"), "{r}");
        assert!(Instant::now() < deadline, "writes never resumed");
        thread::sleep(Duration::from_millis(50));
    }
    let info: String = redis::cmd("INFO")
        .arg("persistence")
        .query(&mut con)
        .expect("info");
    assert!(info.contains("aof_last_write_status:ok"), "{info}");
    let resumed_at = acked.load(Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(10);
    while acked.load(Ordering::SeqCst) < resumed_at + 20 {
        assert!(
            Instant::now() < deadline,
            "the writer never got going again"
        );
        thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let refused = writer.join().expect("writer");
    if matches!(disk, Disk::Tmpfs { .. }) {
        assert!(refused > 0, "the writer was never refused");
    }
    let total = acked.load(Ordering::SeqCst);
    assert!(
        child.0.try_wait().expect("status").is_none(),
        "the node stopped"
    );

    // Nothing acknowledged is lost, across a restart too.
    let check = |con: &mut redis::Connection| {
        for i in 0..total {
            let len: u64 = redis::cmd("STRLEN")
                .arg(format!("k{i}"))
                .query(con)
                .expect("strlen");
            assert_eq!(len, 4096, "k{i} of {total} acknowledged");
        }
    };
    check(&mut con);
    let _ = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status();
    let status = support::wait_exit(&mut child.0, Duration::from_secs(30)).expect("exit");
    assert!(status.success(), "{status}");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let (child, port) = start(&disk.data_dir(), "", &log);
    check(&mut connect(port));
    drop(child);
    let _ = std::fs::remove_file(&log);
    eprintln!("{total} keys acknowledged, {before_full} before the disk filled, {refused} writes refused; log:\n{text}");
    assert!(text.contains("WAL: cannot write"), "{text}");
    assert!(text.contains("WAL: writing again"), "{text}");
}
