//! The groups a node hosts: one registry, shared by the connections (routing), the Raft
//! transport, the WAL compactor and the leader balancer, to which groups can be added and from
//! which they can be removed while the node runs (as membership changes and resharding will).
//!
//! # Why snapshots and a generation counter
//! Routing looks a group up for every command, so a lookup must stay as cheap as indexing the
//! `Vec` the groups used to live in. The registry keeps an immutable snapshot of the table
//! ([`Groups`], an `Arc<[Option<ShardGroup>]>` indexed by group id) behind a `RwLock`, and
//! replaces the whole snapshot on every change — changes are rare, a copy of a few dozen
//! pointers is nothing. A connection keeps its own copy of the snapshot and, once per batch,
//! compares the registry's generation with its copy's ([`GroupRegistry::refresh`]): one atomic
//! load of a cache line that only changes with the table, so no lock and no reference count is
//! touched on the request path; only after a change does it take the read lock to fetch the new
//! snapshot. Other users (the transport, INFO, the balancer) simply [`GroupRegistry::load`] one.
//!
//! Simpler than the alternatives: an `ArcSwap` is a dependency for what one atomic does here,
//! and a table of atomic pointers would need unsafe code to free a removed group safely while a
//! reader may hold it. A removed group stays alive while a snapshot that holds it does, so a
//! connection that is still running a batch on it finishes that batch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::shard_group::ShardGroup;
use super::{shard_group, GroupId};

/// One immutable view of the registry: the groups by group id (cheap to clone).
///
/// Generic over the group type only so that the registry can be tested without Raft groups.
pub struct Groups<G = ShardGroup> {
    generation: u64,
    slots: Arc<[Option<G>]>,
}

impl<G> Clone for Groups<G> {
    fn clone(&self) -> Self {
        Groups {
            generation: self.generation,
            slots: self.slots.clone(),
        }
    }
}

impl<G> Groups<G> {
    /// Group `id`, if this node hosts it.
    pub fn group(&self, id: GroupId) -> Option<&G> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.slots.get(i))
            .and_then(Option::as_ref)
    }

    /// The group of shard `shard`, if this node holds a replica of it.
    pub fn shard(&self, shard: usize) -> Option<&G> {
        self.slots.get(shard + 1).and_then(Option::as_ref)
    }

    /// True when this node holds a replica of shard `shard`.
    pub fn has_shard(&self, shard: usize) -> bool {
        self.shard(shard).is_some()
    }

    /// Every group (the metadata group included), by group id.
    pub fn all(&self) -> impl Iterator<Item = (GroupId, &G)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, g)| g.as_ref().map(|g| (i as GroupId, g)))
    }

    /// The shard groups, by shard index.
    pub fn shards(&self) -> impl Iterator<Item = (usize, &G)> {
        self.all()
            .filter(|(id, _)| *id != super::META_GROUP)
            .map(|(id, g)| (id as usize - 1, g))
    }

    /// Groups hosted.
    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// True when no group is hosted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The groups a node hosts (see the module documentation).
pub struct GroupRegistry<G = ShardGroup> {
    current: RwLock<Groups<G>>,
    /// The generation of `current`; read without the lock to tell a cached snapshot is stale.
    generation: AtomicU64,
}

impl<G: Clone> Default for GroupRegistry<G> {
    fn default() -> Self {
        GroupRegistry::new()
    }
}

impl<G: Clone> GroupRegistry<G> {
    /// An empty registry.
    pub fn new() -> GroupRegistry<G> {
        GroupRegistry {
            current: RwLock::new(Groups {
                generation: 0,
                slots: Arc::from(Vec::new()),
            }),
            generation: AtomicU64::new(0),
        }
    }

    /// The current snapshot (a read lock and a reference count: not for the per-command path,
    /// which uses [`GroupRegistry::refresh`]).
    pub fn load(&self) -> Groups<G> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Brings `cached` up to date: free while the registry has not changed since it was taken.
    pub fn refresh(&self, cached: &mut Groups<G>) {
        if self.generation.load(Ordering::Acquire) != cached.generation {
            *cached = self.load();
        }
    }

    /// Group `id` now (a clone of its handles; see [`GroupRegistry::load`]).
    pub fn get(&self, id: GroupId) -> Option<G> {
        self.load().group(id).cloned()
    }

    /// The group of shard `shard` now.
    pub fn shard(&self, shard: usize) -> Option<G> {
        self.get(shard_group(shard))
    }

    /// Adds group `id` (replacing and returning the one there, if any).
    pub fn insert(&self, id: GroupId, group: G) -> Option<G> {
        let index = usize::try_from(id).unwrap_or(usize::MAX);
        self.change(|slots| {
            if slots.len() <= index {
                slots.resize(index + 1, None);
            }
            slots[index].replace(group)
        })
    }

    /// Removes group `id` and returns it. Snapshots taken before keep it until they are dropped.
    pub fn remove(&self, id: GroupId) -> Option<G> {
        let index = usize::try_from(id).ok()?;
        self.change(|slots| {
            let removed = slots.get_mut(index).and_then(Option::take);
            while matches!(slots.last(), Some(None)) {
                slots.pop();
            }
            removed
        })
    }

