//! Tests of the write-ahead log over simulated and real files.

use std::io;
use std::time::{Duration, Instant};

use crate::raft::{Entry, HardState, Index, Payload, Term};

use super::record::{self, RecordRef, HEADER_BYTES};
use super::*;

const NAME: &str = "node1/raft.log";

fn entry(index: Index, term: Term) -> Entry {
    Entry {
        index,
        term,
        payload: Payload::Command(format!("set k{index}").into_bytes()),
    }
}

fn entries(indexes: std::ops::RangeInclusive<Index>, term: Term) -> Vec<Entry> {
    indexes.map(|index| entry(index, term)).collect()
}

fn hard_state(term: Term, voted_for: Option<u64>) -> HardState {
    HardState { term, voted_for }
}

fn open(disk: &MemDisk) -> (Wal<MemFile>, Recovered) {
    Wal::open(disk.open(), NAME.to_string()).expect("log opens")
}

fn open_err(disk: &MemDisk) -> StorageError {
    match Wal::open(disk.open(), NAME.to_string()) {
        Ok((_, recovered)) => panic!("expected corruption, recovered {recovered:?}"),
        Err(error) => error,
    }
}

fn frame(record: RecordRef<'_>) -> Vec<u8> {
    let mut bytes = Vec::new();
    record::encode(&record, &mut bytes);
    bytes
}

/// A file whose syncs do nothing, so that a crash can tear what was appended.
struct NoSync(MemFile);

impl LogFile for NoSync {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.append(bytes)
    }
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn read_all(&mut self) -> io::Result<Vec<u8>> {
        self.0.read_all()
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.0.truncate(len)
    }
    fn len(&self) -> u64 {
        self.0.len()
    }
}

/// A file whose syncs fail, like a disk that has gone bad.
struct FailingSync(MemFile);

impl LogFile for FailingSync {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.append(bytes)
    }
    fn sync(&mut self) -> io::Result<()> {
        Err(io::Error::other("injected fsync failure"))
    }
    fn read_all(&mut self) -> io::Result<Vec<u8>> {
        self.0.read_all()
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.0.truncate(len)
    }
    fn len(&self) -> u64 {
        self.0.len()
    }
}

#[test]
fn empty_file_opens_with_default_state() {
    let disk = MemDisk::new();
    let (wal, recovered) = open(&disk);
    assert_eq!(recovered, Recovered::default());
    assert_eq!(wal.last_index(), 0);
    assert_eq!(wal.hard_state(), HardState::default());
}

#[test]
fn hard_states_and_entries_roundtrip() {
    let disk = MemDisk::new();
    let (mut wal, _) = open(&disk);
    wal.append(Some(hard_state(1, Some(1))), &entries(1..=3, 1))
        .unwrap();
    wal.append(Some(hard_state(2, None)), &[]).unwrap();
    wal.append(Some(hard_state(2, Some(3))), &entries(4..=5, 2))
        .unwrap();
    wal.append(
        None,
        &[Entry {
            index: 6,
            term: 2,
            payload: Payload::Noop,
        }],
    )
    .unwrap();
    drop(wal);

    let (wal, recovered) = open(&disk);
    let mut expected = entries(1..=3, 1);
    expected.extend(entries(4..=5, 2));
    expected.push(Entry {
        index: 6,
        term: 2,
        payload: Payload::Noop,
    });
    assert_eq!(recovered.entries, expected);
    assert_eq!(recovered.hard_state, hard_state(2, Some(3)));
    assert!(recovered.warnings.is_empty());
    assert_eq!(wal.last_index(), 6);
    assert_eq!(wal.hard_state(), hard_state(2, Some(3)));
}

#[test]
fn empty_append_does_no_io() {
    let disk = MemDisk::new();
    let (mut wal, _) = open(&disk);
    wal.append(None, &[]).unwrap();
    assert!(disk.bytes().is_empty());
}

#[test]
fn overwriting_suffix_replaces_conflicting_entries() {
    let disk = MemDisk::new();
    let (mut wal, _) = open(&disk);
    wal.append(None, &entries(1..=5, 1)).unwrap();
    // A new leader in term 2 disagrees from index 3 on; its log is shorter.
    wal.append(None, &entries(3..=4, 2)).unwrap();
    assert_eq!(wal.last_index(), 4);
    wal.append(None, &entries(5..=5, 2)).unwrap();
    drop(wal);

    let (mut wal, recovered) = open(&disk);
    let mut expected = entries(1..=2, 1);
    expected.extend(entries(3..=5, 2));
    assert_eq!(recovered.entries, expected);

    // Overwriting from the very first entry.
    wal.append(None, &entries(1..=2, 3)).unwrap();
    drop(wal);
    let (wal, recovered) = open(&disk);
    assert_eq!(recovered.entries, entries(1..=2, 3));
    assert_eq!(wal.last_index(), 2);
}

