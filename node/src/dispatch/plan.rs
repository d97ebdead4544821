//! Planning a batch: which shard answers each request, how split requests are cut and merged,
//! and how the replies are put back in request order.
//!
//! Nothing here touches a socket, a channel or a Raft group: what the planner needs to know of
//! the node is the [`Placement`] of its shards, so the rules (CROSSSLOT, replica-served reads,
//! keyspace-wide commands covering the led shards, merge order) are unit-tested with a fake
//! placement and in-memory keyspaces.

use super::route::Route;
use crate::commands::args::Argv;
use crate::commands::blocking::Blocking;
use crate::commands::keys::ScanArgs;
use crate::commands::{self, ApplyCtx, Merge, ShardCommand};
use crate::keyspace::Keyspace;
use crate::protocol::{Frame, Output};
use crate::server::Handler;

/// What the planner needs to know about the shards this node hosts.
pub trait Placement {
    /// The shards this node leads, in shard order.
    fn led_shards(&self) -> Vec<usize>;
    /// True when this node holds a replica of `shard`.
    fn holds(&self, shard: usize) -> bool;
    /// True when another node is known to lead `shard`.
    fn led_elsewhere(&self, shard: usize) -> bool;
}

/// Where the reply to one request of a batch comes from.
pub enum Pending {
    /// Answered already, to be encoded in this protocol.
    Done(u8, Frame),
    /// Answered by shards: `parts` reply slots from `first`, merged by `merge` (none: one part).
    Parts {
        /// Protocol the reply is encoded in.
        proto: u8,
        /// How the parts combine.
        merge: Option<Merge>,
        /// First reply slot.
        first: u32,
        /// Reply slots.
        parts: u32,
    },
    /// EXEC's reply: `parts` in order, those of the transaction's entry from the array its
    /// reply slot gets (none: no entry, nothing queued ran in a shard).
    Exec {
        /// Protocol the reply is encoded in.
        proto: u8,
        /// The entry's reply slot.
        slot: Option<u32>,
        /// Where each queued command's reply comes from (no [`ExecPart::Local`] here).
        parts: Vec<ExecPart>,
    },
}

/// Where the reply of one queued command of a transaction comes from.
pub enum ExecPart {
    /// The next element of the transaction entry's reply array.
    Entry,
    /// Known already (an argument error, answered in place at EXEC as redis does).
    Reply(Frame),
    /// A connection or server command, run by the node once the entry has applied.
    Local(Handler, Argv),
}

/// A transaction ready to run: its entry (the shard and its [`ShardCommand::Exec`]) and the
/// replies' sources, in queued order.
pub struct ExecPlan {
    /// The transaction's shard command, if anything runs in a shard.
    pub entry: Option<(usize, ShardCommand)>,
    /// Each queued command's reply source.
    pub parts: Vec<ExecPart>,
}

/// EXEC's reply from its entry's reply (`None`: no entry) and its parts; `local` runs a node
/// command. A null array (a watched key changed) or an error (the shard refused: `-MOVED` …)
/// is the whole reply, and then no node command runs.
pub fn compose_exec(
    parts: Vec<ExecPart>,
    entry: Option<Frame>,
    mut local: impl FnMut(Handler, &Argv) -> Frame,
) -> Frame {
    let mut from_entry = match entry {
        None => Vec::new().into_iter(),
        Some(Frame::Array(replies)) => replies.into_iter(),
        Some(Frame::NullArray) => return Frame::NullArray,
        Some(e @ Frame::Error(_)) => return e,
        Some(_) => return Frame::error("ERR unexpected transaction reply"),
    };
    Frame::Array(
        parts
            .into_iter()
            .map(|part| match part {
                ExecPart::Entry => from_entry
                    .next()
                    .unwrap_or_else(|| Frame::error("ERR transaction reply cut short")),
                ExecPart::Reply(f) => f,
                ExecPart::Local(handler, argv) => local(handler, &argv),
            })
            .collect(),
    )
}