    /// Removes every group and returns them, by group id.
    pub fn clear(&self) -> Vec<(GroupId, G)> {
        self.change(|slots| {
            std::mem::take(slots)
                .into_iter()
                .enumerate()
                .filter_map(|(i, g)| g.map(|g| (i as GroupId, g)))
                .collect()
        })
    }

    /// Applies `edit` to a copy of the table and publishes the copy as the next generation.
    fn change<T>(&self, edit: impl FnOnce(&mut Vec<Option<G>>) -> T) -> T {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        let mut slots = current.slots.to_vec();
        let out = edit(&mut slots);
        let generation = current.generation + 1;
        *current = Groups {
            generation,
            slots: slots.into(),
        };
        // Published under the write lock, after the snapshot: whoever sees the new number and
        // then takes the read lock gets this snapshot or a newer one.
        self.generation.store(generation, Ordering::Release);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::META_GROUP;

    #[test]
    fn groups_are_added_found_listed_and_removed() {
        let registry: GroupRegistry<&str> = GroupRegistry::new();
        assert!(registry.load().is_empty());
        assert_eq!(registry.insert(META_GROUP, "meta"), None);
        assert_eq!(registry.insert(shard_group(2), "shard 2"), None);
        assert_eq!(registry.insert(shard_group(0), "shard 0"), None);
        let groups = registry.load();
        assert_eq!(groups.len(), 3);
        assert_eq!(groups.group(META_GROUP), Some(&"meta"));
        assert_eq!(groups.shard(0), Some(&"shard 0"));
        assert_eq!(groups.shard(1), None);
        assert!(groups.has_shard(2) && !groups.has_shard(1) && !groups.has_shard(99));
        assert_eq!(groups.group(u64::MAX), None);
        let all: Vec<_> = groups.all().collect();
        assert_eq!(all, vec![(0, &"meta"), (1, &"shard 0"), (3, &"shard 2")]);
        let shards: Vec<_> = groups.shards().collect();
        assert_eq!(shards, vec![(0, &"shard 0"), (2, &"shard 2")]);
        assert_eq!(registry.shard(2), Some("shard 2"));

        // Replacing hands back the old group; removing takes it out of later snapshots only.
        assert_eq!(
            registry.insert(shard_group(0), "shard 0 again"),
            Some("shard 0")
        );
        assert_eq!(registry.remove(shard_group(2)), Some("shard 2"));
        assert_eq!(registry.remove(shard_group(2)), None);
        assert_eq!(registry.remove(shard_group(7)), None);
        assert_eq!(
            groups.shard(2),
            Some(&"shard 2"),
            "an older snapshot keeps its groups"
        );
        let now = registry.load();
        assert_eq!(now.shard(2), None);
        assert_eq!(now.shard(0), Some(&"shard 0 again"));
        assert_eq!(registry.clear(), vec![(0, "meta"), (1, "shard 0 again")]);
        assert!(registry.load().is_empty());
    }

    #[test]
    fn a_cached_snapshot_is_refreshed_only_after_a_change() {
        let registry: GroupRegistry<u32> = GroupRegistry::new();
        registry.insert(1, 10);
        let mut cached = registry.load();
        let before = cached.slots.clone();
        registry.refresh(&mut cached);
        assert!(Arc::ptr_eq(&before, &cached.slots), "no change, no reload");
        registry.insert(2, 20);
        registry.refresh(&mut cached);
        assert_eq!(cached.shard(1), Some(&20));
        registry.remove(1);
        registry.refresh(&mut cached);
        assert_eq!(cached.shard(0), None);
        assert_eq!(cached.shard(1), Some(&20));
    }

    /// Readers racing a writer that keeps adding and removing groups: every snapshot a reader
    /// sees is one the writer published whole — here, groups `1..=n` all holding `n` — and a
    /// reader's view never goes back in time.
    #[test]
    fn concurrent_readers_see_whole_snapshots() {
        let registry: Arc<GroupRegistry<u64>> = Arc::new(GroupRegistry::new());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reads = Arc::new(AtomicU64::new(0));
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (registry, stop, reads) = (registry.clone(), stop.clone(), reads.clone());
                std::thread::spawn(move || {
                    let mut cached = registry.load();
                    let mut last_generation = 0;
                    let mut seen = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        registry.refresh(&mut cached);
                        assert!(cached.generation >= last_generation);
                        last_generation = cached.generation;
                        let n = cached.len() as u64;
                        for (id, value) in cached.all() {
                            assert!((1..=n).contains(&id), "group {id} in a table of {n}");
                            assert_eq!(*value, n, "group {id} from another snapshot");
                        }
                        seen += 1;
                        reads.fetch_add(1, Ordering::Relaxed);
                    }
                    seen
                })
            })
            .collect();
        // At least 2000 tables, and on until the readers have read many (they may start late).
        let mut round = 0u64;
        while round < 2000 || reads.load(Ordering::Relaxed) < 20_000 {
            round += 1;
            let n = round % 16 + 1;
            // One change at a time would show readers half-built tables, so each table is
            // published in one change: cleared, then filled below with `n` everywhere.
            registry.change(|slots| {
                slots.clear();
                slots.push(None);
                slots.extend((1..=n).map(|_| Some(n)));
            });
        }
        stop.store(true, Ordering::Relaxed);
        let seen: u64 = readers.into_iter().map(|r| r.join().expect("reader")).sum();
        assert!(seen >= 20_000);
    }
}
