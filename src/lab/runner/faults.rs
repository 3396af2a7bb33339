//! Fault steps: kill, restart, pause, partition, link faults, leadership
//! transfer and `reset_cluster`, each by node name or role.

use super::*;

impl Lab {
    pub(super) async fn kill(&self, node: &str, bind: Option<&str>) -> Result<String, String> {
        let ids = self.world.resolve(node)?;
        self.world.note_fault();
        for id in &ids {
            self.world
                .cluster()
                .kill(*id)
                .await
                .map_err(|error| error.to_string())?;
        }
        if let Some(name) = bind {
            self.world.bind(name, ids.clone());
        }
        Ok(format!("killed {}", names(&ids)))
    }

    pub(super) async fn restart(&self, node: &str) -> Result<String, String> {
        let ids = self.world.resolve(node)?;
        self.world.note_fault();
        for id in &ids {
            self.world
                .cluster()
                .restart(*id)
                .await
                .map_err(|error| error.to_string())?;
        }
        Ok(format!("restarted {}", names(&ids)))
    }

    pub(super) async fn pause(
        &self,
        node: &str,
        bind: Option<&str>,
        paused: bool,
    ) -> Result<String, String> {
        let ids = self.world.resolve(node)?;
        self.world.note_fault();
        for id in &ids {
            self.world
                .cluster()
                .set_paused(*id, paused)
                .await
                .map_err(|error| error.to_string())?;
        }
        if let Some(name) = bind {
            self.world.bind(name, ids.clone());
        }
        Ok(format!(
            "{} {}",
            if paused { "paused" } else { "resumed" },
            names(&ids)
        ))
    }

    pub(super) async fn full_restart(&self) -> Result<String, String> {
        self.world.note_fault();
        let cluster = self.world.cluster();
        for id in 1..=cluster.size() {
            let _ = cluster.kill(id).await;
        }
        for id in 1..=cluster.size() {
            cluster
                .restart(id)
                .await
                .map_err(|error| error.to_string())?;
        }
        Ok(format!(
            "all {} nodes killed and restarted from disk",
            cluster.size()
        ))
    }

    pub(super) fn partition(
        &self,
        groups: &[Vec<String>],
        bind: Option<&str>,
    ) -> Result<String, String> {
        let mut resolved: Vec<BTreeSet<NodeId>> = Vec::new();
        let mut seen = BTreeSet::new();
        for group in groups {
            let mut ids = BTreeSet::new();
            for name in group {
                for id in self.world.resolve(name)? {
                    if !seen.insert(id) {
                        return Err(format!("{} is in two groups", node_name(id)));
                    }
                    ids.insert(id);
                }
            }
            resolved.push(ids);
        }
        self.world.note_fault();
        if let (Some(name), Some(first)) = (bind, resolved.first()) {
            self.world.bind(name, first.iter().copied().collect());
        }
        let text: Vec<String> = resolved
            .iter()
            .map(|group| format!("[{}]", names(&group.iter().copied().collect::<Vec<_>>())))
            .collect();
        self.world.cluster().partition(resolved);
        Ok(format!(
            "partitioned {} (the rest together)",
            text.join(" ")
        ))
    }

    pub(super) fn link(
        &self,
        from: &str,
        to: &str,
        fault: crate::transport::LinkFault,
    ) -> Result<String, String> {
        let ends = |name: &str| -> Result<Vec<Option<NodeId>>, String> {
            if name == "*" {
                Ok(vec![None])
            } else {
                Ok(self.world.resolve(name)?.into_iter().map(Some).collect())
            }
        };
        self.world.note_fault();
        for from_id in ends(from)? {
            for to_id in ends(to)? {
                self.world.cluster().set_link(from_id, to_id, fault);
            }
        }
        Ok(format!(
            "{from} -> {to}: drop {}, delay {}±{} ms, duplicate {}",
            fault.drop, fault.delay_ms, fault.jitter_ms, fault.duplicate
        ))
    }

    pub(super) fn transfer(&self, to: &str) -> Result<String, String> {
        let ids = self.world.resolve(to)?;
        self.world.note_fault();
        self.world
            .cluster()
            .transfer_leadership(ids[0])
            .map_err(|error| error.to_string())?;
        self.world.events.publish(EventKind::TransferRequested {
            to: node_name(ids[0]),
        });
        Ok(format!(
            "asked the leader to hand over to {}",
            node_name(ids[0])
        ))
    }

    pub(super) async fn reset(
        &mut self,
        pre_vote: Option<bool>,
        check_quorum: Option<bool>,
    ) -> Result<String, String> {
        self.stop_workloads().await;
        let mut spec = self.world.spec.lock().clone();
        spec.pre_vote = pre_vote.unwrap_or(spec.pre_vote);
        spec.check_quorum = check_quorum.unwrap_or(spec.check_quorum);
        // The old cluster is about to go: judge it first, as the end of a run would.
        let closed = self.close_phase("before reset_cluster").await;
        let text = format!(
            "{closed}; fresh cluster: pre_vote = {}, check_quorum = {}",
            spec.pre_vote, spec.check_quorum
        );
        self.world.reset(spec).await?;
        Ok(text)
    }
}
