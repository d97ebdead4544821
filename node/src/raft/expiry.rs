//! Active expiry through the log: only a shard's leader decides that keys have expired. It asks
//! its shard actor for keys whose deadline has passed and proposes them in entries of at most
//! [`KEYS_PER_ENTRY`] keys; every replica applies the same deletes at the same log index (a key
//! written again with a later deadline in the meantime survives the entry). Replicas never delete
//! on their own: they only hide keys whose deadline has passed when they serve a read.

use std::time::Duration;

use super::proposer::Proposer;
use super::state_machine::Shard;
use super::ShardRaft;
use crate::clock::now_ms;
use crate::commands::keys::KeyCommand;
use crate::commands::{ApplyCtx, ShardCommand};
use crate::shard::ShardMsg;

/// Most keys one expiry entry deletes: the bound on the work one entry costs a shard.
pub const KEYS_PER_ENTRY: usize = 256;

/// Runs the expiry cycle of one shard for as long as the shard lives: `hz` passes per second
/// while nothing is due, back to back while keys are due.
pub async fn run(shard: Shard, raft: ShardRaft, proposer: Proposer, hz: u32, max_bulk_len: u64) {
    let idle = Duration::from_millis(1000 / u64::from(hz.clamp(1, 500)));
    let mut busy = false;
    loop {
        if !busy {
            tokio::time::sleep(idle).await;
        }
        busy = false;
        if !raft.is_leader() {
            continue;
        }
        let now = now_ms();
        let Some(keys) = shard
            .ask(|tx| ShardMsg::DueKeys(now, KEYS_PER_ENTRY, tx))
            .await
        else {
            return;
        };
        if keys.is_empty() {
            continue;
        }
        let full = keys.len() == KEYS_PER_ENTRY;
        let ctx = ApplyCtx { now, max_bulk_len };
        let cmds = vec![ShardCommand::Key(KeyCommand::ExpireDue(keys))];
        match proposer.write(ctx, cmds).await {
            Ok(_) => busy = full,
            Err(e) => {
                tracing::debug!(error = ?e, "expiry proposal not committed");
                tokio::time::sleep(idle).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{Keyspace, Value};
    use crate::protocol::Frame;

    #[test]
    fn mass_expiry_goes_in_bounded_entries() {
        let mut ks = Keyspace::new(0, 16383);
        let total = 100_000;
        for i in 0..total {
            ks.insert(format!("k{i}").as_bytes(), Value::Int(i), 1_000);
        }
        let ctx = ApplyCtx {
            now: 2_000,
            max_bulk_len: 1,
        };
        let mut entries = 0;
        loop {
            let due = ks.due_keys(2_000, KEYS_PER_ENTRY);
            if due.is_empty() {
                break;
            }
            assert!(due.len() <= KEYS_PER_ENTRY);
            let cmd = ShardCommand::Key(KeyCommand::ExpireDue(due));
            assert!(matches!(cmd.apply(&mut ks, &ctx), Frame::Integer(n) if n > 0));
            entries += 1;
        }
        assert_eq!(ks.len(), 0);
        assert!(entries >= total as usize / KEYS_PER_ENTRY);
    }
}