#[test]
fn reopen_after_many_appends_keeps_appending() {
    let disk = MemDisk::new();
    let mut expected = Vec::new();
    for round in 1..=20u64 {
        let (mut wal, recovered) = open(&disk);
        assert_eq!(recovered.entries, expected);
        assert!(recovered.warnings.is_empty());
        for _ in 0..5 {
            let next = wal.last_index() + 1;
            let batch = entries(next..=next + 2, round);
            wal.append(Some(hard_state(round, Some(round % 3))), &batch)
                .unwrap();
            expected.extend(batch);
        }
    }
    let (_, recovered) = open(&disk);
    assert_eq!(recovered.entries.len(), 20 * 5 * 3);
    assert_eq!(recovered.entries, expected);
    assert_eq!(recovered.hard_state, hard_state(20, Some(2)));
}

#[test]
fn ten_thousand_entries_in_batches_of_100_reopen() {
    let disk = MemDisk::new();
    let (mut wal, _) = open(&disk);
    for batch in 0..100 {
        let first = batch * 100 + 1;
        wal.append(None, &entries(first..=first + 99, 1 + batch / 10))
            .unwrap();
    }
    drop(wal);
    let (wal, recovered) = open(&disk);
    assert_eq!(recovered.entries.len(), 10_000);
    for (position, entry) in recovered.entries.iter().enumerate() {
        assert_eq!(
            entry,
            &self::entry(position as u64 + 1, 1 + position as u64 / 1000)
        );
    }
    assert_eq!(wal.last_index(), 10_000);
}

#[test]
fn append_larger_than_one_record_is_split_and_replays() {
    let disk = MemDisk::new();
    let (mut wal, _) = open(&disk);
    wal.append(None, &entries(1..=3000, 1)).unwrap();
    wal.append(None, &entries(2500..=2600, 2)).unwrap();
    drop(wal);
    let (_, recovered) = open(&disk);
    let mut expected = entries(1..=2499, 1);
    expected.extend(entries(2500..=2600, 2));
    assert_eq!(recovered.entries, expected);
}

#[test]
fn torn_tail_of_every_length_is_truncated_with_a_warning() {
    let disk = MemDisk::new();
    let (mut wal, _) = open(&disk);
    wal.append(Some(hard_state(1, Some(1))), &entries(1..=3, 1))
        .unwrap();
    let last_append_start = disk.bytes().len();
    wal.append(Some(hard_state(2, Some(2))), &entries(4..=6, 2))
        .unwrap();
    drop(wal);
    let full = disk.bytes();
    let hard_state_record_end =
        last_append_start + frame(RecordRef::HardState(&hard_state(2, Some(2)))).len();

    for cut in last_append_start + 1..full.len() {
        disk.set_bytes(full[..cut].to_vec());
        let (mut wal, recovered) = open(&disk);

        // The tear is in the hard-state record or in the entries record after
        // it; a cut exactly between the two leaves no torn record at all.
        let (torn_offset, hard_state_kept) = if cut < hard_state_record_end {
            (last_append_start, hard_state(1, Some(1)))
        } else {
            (hard_state_record_end, hard_state(2, Some(2)))
        };
        if cut == hard_state_record_end {
            assert!(recovered.warnings.is_empty(), "{:?}", recovered.warnings);
        } else {
            assert_eq!(recovered.warnings.len(), 1, "cut at {cut}");
            let warning = &recovered.warnings[0];
            assert!(warning.contains(NAME), "{warning}");
            assert!(
                warning.contains(&format!("torn record at byte {torn_offset} ")),
                "{warning}"
            );
        }
        assert_eq!(recovered.entries, entries(1..=3, 1), "cut at {cut}");
        assert_eq!(recovered.hard_state, hard_state_kept, "cut at {cut}");
        assert_eq!(
            disk.bytes().len(),
            torn_offset,
            "file truncated to the last good record"
        );

        // The log carries on after the repair.
        wal.append(None, &entries(4..=5, 3)).unwrap();
        drop(wal);
        let (_, recovered) = open(&disk);
        assert!(
            recovered.warnings.is_empty(),
            "cut at {cut}: {:?}",
            recovered.warnings
        );
        let mut expected = entries(1..=3, 1);
        expected.extend(entries(4..=5, 3));
        assert_eq!(recovered.entries, expected, "cut at {cut}");
    }
}