/// Plans a transaction without node commands: its entry joins the batch's shard work (so that
/// pipelined transactions share log entries as any writes do).
pub fn plan_exec(plan: ExecPlan, proto: u8, work: &mut Work) -> Pending {
    let slot = plan.entry.map(|(shard, cmd)| work.push(shard, cmd));
    Pending::Exec {
        proto,
        slot,
        parts: plan.parts,
    }
}

/// The shard work of the batch being planned: commands per shard, each with its reply slot.
/// Reply slots count up over the whole batch, also across [`Work::drain`]s.
#[derive(Default)]
pub struct Work {
    per_shard: Vec<Vec<(ShardCommand, u32)>>,
    slots: u32,
}

impl Work {
    /// Queues `cmd` for `shard` and returns its reply slot.
    pub fn push(&mut self, shard: usize, cmd: ShardCommand) -> u32 {
        if self.per_shard.len() <= shard {
            self.per_shard.resize_with(shard + 1, Vec::new);
        }
        let slot = self.slots;
        self.per_shard[shard].push((cmd, slot));
        self.slots += 1;
        slot
    }

    /// Reply slots handed out so far.
    pub fn slots(&self) -> u32 {
        self.slots
    }

    /// Takes the queued commands, by shard (shards with nothing queued are left out).
    pub fn drain(&mut self) -> impl Iterator<Item = (usize, Vec<(ShardCommand, u32)>)> + '_ {
        self.per_shard
            .drain(..)
            .enumerate()
            .filter(|(_, cmds)| !cmds.is_empty())
    }
}

/// A request the node itself must run, in request order, after the shard work queued before it
/// where it reads the keyspace.
pub enum NodeStep {
    /// A connection or server command; it may change the session.
    Local(Handler),
    /// SCAN from its cursor.
    Scan(ScanArgs),
    /// INFO with these sections.
    Info(Vec<String>),
    /// RANDOMKEY.
    RandomKey,
    /// CLUSTER FAILOVER.
    Failover,
    /// A random write (SPOP) on this shard: read the leader's pick, then log its effect.
    Effect(usize, ShardCommand),
    /// A blocking pop on this shard (BLPOP …): look, pop, or wait in line.
    Block(usize, Blocking),
    /// WATCH these keys: read their versions from their shard.
    Watch(Vec<bytes::Bytes>),
    /// A transaction with node commands: its entry, then the node commands in place.
    Exec(ExecPlan),
    /// A script: run by its shard's leader, its effects logged.
    Script(crate::scripting::ScriptCall),
    /// A change of the function libraries.
    Functions,
}

impl NodeStep {
    /// True for the steps that read the keyspace as everything queued before them left it
    /// (the batch's shard work so far must run first).
    pub fn reads_keyspace(&self) -> bool {
        matches!(
            self,
            NodeStep::Scan(_)
                | NodeStep::Info(_)
                | NodeStep::RandomKey
                | NodeStep::Effect(..)
                | NodeStep::Block(..)
                | NodeStep::Watch(_)
                | NodeStep::Exec(_)
                | NodeStep::Script(_)
        )
    }
}

/// What planning one request gave.
pub enum Planned {
    /// Its reply is known, or its shard work is queued.
    Pending(Pending),
    /// The node runs it.
    Node(NodeStep),
}

