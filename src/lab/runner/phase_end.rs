//! Closing a cluster phase: faults undone, convergence awaited, every key
//! read back, then the nodes frozen and stopped and their write-ahead logs
//! read from disk and compared with the acknowledged writes.

use super::*;

impl Lab {
    /// Reads every key of this phase back linearizably through the leader.
    pub(super) async fn verify_reads(&self) -> Result<String, String> {
        let phase = self.world.timeline.phase();
        let prefix = format!("p{phase}/");
        let history = self.world.recorder.snapshot();
        let keys: BTreeSet<String> = history
            .iter()
            .filter(|op| op.phase == phase && !op.ttl && op.op != OpType::ReadLocal)
            .filter_map(|op| op.key.as_deref()?.strip_prefix(&prefix).map(str::to_string))
            .collect();
        let mut unread = Vec::new();
        for key in &keys {
            let mut read = false;
            for _attempt in 0..5 {
                let node = self
                    .world
                    .resolve("leader")
                    .map(|ids| ids[0])
                    .or_else(|_| self.world.live().first().copied().ok_or("no node runs"))?;
                let record = perform(
                    &self.world,
                    &self.http,
                    Request {
                        client: self.script_client,
                        source: VERIFY_SOURCE,
                        phase,
                        op: OpType::ReadLinearizable,
                        node,
                        key,
                        value: None,
                        ttl_s: None,
                    },
                )
                .await;
                if record.outcome == Outcome::Ok {
                    read = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            if !read {
                unread.push(key.clone());
            }
        }
        let history = self.world.recorder.snapshot();
        let check = checks::no_acknowledged_write_lost(&history, false);
        if !unread.is_empty() {
            return Err(format!(
                "{} keys could not be read back (first: {})",
                unread.len(),
                unread[0]
            ));
        }
        if check.ok {
            Ok(check.detail)
        } else {
            Err(check.detail)
        }
    }

    /// After the steps: stop workloads, undo every fault, wait for a
    /// converged cluster, read every key back and compare the logs.
    pub(super) async fn finish(&mut self, checks: &mut Vec<Check>) {
        self.stop_workloads().await;
        self.close_phase("after repair").await;
        let ok = self.phases.iter().all(|phase| phase.converged.is_ok());
        let several = self.phases.len() > 1;
        let detail: Vec<String> = self
            .phases
            .iter()
            .map(|phase| {
                let text = match &phase.converged {
                    Ok(text) | Err(text) => text,
                };
                if several {
                    format!("phase {} {}: {text}", phase.phase, phase.when)
                } else {
                    format!("{}: {text}", phase.when)
                }
            })
            .collect();
        checks.push(Check::new("converged", ok, detail.join("; ")));
    }

    /// Ends the current phase: undoes every fault, waits for convergence,
    /// reads every key of the phase back, then stops the cluster and
    /// compares the nodes' logs on disk with each other and with the
    /// phase's acknowledged writes. Returns a one-line summary.
    pub(super) async fn close_phase(&mut self, when: &'static str) -> String {
        let phase = self.world.timeline.phase();
        let cluster = self.world.cluster();
        cluster.heal();
        for view in cluster.nodes() {
            let id = crate::raft::parse_node_name(&view.id).expect("node names");
            match view.process {
                "paused" => {
                    let _ = cluster.set_paused(id, false).await;
                }
                "killed" => {
                    let _ = cluster.restart(id).await;
                }
                _ => {}
            }
        }
        let converged = wait_converged(&self.world, REPAIR_TIMEOUT).await;
        if self.options.verbose {
            println!(
                "\n■ phase {phase} {when}: read every key back, stop the nodes, compare their logs on disk"
            );
        }
        if let Err(detail) = self.verify_reads().await {
            self.warnings
                .push(format!("phase {phase} read-back {when}: {detail}"));
        }
        let history = self.world.recorder.snapshot();
        let acknowledged: Vec<&HistoryOp> = history
            .iter()
            .filter(|op| op.phase == phase && op.outcome == Outcome::Ok)
            .collect();
        let logs = match self.stop_and_read_logs().await {
            Ok(logs) => checks::compare_logs(&acknowledged, &logs),
            Err(error) => Err(error),
        };
        let summary = match (&converged, &logs) {
            (Ok(_), Ok(agreement)) => format!(
                "phase {phase} converged; {} acknowledged updates found in the logs, which agree on {} entries",
                agreement.found, agreement.agreed
            ),
            (Err(why), _) | (_, Err(why)) => format!("phase {phase} check failed: {why}"),
        };
        self.phases.push(PhaseVerdict {
            phase,
            when,
            converged,
            logs,
        });
        summary
    }

    /// Stops every node of the current cluster and reads each node's log
    /// from its data directory. The nodes are frozen first, so that none
    /// starts an election while the others are stopping, and their commit
    /// indices are taken then: a node publishes its commit index only after
    /// the entries are durable, so each is a safe bound of its committed log.
    pub(super) async fn stop_and_read_logs(&mut self) -> Result<Vec<NodeLog>, String> {
        let cluster = self.world.cluster();
        for view in cluster.nodes() {
            if view.process == "running" {
                let id = crate::raft::parse_node_name(&view.id).expect("node names");
                let _ = cluster.set_paused(id, true).await;
            }
        }
        let commits: BTreeMap<String, u64> = cluster
            .nodes()
            .into_iter()
            .filter_map(|view| Some((view.id, view.status?.commit_index)))
            .collect();
        cluster.shutdown().await;
        let mut logs = Vec::new();
        for id in 1..=cluster.size() {
            let node = node_name(id);
            let (entries, warnings) = read_log(&cluster.node_data_dir(id))?;
            self.warnings.extend(warnings);
            logs.push(NodeLog {
                commit_index: commits.get(&node).copied().unwrap_or(0),
                node,
                entries,
            });
        }
        Ok(logs)
    }

    /// `no_acknowledged_write_lost`: the read-back of every key, and each
    /// phase's logs compared with its acknowledged writes.
    pub(super) fn acknowledged_writes_kept(&self, history: &[HistoryOp]) -> Check {
        let read_back = checks::no_acknowledged_write_lost(history, true);
        let several = self.phases.len() > 1;
        let mut ok = read_back.ok;
        let mut parts = vec![read_back.detail];
        for phase in &self.phases {
            let text = match &phase.logs {
                Ok(agreement) => agreement.to_string(),
                Err(why) => {
                    ok = false;
                    format!("LOG CHECK FAILED: {why}")
                }
            };
            parts.push(if several {
                format!("phase {}: {text}", phase.phase)
            } else {
                text
            });
        }
        Check::new(read_back.name.as_str(), ok, parts.join("; "))
    }
}

/// Waits until every live node applied what the leader committed and all
/// hold the same data and agree on the log tail they share.
pub(super) async fn wait_converged(world: &World, timeout: Duration) -> Result<String, String> {
    let started = Instant::now();
    loop {
        let verdict = converged(world);
        match verdict {
            Ok(detail) => return Ok(detail),
            Err(detail) if started.elapsed() >= timeout => {
                return Err(format!(
                    "not converged within {} ms: {detail}",
                    timeout.as_millis()
                ))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

pub(super) fn converged(world: &World) -> Result<String, String> {
    let cluster = world.cluster();
    let views = cluster.nodes();
    let (leader, _) = working_leader(&views).ok_or("no leader")?;
    let leader_status = cluster.handle(leader).ok_or("the leader stopped")?.status();
    let live = world.live();
    let handles: Vec<_> = live.iter().filter_map(|id| cluster.handle(*id)).collect();
    let mut tail_compared = usize::MAX;
    for handle in &handles {
        let status = handle.status();
        if status.last_applied != leader_status.commit_index {
            return Err(format!(
                "{} applied {}, the leader committed {}",
                node_name(handle.id),
                status.last_applied,
                leader_status.commit_index
            ));
        }
        let mut shared = 0;
        for (index, term) in &status.log_tail_terms {
            if let Some((_, leader_term)) = leader_status
                .log_tail_terms
                .iter()
                .find(|(i, _)| i == index)
            {
                shared += 1;
                if leader_term != term {
                    return Err(format!(
                        "{} has term {term} at index {index}, the leader {leader_term}",
                        node_name(handle.id)
                    ));
                }
            }
        }
        tail_compared = tail_compared.min(shared);
    }
    let now_ms = crate::cache::unix_now_ms();
    let leader_cache = &cluster.handle(leader).ok_or("the leader stopped")?.cache;
    let keys = leader_cache.keys(now_ms);
    for handle in &handles {
        if handle.cache.keys(now_ms).len() != keys.len() {
            return Err(format!(
                "{} holds a different number of keys",
                node_name(handle.id)
            ));
        }
        for key in &keys {
            let mine = handle.cache.get(key, now_ms).map(|value| value.value);
            let theirs = leader_cache.get(key, now_ms).map(|value| value.value);
            if mine != theirs {
                return Err(format!(
                    "{} differs from the leader on {key}",
                    node_name(handle.id)
                ));
            }
        }
    }
    // The published tail is short; the whole committed logs are compared
    // from disk by no_acknowledged_write_lost once the cluster stops.
    Ok(format!(
        "{} live nodes applied the leader's commit index {}, hold the same {} keys and agree with the leader on the terms of the last {} log entries (whole logs: see no_acknowledged_write_lost)",
        handles.len(),
        leader_status.commit_index,
        keys.len(),
        if handles.is_empty() { 0 } else { tail_compared }
    ))
}

/// Replays the write-ahead log in `dir` with the nodes' own reader, on a
/// copy of its bytes: the reader truncates a torn tail, and a check must
/// never touch the file it checks. Returns the entries and any repair the
/// reader reported (a clean stop leaves none).
pub(super) fn read_log(
    dir: &std::path::Path,
) -> Result<(Vec<crate::raft::Entry>, Vec<String>), String> {
    let path = dir.join(crate::storage::LOG_FILE_NAME);
    let bytes =
        std::fs::read(&path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let disk = crate::storage::MemDisk::new();
    disk.set_bytes(bytes);
    let (_, recovered) = crate::storage::Wal::open(disk.open(), path.display().to_string())
        .map_err(|error| format!("cannot replay the log: {error}"))?;
    Ok((recovered.entries, recovered.warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_log_file_is_an_error_and_reading_one_leaves_it_untouched() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_log(dir.path()).is_err());
        let (mut wal, _) = crate::storage::open_dir(
            dir.path(),
            crate::storage::DiskOptions {
                fsync: false,
                fsync_delay: Duration::ZERO,
            },
        )
        .unwrap();
        let entries: Vec<crate::raft::Entry> = (1..=3)
            .map(|index| crate::raft::Entry {
                index,
                term: 1,
                payload: crate::raft::Payload::Noop,
            })
            .collect();
        wal.append(None, &entries).unwrap();
        drop(wal);
        let path = dir.path().join(crate::storage::LOG_FILE_NAME);
        // A torn tail: the reader drops it from its copy, never from the file.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&[7, 0, 0, 0, 1]);
        std::fs::write(&path, &bytes).unwrap();
        let (read, warnings) = read_log(dir.path()).unwrap();
        assert_eq!(read, entries);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }
}