#[test]
fn checksum_mismatch_on_final_record_is_a_torn_tail() {
    let disk = MemDisk::new();
    let (mut wal, _) = open(&disk);
    wal.append(None, &entries(1..=2, 1)).unwrap();
    let last_start = disk.bytes().len();
    wal.append(None, &entries(3..=4, 1)).unwrap();
    drop(wal);
    let mut bytes = disk.bytes();
    *bytes.last_mut().unwrap() ^= 0x01;
    disk.set_bytes(bytes);

    let (_, recovered) = open(&disk);
    assert_eq!(recovered.entries, entries(1..=2, 1));
    assert!(
        recovered.warnings[0].contains(&format!("at byte {last_start} ")),
        "{:?}",
        recovered.warnings
    );
    assert!(
        recovered.warnings[0].contains("checksum mismatch"),
        "{:?}",
        recovered.warnings
    );
    assert_eq!(disk.bytes().len(), last_start);
}

#[test]
fn zero_filled_tail_is_a_torn_tail() {
    let disk = MemDisk::new();
    let (mut wal, _) = open(&disk);
    wal.append(None, &entries(1..=2, 1)).unwrap();
    drop(wal);
    let good_len = disk.bytes().len();
    let mut bytes = disk.bytes();
    bytes.extend_from_slice(&[0; 4096]);
    disk.set_bytes(bytes);

    let (_, recovered) = open(&disk);
    assert_eq!(recovered.entries, entries(1..=2, 1));
    assert!(
        recovered.warnings[0].contains("zero bytes"),
        "{:?}",
        recovered.warnings
    );
    assert_eq!(disk.bytes().len(), good_len);
}

#[test]
fn flipped_byte_in_a_middle_record_refuses_to_open() {
    let disk = MemDisk::new();
    let (mut wal, _) = open(&disk);
    wal.append(Some(hard_state(1, Some(1))), &entries(1..=2, 1))
        .unwrap();
    let middle_start = disk.bytes().len();
    wal.append(None, &entries(3..=4, 1)).unwrap();
    let middle_end = disk.bytes().len();
    wal.append(None, &entries(5..=6, 1)).unwrap();
    drop(wal);
    let good = disk.bytes();

    // Every byte of the middle record's checksum and body.
    for position in middle_start + 4..middle_end {
        let mut bytes = good.clone();
        bytes[position] ^= 0x40;
        disk.set_bytes(bytes);
        let error = open_err(&disk);
        let expected =
            format!("corrupt log file {NAME} at byte {middle_start}: checksum mismatch (");
        assert!(
            error.to_string().starts_with(&expected),
            "flip at {position}: {error}"
        );
        assert!(
            matches!(&error, StorageError::Corrupt { offset, .. } if *offset == middle_start as u64),
            "{error:?}"
        );
        assert_eq!(disk.bytes(), {
            let mut bytes = good.clone();
            bytes[position] ^= 0x40;
            bytes
        });
    }
}

#[test]
fn valid_checksum_over_undecodable_body_refuses_to_open() {
    let disk = MemDisk::new();
    let mut bytes = frame(RecordRef::Entries(&entries(1..=2, 1)));
    let body = [0x07, 0x01, 0x02]; // No record variant 7.
    bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    bytes.extend_from_slice(&body);
    let offset = frame(RecordRef::Entries(&entries(1..=2, 1))).len();
    disk.set_bytes(bytes);

    let error = open_err(&disk);
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "corrupt log file {NAME} at byte {offset}: undecodable"
        )),
        "{message}"
    );
}

#[test]
fn gap_between_entries_records_refuses_to_open() {
    let disk = MemDisk::new();
    let mut bytes = frame(RecordRef::Entries(&entries(1..=2, 1)));
    let offset = bytes.len();
    bytes.extend(frame(RecordRef::Entries(&entries(5..=6, 1))));
    disk.set_bytes(bytes);

    let error = open_err(&disk);
    assert_eq!(
        error.to_string(),
        format!("corrupt log file {NAME} at byte {offset}: entries start at index 5 but must start within 1..=3")
    );
}

#[test]
fn non_contiguous_entries_in_one_record_refuse_to_open() {
    let disk = MemDisk::new();
    disk.set_bytes(frame(RecordRef::Entries(&[entry(1, 1), entry(3, 1)])));
    let error = open_err(&disk);
    assert!(
        error
            .to_string()
            .ends_with("entries not contiguous: index 3 follows 1"),
        "{error}"
    );
}

