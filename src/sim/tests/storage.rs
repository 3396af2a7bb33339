//! The simulated disk loses exactly what was not synced, and the simulator
//! notices when storage or the driver gets durability wrong.

use crate::raft::{Entry, HardState, Index, Payload, Term};
use crate::sim::storage::SimDisk;
use crate::sim::{Cluster, ClusterOptions};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn entries(first: Index, last: Index, term: Term) -> Vec<Entry> {
    (first..=last)
        .map(|index| Entry {
            index,
            term,
            payload: Payload::Command(vec![index as u8; 40]),
        })
        .collect()
}

fn hard_state(term: Term) -> HardState {
    HardState {
        term,
        voted_for: Some(1),
    }
}

fn terms(recovered: &crate::sim::storage::Recovered) -> Vec<Term> {
    recovered.entries.iter().map(|entry| entry.term).collect()
}

/// A blank disk holding entries 1..=3 of term 1, synced.
fn disk_with_three_synced() -> SimDisk {
    let mut disk = SimDisk::new("test/raft.log".to_string());
    disk.recover();
    disk.append(Some(hard_state(1)), &entries(1, 3, 1));
    assert_eq!(disk.durable_term_at(3), Some(1));
    disk
}

#[test]
fn a_crash_loses_the_bytes_that_were_never_synced() {
    let mut disk = disk_with_three_synced();
    let (synced_bytes, _) = disk.raw();
    // A WAL whose sync does nothing: the write reaches the file only.
    disk.ignore_syncs();
    disk.append(Some(hard_state(2)), &entries(4, 5, 2));
    let (bytes, synced_len) = disk.raw();
    assert_eq!(synced_len, synced_bytes.len());
    assert!(bytes.len() > synced_len, "the write is in the file");
    assert_eq!(disk.durable_term_at(4), None, "unsynced is not durable");
    assert_eq!(disk.durable_hard_state(), hard_state(1));

    assert_eq!(disk.crash(None), 0);
    assert_eq!(disk.raw(), (synced_bytes.clone(), synced_bytes.len()));
    disk.honour_syncs();
    let recovered = disk.recover();
    assert_eq!(terms(&recovered), vec![1, 1, 1], "entries 4 and 5 are gone");
    assert_eq!(recovered.hard_state, hard_state(1));
    assert!(recovered.warnings.is_empty());
}

#[test]
fn a_synced_write_survives_a_crash() {
    let mut disk = disk_with_three_synced();
    disk.append(None, &entries(4, 4, 1));
    disk.crash(None);
    assert_eq!(terms(&disk.recover()), vec![1, 1, 1, 1]);
}

/// A crash during a write keeps a prefix of the unsynced bytes only, never a
/// synced byte less; recovery gives back the synced log plus a prefix of the
/// write's records — an overwrite here, cutting the log back to index 2,
/// of more entries than one record holds, so that it can survive in part.
#[test]
fn a_torn_write_keeps_a_prefix_of_the_unsynced_bytes() {
    const LAST: Index = 1100;
    let (mut none, mut part, mut all, mut torn_tails) = (0, 0, 0, 0);
    for seed in 0..200 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut disk = disk_with_three_synced();
        let (synced_bytes, _) = disk.raw();
        disk.append_until_power_loss(Some(hard_state(2)), &entries(3, LAST, 2));
        let (written, synced_len) = disk.raw();
        assert_eq!(synced_len, synced_bytes.len(), "the sync never happened");
        assert_eq!(disk.durable_term_at(4), None);

        let torn_bytes = disk.crash(Some(&mut rng));
        let (bytes, _) = disk.raw();
        assert!(torn_bytes <= written.len() - synced_len);
        assert_eq!(bytes, written[..synced_len + torn_bytes]);

        let recovered = disk.recover(); // Asserts synced + a record prefix.
        torn_tails += usize::from(!recovered.warnings.is_empty());
        let got = terms(&recovered);
        if got == [1, 1, 1] {
            none += 1;
        } else {
            assert_eq!(got[..2], [1, 1], "seed {seed}: synced entries kept");
            assert!(got[2..].iter().all(|term| *term == 2), "seed {seed}");
            if got.len() == LAST as usize {
                all += 1;
            } else {
                part += 1;
            }
        }
        assert_eq!(
            disk.durable_term_at(3),
            recovered.entries.get(2).map(|e| e.term)
        );
    }
    // Keeping the whole write needs the tear to land on its last byte: rare.
    assert!(none > 0 && part > 0, "{none} none, {part} part, {all} all");
    assert!(torn_tails > 0, "some tears end inside a record");
}

/// The experiment of deleting the WAL's fsync, as a test: a cluster whose
/// syncs do nothing commits entries that no disk holds durably, and the
/// simulator must say so.
#[test]
fn a_cluster_that_never_syncs_is_caught() {
    let mut cluster = Cluster::new(ClusterOptions::new(3), 7);
    for node in cluster.nodes.values_mut() {
        node.disk.ignore_syncs();
    }
    cluster.run(1000);
    let violation = cluster.violation.expect("lost durability is caught");
    assert!(
        violation.invariant.contains("durable"),
        "unexpected violation: {violation}"
    );
}
