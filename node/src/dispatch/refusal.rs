//! The replies a client gets when a shard will not run its command here: where to go instead
//! (`-MOVED`), when to come back (`-TRYAGAIN`), or what failed.

use bytes::Bytes;

use super::plan::Placement;
use super::route::Route;
use crate::cluster::Topology;
use crate::commands::table::CommandSpec;
use crate::commands::ShardCommand;
use crate::protocol::Frame;
use crate::raft::proposer::Refusal;
use crate::server::ServerState;

/// The reply for a command a shard refused: `-MOVED <slot> <host:port>` naming the leader when
/// another node leads, `-TRYAGAIN` while the shard has no leader, or the failure itself.
pub fn for_command(topology: &Topology, refusal: &Refusal, cmd: &ShardCommand) -> Frame {
    for_key(topology, refusal, cmd.first_key())
}

/// As [`for_command`], for a request whose first key is `key` (none: a request of no key, which
/// cannot be redirected and answers `-TRYAGAIN`).
pub fn for_key(topology: &Topology, refusal: &Refusal, key: Option<Bytes>) -> Frame {
    match refusal {
        Refusal::Failed(frame) => frame.clone(),
        Refusal::NotLeader(Some(leader)) => match (topology.node(*leader), key) {
            (Some(node), Some(key)) => Frame::error_owned(format!(
                "MOVED {} {}",
                crate::slot::key_slot(&key),
                node.client_addr
            )),
            _ => Frame::error("TRYAGAIN this node does not lead the shard"),
        },
        Refusal::NotLeader(None) => {
            Frame::error("TRYAGAIN no leader for this shard, try again later")
        }
    }
}

/// `-MISCONF` for a command that writes (or PING, as redis refuses it too, so that a health
/// check notices) while this node's WAL cannot write ([`crate::raft::wal::Wal::write_stalled`]:
/// the disk is full), when the command would run here: on a shard this node leads, or on the
/// node itself. A write for a shard led elsewhere goes on to its `-MOVED`, so a cluster client
/// follows the leaderships this node hands away meanwhile. Redis answers `-MISCONF Errors
/// writing to the AOF file: <strerror>`; the WAL is Shardis's AOF, and is named so. One atomic
/// load when the disk is fine.
pub fn disk_full(
    state: &ServerState,
    spec: &CommandSpec,
    route: &Route,
    node: &impl Placement,
) -> Option<Frame> {
    let why = state.persistence.wal.write_stalled()?;
    if !(spec.flags.contains(&"write") || spec.name == "ping") {
        return None;
    }
    runs_here(route, node).then(|| {
        Frame::error_owned(format!(
            "MISCONF Errors writing to the write-ahead log (WAL): {why}"
        ))
    })
}

/// `-OOM …` for a command that may grow memory (redis's `denyoom` flag) while the node is past
/// `maxmemory` and frees nothing (`noeviction`, or a policy that found nothing to evict), when
/// it would run here (as [`disk_full`]: a write for a shard led elsewhere gets its `-MOVED`, as
/// redis checks memory after the cluster redirect). Reads, DEL and the rest go on. One atomic
/// load when no limit is set.
pub fn out_of_memory(
    state: &ServerState,
    spec: &CommandSpec,
    route: &Route,
    node: &impl Placement,
) -> Option<Frame> {
    (state.refuses_growth() && spec.flags.contains(&"denyoom") && runs_here(route, node))
        .then(|| Frame::error(crate::limits::OOM_ERROR))
}

/// `-BUSY …` for a request that needs a shard running a script for longer than
/// [`crate::scripting::BUSY_AFTER_MS`], as redis answers every client but the script's while a
/// script runs past `busy-reply-threshold` (commands flagged `allow_busy`, SCRIPT KILL among
/// them, go on). Only that shard's requests are refused: the node's other shards serve.
pub fn busy_script(
    groups: &crate::raft::registry::Groups,
    spec: &CommandSpec,
    route: &Route,
    now: u64,
) -> Option<Frame> {
    if spec.flags.contains(&"allow_busy") {
        return None;
    }
    // The shard's script control when what it runs has run too long.
    let busy_control = |shard: usize| {
        groups
            .shard(shard)
            .map(|g| &g.shard.counters.script)
            .filter(|c| {
                c.running_for(now)
                    .is_some_and(|ms| ms >= crate::scripting::BUSY_AFTER_MS)
            })
    };
    let busy = |shard: usize| busy_control(shard).is_some();
    let any_led_busy = || groups.shards().any(|(s, g)| g.is_leader() && busy(s));
    let refused = match route {
        Route::Shard(shard, _) | Route::Effect(shard, _) | Route::Blocking(shard, _) => {
            busy(*shard)
        }
        Route::Split(parts, _) => parts.iter().any(|(shard, _)| busy(*shard)),
        Route::All(..) | Route::Scan(_) | Route::RandomKey | Route::Script(_) => any_led_busy(),
        _ => false,
    };
    if !refused {
        return None;
    }
    // The text names the KILL that stops what runs, as redis's does.
    let function = groups
        .shards()
        .filter_map(|(s, _)| busy_control(s))
        .any(|c| c.running_function().is_some());
    Some(Frame::error(if function {
        crate::scripting::BUSY_FUNCTION
    } else {
        crate::scripting::BUSY_SCRIPT
    }))
}

/// True when a routed request would run on this node: on a shard it leads, or on the node.
fn runs_here(route: &Route, node: &impl Placement) -> bool {
    let here = |shard: usize| node.holds(shard) && !node.led_elsewhere(shard);
    match route {
        Route::Reply(_) => false,
        Route::Shard(shard, _) => here(*shard),
        Route::Split(parts, _) => parts.iter().any(|(shard, _)| here(*shard)),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NodeConfig;

    fn topology() -> Topology {
        let node = |id: u64, port: u16| NodeConfig {
            id,
            client_addr: format!("127.0.0.1:{port}"),
            raft_addr: String::new(),
        };
        Topology {
            cluster_id: 1,
            self_id: 1,
            nodes: vec![node(1, 7001), node(2, 7002)],
            replicas: 2,
        }
    }

    fn text(f: Frame) -> String {
        match f {
            Frame::Error(e) => String::from_utf8_lossy(&e).into_owned(),
            _ => panic!("an error reply"),
        }
    }

    #[test]
    fn moved_names_the_slot_and_the_leaders_client_address() {
        let key = Some(Bytes::from_static(b"foo"));
        let reply = for_key(&topology(), &Refusal::NotLeader(Some(2)), key);
        assert_eq!(text(reply), "MOVED 12182 127.0.0.1:7002");
    }

    #[test]
    fn no_leader_or_no_key_asks_to_try_again() {
        let t = topology();
        let key = Some(Bytes::from_static(b"foo"));
        assert_eq!(
            text(for_key(&t, &Refusal::NotLeader(None), key.clone())),
            "TRYAGAIN no leader for this shard, try again later"
        );
        assert_eq!(
            text(for_key(&t, &Refusal::NotLeader(Some(2)), None)),
            "TRYAGAIN this node does not lead the shard"
        );
        // A leader this node does not know of cannot be named.
        assert_eq!(
            text(for_key(&t, &Refusal::NotLeader(Some(9)), key)),
            "TRYAGAIN this node does not lead the shard"
        );
    }

    #[test]
    fn a_failure_is_passed_on() {
        let failed = Refusal::Failed(Frame::error("ERR disk full"));
        assert_eq!(text(for_key(&topology(), &failed, None)), "ERR disk full");
    }
}