#[test]
fn absurd_record_length_mid_file_refuses_to_open() {
    let disk = MemDisk::new();
    let mut bytes = frame(RecordRef::Entries(&entries(1..=2, 1)));
    let offset = bytes.len();
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    bytes.extend_from_slice(&[0xAB; 64]);
    disk.set_bytes(bytes);
    let error = open_err(&disk);
    assert!(
        error
            .to_string()
            .contains(&format!("at byte {offset}: record length 4294967295")),
        "{error}"
    );
}

#[test]
fn mem_file_crash_drops_unsynced_bytes() {
    let mut file = MemFile::new();
    file.append(b"abc").unwrap();
    file.sync().unwrap();
    file.append(b"defg").unwrap();
    assert_eq!(file.len(), 7);

    let disk = file.disk();
    let saved = disk.bytes();
    file.crash(0);
    assert_eq!(disk.bytes(), b"abc");

    disk.set_bytes(saved.clone());
    let mut file = disk.open();
    file.truncate(3).unwrap();
    file.append(b"defg").unwrap();
    file.crash(2);
    assert_eq!(disk.bytes(), b"abcde");
    assert_eq!(disk.synced_len(), 5);

    file.append(b"xy").unwrap();
    disk.crash(100); // More torn bytes than were written keeps them all.
    assert_eq!(disk.bytes(), b"abcdexy");
}

#[test]
fn crash_during_append_keeps_the_synced_prefix() {
    let synced_disk = MemDisk::new();
    let (mut wal, _) = open(&synced_disk);
    wal.append(Some(hard_state(1, Some(1))), &entries(1..=3, 1))
        .unwrap();
    drop(wal);
    let synced = synced_disk.bytes();

    let new_hard_state = hard_state(2, Some(2));
    let hard_state_record_len = frame(RecordRef::HardState(&new_hard_state)).len();
    let unsynced_len = hard_state_record_len + frame(RecordRef::Entries(&entries(4..=5, 2))).len();

    for torn_bytes in 0..=unsynced_len {
        let disk = MemDisk::new();
        disk.set_bytes(synced.clone());
        let (mut wal, _) = Wal::open(NoSync(disk.open()), NAME.to_string()).unwrap();
        wal.append(Some(new_hard_state), &entries(4..=5, 2))
            .unwrap();
        drop(wal);
        assert_eq!(disk.bytes().len(), synced.len() + unsynced_len);
        disk.crash(torn_bytes);

        let (_, recovered) = open(&disk);
        let expected_entries = if torn_bytes == unsynced_len {
            let mut all = entries(1..=3, 1);
            all.extend(entries(4..=5, 2));
            all
        } else {
            entries(1..=3, 1)
        };
        assert_eq!(recovered.entries, expected_entries, "torn {torn_bytes}");
        let expected_hard_state = if torn_bytes >= hard_state_record_len {
            new_hard_state
        } else {
            hard_state(1, Some(1))
        };
        assert_eq!(
            recovered.hard_state, expected_hard_state,
            "torn {torn_bytes}"
        );
        let at_record_boundary = [0, hard_state_record_len, unsynced_len].contains(&torn_bytes);
        assert_eq!(
            recovered.warnings.is_empty(),
            at_record_boundary,
            "torn {torn_bytes}"
        );
    }
}

#[test]
fn failed_sync_stops_further_appends() {
    let (mut wal, _) = Wal::open(FailingSync(MemFile::new()), NAME.to_string()).unwrap();
    let error = wal.append(None, &entries(1..=1, 1)).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("cannot sync {NAME}: injected fsync failure")
    );
    assert_eq!(wal.last_index(), 0, "a failed append is not counted");
    let error = wal.append(None, &entries(1..=1, 1)).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot append to {NAME}: an earlier")),
        "{error}"
    );
}

#[test]
#[should_panic(expected = "entries start at index 5 but must start within 1..=3")]
fn appending_a_gap_is_a_bug() {
    let (mut wal, _) = open(&MemDisk::new());
    wal.append(None, &entries(1..=2, 1)).unwrap();
    wal.append(None, &entries(5..=5, 1)).unwrap();
}

#[test]
#[should_panic(expected = "hard state term going back from 3 to 2")]
fn hard_state_term_going_back_is_a_bug() {
    let (mut wal, _) = open(&MemDisk::new());
    wal.append(Some(hard_state(3, None)), &[]).unwrap();
    wal.append(Some(hard_state(2, None)), &[]).unwrap();
}

#[test]
#[should_panic(expected = "vote changed within term 3")]
fn changing_a_vote_within_a_term_is_a_bug() {
    let (mut wal, _) = open(&MemDisk::new());
    wal.append(Some(hard_state(3, Some(1))), &[]).unwrap();
    wal.append(Some(hard_state(3, Some(2))), &[]).unwrap();
}