/// Plans one routed request: queues its shard work in `work` or answers it. `readonly` is the
/// connection's READONLY state; `proto` the protocol its reply is encoded in.
pub fn plan(
    route: Route,
    proto: u8,
    readonly: bool,
    node: &impl Placement,
    ctx: &ApplyCtx,
    work: &mut Work,
) -> Planned {
    let pending = match route {
        Route::Reply(f) => Pending::Done(proto, f),
        Route::Local(handler) => return Planned::Node(NodeStep::Local(handler)),
        Route::Scan(scan) => return Planned::Node(NodeStep::Scan(scan)),
        Route::Info(sections) => return Planned::Node(NodeStep::Info(sections)),
        Route::RandomKey => return Planned::Node(NodeStep::RandomKey),
        Route::Failover => return Planned::Node(NodeStep::Failover),
        Route::Effect(shard, cmd) => return Planned::Node(NodeStep::Effect(shard, cmd)),
        Route::Blocking(shard, b) => return Planned::Node(NodeStep::Block(shard, b)),
        Route::Watch(keys) => return Planned::Node(NodeStep::Watch(keys)),
        Route::Script(call) => return Planned::Node(NodeStep::Script(call)),
        Route::Functions => return Planned::Node(NodeStep::Functions),
        // The connection plans EXEC itself (`transaction.rs`): it needs the session's queue.
        Route::Exec => Pending::Done(proto, Frame::error("ERR EXEC without MULTI")),
        Route::Shard(shard, cmd) if !node.holds(shard) && cmd.reads_any_replica() => {
            // No replica here: this node holds no key of that slot.
            let mut empty = Keyspace::new(0, 0);
            Pending::Done(proto, cmd.apply(&mut empty, ctx))
        }
        Route::Shard(shard, cmd) => Pending::Parts {
            proto,
            merge: None,
            first: work.push(shard, cmd),
            parts: 1,
        },
        Route::Split(parts, merge) => {
            // Keys of several slots: served as on a single node when this node can serve every
            // part itself, else refused as Redis Cluster does.
            let serves_all = parts.iter().all(|(shard, cmd)| {
                node.holds(*shard)
                    && (!node.led_elsewhere(*shard) || (readonly && cmd.is_read_only()))
            });
            if !serves_all {
                return Planned::Pending(Pending::Done(proto, commands::errors::cross_slot()));
            }
            let first = work.slots;
            let n = parts.len() as u32;
            for (shard, cmd) in parts {
                work.push(shard, cmd);
            }
            Pending::Parts {
                proto,
                merge: Some(merge),
                first,
                parts: n,
            }
        }
        Route::All(cmd, merge) => {
            // Like a Redis Cluster node, a keyspace-wide command covers the shards this node
            // leads.
            let first = work.slots;
            let mut n = 0;
            for shard in node.led_shards() {
                work.push(shard, cmd.clone());
                n += 1;
            }
            Pending::Parts {
                proto,
                merge: Some(merge),
                first,
                parts: n,
            }
        }
    };
    Planned::Pending(pending)
}

