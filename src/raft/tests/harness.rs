//! A minimal lockstep cluster for core tests: messages are delivered
//! instantly and in order unless a test holds them back. The deterministic
//! simulator (`crate::sim`) is the thorough version.

use crate::raft::{Entry, Message, NodeId, RaftConfig, RaftNode, ReadState, Role};
use std::collections::{BTreeMap, BTreeSet};

/// Nodes plus the messages in flight between them.
pub struct Cluster {
    pub nodes: BTreeMap<NodeId, RaftNode>,
    pub applied: BTreeMap<NodeId, Vec<Entry>>,
    pub inflight: Vec<Message>,
    /// Confirmed linearizable reads, per node.
    pub reads: BTreeMap<NodeId, Vec<ReadState>>,
    /// Nodes cut off from everyone.
    pub isolated: BTreeSet<NodeId>,
}

impl Cluster {
    pub fn new(size: u64, config: RaftConfig, seed: u64) -> Cluster {
        let ids: Vec<NodeId> = (1..=size).collect();
        let nodes = ids
            .iter()
            .map(|id| {
                (
                    *id,
                    RaftNode::new(
                        *id,
                        ids.clone(),
                        config.clone(),
                        seed,
                        Default::default(),
                        Vec::new(),
                    ),
                )
            })
            .collect();
        Cluster {
            nodes,
            applied: ids.iter().map(|id| (*id, Vec::new())).collect(),
            inflight: Vec::new(),
            reads: BTreeMap::new(),
            isolated: BTreeSet::new(),
        }
    }

    pub fn node(&mut self, id: NodeId) -> &mut RaftNode {
        self.nodes.get_mut(&id).expect("node exists")
    }

    /// Collects every node's ready output.
    pub fn collect(&mut self) {
        for (id, node) in self.nodes.iter_mut() {
            let ready = node.take_ready();
            self.applied.get_mut(id).unwrap().extend(ready.committed);
            self.inflight.extend(ready.messages);
            self.reads.entry(*id).or_default().extend(ready.reads);
        }
    }

    /// Delivers messages until the network is quiet.
    pub fn deliver_all(&mut self) {
        for _ in 0..10_000 {
            self.collect();
            if self.inflight.is_empty() {
                return;
            }
            for message in std::mem::take(&mut self.inflight) {
                if self.isolated.contains(&message.from) || self.isolated.contains(&message.to) {
                    continue;
                }
                self.node(message.to).step(message);
            }
        }
        panic!("network never went quiet");
    }

    /// Ticks every node once, then delivers.
    pub fn tick(&mut self) {
        for node in self.nodes.values_mut() {
            node.tick();
        }
        self.deliver_all();
    }

    /// Ticks until some node leads; returns it.
    pub fn elect(&mut self) -> NodeId {
        for _ in 0..1_000 {
            self.tick();
            if let Some(leader) = self.leader() {
                return leader;
            }
        }
        panic!("no leader elected");
    }

    pub fn leader(&self) -> Option<NodeId> {
        self.nodes
            .values()
            .filter(|node| {
                node.status().role == Role::Leader && !self.isolated.contains(&node.id())
            })
            .max_by_key(|node| node.status().term)
            .map(|node| node.id())
    }
}