#[test]
fn disk_file_roundtrips_and_repairs_a_torn_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data").join("node1");
    let (mut wal, recovered) = open_dir(&dir, DiskOptions::default()).unwrap();
    assert_eq!(recovered, Recovered::default());
    assert_eq!(wal.name(), dir.join(LOG_FILE_NAME).display().to_string());
    wal.append(Some(hard_state(1, Some(1))), &entries(1..=3, 1))
        .unwrap();
    let good_len = wal.size_bytes();
    wal.append(None, &entries(4..=6, 1)).unwrap();
    drop(wal);

    // Tear the last record, as a crash mid-write would.
    let path = dir.join(LOG_FILE_NAME);
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(good_len + 5).unwrap();
    drop(file);

    let (mut wal, recovered) = open_dir(&dir, DiskOptions::default()).unwrap();
    assert_eq!(recovered.entries, entries(1..=3, 1));
    assert_eq!(recovered.hard_state, hard_state(1, Some(1)));
    assert_eq!(recovered.warnings.len(), 1);
    assert!(recovered.warnings[0].contains(&format!("{}: truncated", path.display())));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), good_len);
    wal.append(None, &entries(4..=4, 2)).unwrap();
    drop(wal);

    let options = DiskOptions {
        fsync: false,
        fsync_delay: Duration::ZERO,
    };
    let (_, recovered) = open_dir(&dir, options).unwrap();
    assert_eq!(recovered.entries.len(), 4);
    assert!(recovered.warnings.is_empty());
}

#[test]
fn disk_file_ten_thousand_entries_in_batches_of_100_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut wal, _) = open_dir(tmp.path(), DiskOptions::default()).unwrap();
    for batch in 0..100 {
        let first = batch * 100 + 1;
        wal.append(
            Some(hard_state(1 + batch, None)),
            &entries(first..=first + 99, 1 + batch),
        )
        .unwrap();
    }
    drop(wal);
    let (wal, recovered) = open_dir(tmp.path(), DiskOptions::default()).unwrap();
    assert_eq!(recovered.entries.len(), 10_000);
    assert!(recovered
        .entries
        .iter()
        .enumerate()
        .all(|(i, e)| e.index == i as u64 + 1));
    assert_eq!(recovered.hard_state, hard_state(100, None));
    assert_eq!(wal.last_index(), 10_000);
}

#[test]
fn disk_file_fsync_delay_slows_each_sync() {
    let tmp = tempfile::tempdir().unwrap();
    let options = DiskOptions {
        fsync: true,
        fsync_delay: Duration::from_millis(20),
    };
    let (mut wal, _) = open_dir(tmp.path(), options).unwrap();
    let started = Instant::now();
    wal.append(None, &entries(1..=1, 1)).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(20));
}

/// Measures one `append` of one entry with fsync on the disk under `target/`.
/// Run with `cargo test --release --lib fsync_cost -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn fsync_cost_of_one_entry_append() {
    const CALLS: usize = 200;
    let parent = concat!(env!("CARGO_MANIFEST_DIR"), "/target");
    for (label, options) in [
        ("fsync on", DiskOptions::default()),
        (
            "fsync off",
            DiskOptions {
                fsync: false,
                fsync_delay: Duration::ZERO,
            },
        ),
    ] {
        let tmp = tempfile::tempdir_in(parent).unwrap();
        let (mut wal, _) = open_dir(tmp.path(), options).unwrap();
        let mut latencies_us: Vec<u128> = (1..=CALLS as u64)
            .map(|index| {
                let started = Instant::now();
                wal.append(None, &[entry(index, 1)]).unwrap();
                started.elapsed().as_micros()
            })
            .collect();
        latencies_us.sort_unstable();
        println!(
            "{label}: one-entry append over {CALLS} calls: median {} us, p90 {} us, max {} us",
            latencies_us[CALLS / 2],
            latencies_us[CALLS * 9 / 10],
            latencies_us[CALLS - 1]
        );
    }
}

#[test]
fn records_frame_as_documented() {
    let bytes = frame(RecordRef::HardState(&hard_state(7, Some(2))));
    let len = u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
    let crc = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
    assert_eq!(bytes.len(), HEADER_BYTES + len);
    assert_eq!(crc, crc32fast::hash(&bytes[HEADER_BYTES..]));
    assert_eq!(
        postcard::from_bytes::<record::Record>(&bytes[HEADER_BYTES..]).unwrap(),
        record::Record::HardState(hard_state(7, Some(2)))
    );
}