/// Encodes the replies of a batch in request order into `out`: `replies` holds the shards'
/// answers by reply slot; a slot left empty (a shard that vanished) answers an error.
pub fn assemble(pending: Vec<Pending>, replies: &mut [Option<Frame>], out: &mut Output) {
    for p in pending {
        match p {
            Pending::Done(proto, frame) => out.push(proto, frame),
            Pending::Parts {
                proto,
                merge,
                first,
                parts,
            } => {
                let mut take = |slot: u32| {
                    replies
                        .get_mut(slot as usize)
                        .and_then(Option::take)
                        .unwrap_or_else(|| Frame::error("ERR shard unavailable"))
                };
                let frame = match merge {
                    None => take(first),
                    Some(merge) => {
                        let parts: Vec<Frame> = (first..first + parts).map(&mut take).collect();
                        commands::merge(&merge, parts)
                    }
                };
                out.push(proto, frame);
            }
            Pending::Exec { proto, slot, parts } => {
                let entry = slot.map(|slot| {
                    replies
                        .get_mut(slot as usize)
                        .and_then(Option::take)
                        .unwrap_or_else(|| Frame::error("ERR shard unavailable"))
                });
                let frame = compose_exec(parts, entry, |_, _| {
                    Frame::error("ERR a node command in a planned transaction")
                });
                out.push(proto, frame);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::resolve;
    use crate::slot::{key_slot, ShardMap};
    use bytes::Bytes;

    /// A node of `held.len()` shards: which it holds, which it leads, which another node leads.
    struct FakeNode {
        held: Vec<bool>,
        led: Vec<bool>,
        elsewhere: Vec<bool>,
    }

    impl FakeNode {
        /// Holds and leads every shard.
        fn leading_all(shards: usize) -> FakeNode {
            FakeNode {
                held: vec![true; shards],
                led: vec![true; shards],
                elsewhere: vec![false; shards],
            }
        }
    }

    impl Placement for FakeNode {
        fn led_shards(&self) -> Vec<usize> {
            (0..self.led.len()).filter(|&s| self.led[s]).collect()
        }
        fn holds(&self, shard: usize) -> bool {
            self.held[shard]
        }
        fn led_elsewhere(&self, shard: usize) -> bool {
            self.elsewhere[shard]
        }
    }

    const CTX: ApplyCtx = ApplyCtx {
        now: 1_700_000_000_000,
        max_bulk_len: 512 * 1024 * 1024,
    };

    fn argv(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    /// Plans, runs the queued work against in-memory keyspaces (one per shard, as the shard
    /// actors would) and returns the encoded RESP2 replies.
    struct Harness {
        map: ShardMap,
        keyspaces: Vec<Keyspace>,
    }

    impl Harness {
        fn new(shards: u16) -> Harness {
            let map = ShardMap::new(shards);
            let keyspaces = (0..shards as usize)
                .map(|s| {
                    let (first, last) = map.slot_range(s);
                    Keyspace::new(first, last)
                })
                .collect();
            Harness { map, keyspaces }
        }

        fn shard_of(&self, key: &str) -> usize {
            self.map.shard_of_slot(key_slot(key.as_bytes()))
        }

        /// Two keys in different shards.
        fn keys_in_two_shards(&self) -> (String, String) {
            let a = "a".to_string();
            let b = (0..)
                .map(|i| format!("b{i}"))
                .find(|k| self.shard_of(k) != self.shard_of(&a))
                .expect("some key lands in another shard");
            (a, b)
        }

        fn plan(
            &self,
            node: &impl Placement,
            readonly: bool,
            work: &mut Work,
            req: &[&str],
        ) -> Planned {
            let argv = argv(req);
            let spec = match resolve(&argv) {
                Ok(spec) => spec,
                Err(e) => return Planned::Pending(Pending::Done(2, e)),
            };
            plan(
                crate::dispatch::route::route(spec, &argv, &self.map),
                2,
                readonly,
                node,
                &CTX,
                work,
            )
        }

        /// Runs a whole batch (no node steps) and returns its RESP2 output.
        fn run(&mut self, node: &impl Placement, readonly: bool, batch: &[&[&str]]) -> String {
            let mut work = Work::default();
            let mut pending = Vec::new();
            for req in batch {
                match self.plan(node, readonly, &mut work, req) {
                    Planned::Pending(p) => pending.push(p),
                    Planned::Node(_) => panic!("{req:?} needs the node"),
                }
            }
            let mut replies = vec![None; work.slots() as usize];
            for (shard, cmds) in work.drain() {
                for (cmd, slot) in cmds {
                    replies[slot as usize] = Some(cmd.apply(&mut self.keyspaces[shard], &CTX));
                }
            }
            let mut out = Output::default();
            assemble(pending, &mut replies, &mut out);
            String::from_utf8(out.to_vec()).expect("test replies are text")
        }
    }

    #[test]
    fn one_key_goes_to_its_shard() {
        let h = Harness::new(4);
        let node = FakeNode::leading_all(4);
        let mut work = Work::default();
        let Planned::Pending(Pending::Parts {
            first: 0,
            parts: 1,
            merge: None,
            ..
        }) = h.plan(&node, false, &mut work, &["GET", "k"])
        else {
            panic!("GET is one part");
        };
        let queued: Vec<usize> = work.drain().map(|(s, _)| s).collect();
        assert_eq!(queued, vec![h.shard_of("k")]);
    }

    #[test]
    fn multi_key_replies_come_back_in_key_order() {
        let mut h = Harness::new(4);
        let node = FakeNode::leading_all(4);
        let (a, b) = h.keys_in_two_shards();
        let out = h.run(
            &node,
            false,
            &[
                &["SET", &a, "1"],
                &["SET", &b, "2"],
                &["MGET", &b, "nokey", &a, &b],
            ],
        );
        assert_eq!(
            out,
            "+OK\r\n+OK\r\n*4\r\n$1\r\n2\r\n$-1\r\n$1\r\n1\r\n$1\r\n2\r\n"
        );
        let out = h.run(
            &node,
            false,
            &[&["DEL", &a, &b, "nokey"], &["EXISTS", &a, &b]],
        );
        assert_eq!(out, ":2\r\n:0\r\n");
    }

    #[test]
    fn keys_of_a_shard_led_elsewhere_are_crossslot_unless_readonly_reads() {
        let h = Harness::new(4);
        let (a, b) = h.keys_in_two_shards();
        let mut node = FakeNode::leading_all(4);
        node.led[h.shard_of(&b)] = false;
        node.elsewhere[h.shard_of(&b)] = true;
        let crossslot = |p: Planned| match p {
            Planned::Pending(Pending::Done(_, Frame::Error(e))) => e.starts_with(b"CROSSSLOT"),
            _ => false,
        };
        let mut work = Work::default();
        assert!(crossslot(h.plan(
            &node,
            false,
            &mut work,
            &["MGET", &a, &b]
        )));
        assert!(crossslot(h.plan(&node, true, &mut work, &["DEL", &a, &b])));
        assert_eq!(work.slots(), 0, "a refused request queues nothing");
        // A READONLY connection reads the follower's replica.
        assert!(!crossslot(h.plan(
            &node,
            true,
            &mut work,
            &["MGET", &a, &b]
        )));
        assert_eq!(work.slots(), 2);
        // A shard this node does not hold is refused even to READONLY reads.
        node.held[h.shard_of(&b)] = false;
        assert!(crossslot(h.plan(&node, true, &mut work, &["MGET", &a, &b])));
    }

    #[test]
    fn a_slot_of_a_shard_not_held_counts_no_keys() {
        let mut h = Harness::new(4);
        let mut node = FakeNode::leading_all(4);
        let shard = h.shard_of("k");
        let slot = key_slot(b"k").to_string();
        assert_eq!(h.run(&node, false, &[&["SET", "k", "v"]]), "+OK\r\n");
        assert_eq!(
            h.run(&node, false, &[&["CLUSTER", "COUNTKEYSINSLOT", &slot]]),
            ":1\r\n"
        );
        node.held[shard] = false;
        node.led[shard] = false;
        let mut work = Work::default();
        match h.plan(
            &node,
            false,
            &mut work,
            &["CLUSTER", "COUNTKEYSINSLOT", &slot],
        ) {
            Planned::Pending(Pending::Done(_, Frame::Integer(0))) => {}
            _ => panic!("answered 0 without asking a shard"),
        }
        assert_eq!(work.slots(), 0);
    }

    #[test]
    fn keyspace_wide_commands_cover_the_led_shards() {
        let mut h = Harness::new(4);
        let (a, b) = h.keys_in_two_shards();
        let mut node = FakeNode::leading_all(4);
        h.run(&node, false, &[&["SET", &a, "1"], &["SET", &b, "2"]]);
        assert_eq!(h.run(&node, false, &[&["DBSIZE"]]), ":2\r\n");
        node.led[h.shard_of(&b)] = false;
        node.elsewhere[h.shard_of(&b)] = true;
        let mut work = Work::default();
        let Planned::Pending(Pending::Parts { parts: 3, .. }) =
            h.plan(&node, false, &mut work, &["DBSIZE"])
        else {
            panic!("DBSIZE asks the three led shards");
        };
        assert_eq!(h.run(&node, false, &[&["DBSIZE"]]), ":1\r\n");
    }

    #[test]
    fn node_commands_are_left_to_the_node_in_order() {
        let h = Harness::new(2);
        let node = FakeNode::leading_all(2);
        let mut work = Work::default();
        for req in [
            &["PING"][..],
            &["INFO"],
            &["RANDOMKEY"],
            &["SCAN", "0"],
            &["CLUSTER", "FAILOVER"],
        ] {
            assert!(
                matches!(h.plan(&node, false, &mut work, req), Planned::Node(_)),
                "{req:?}"
            );
        }
        assert_eq!(work.slots(), 0);
    }

    #[test]
    fn a_missing_part_answers_an_error_not_a_panic() {
        let mut out = Output::default();
        let pending = vec![Pending::Parts {
            proto: 2,
            merge: Some(Merge::Sum),
            first: 0,
            parts: 2,
        }];
        assemble(pending, &mut [Some(Frame::Integer(1))], &mut out);
        assert_eq!(out.to_vec(), b"-ERR shard unavailable\r\n");
    }
}
