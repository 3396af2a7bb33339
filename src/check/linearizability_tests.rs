//! Hand-made histories with a known verdict, and generated ones for scale.
//!
//! Times in the hand-made histories are in milliseconds (converted to
//! microseconds by the builders) so the stories stay readable.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::linearizability::{check, OpKind, Operation, Outcome, Verdict};

fn op(client: u64, kind: OpKind, (invoke_ms, complete_ms): (u64, u64)) -> Operation {
    Operation {
        id: 0,
        client,
        kind,
        invoke_us: invoke_ms * 1000,
        complete_us: complete_ms * 1000,
        outcome: Outcome::Ok,
    }
}

fn set(client: u64, key: &str, value: &str, span: (u64, u64)) -> Operation {
    op(
        client,
        OpKind::Set {
            key: key.into(),
            value: value.into(),
        },
        span,
    )
}

fn delete(client: u64, key: &str, span: (u64, u64)) -> Operation {
    op(client, OpKind::Delete { key: key.into() }, span)
}

fn clear(client: u64, span: (u64, u64)) -> Operation {
    op(client, OpKind::Clear, span)
}

fn read(client: u64, key: &str, observed: Option<&str>, span: (u64, u64)) -> Operation {
    op(
        client,
        OpKind::Read {
            key: key.into(),
            observed: observed.map(Into::into),
        },
        span,
    )
}

fn unknown(operation: Operation) -> Operation {
    Operation {
        outcome: Outcome::Unknown,
        ..operation
    }
}

fn failed(operation: Operation) -> Operation {
    Operation {
        outcome: Outcome::Failed,
        ..operation
    }
}

/// Numbers the operations in order, as a recorder would.
fn history(ops: Vec<Operation>) -> Vec<Operation> {
    ops.into_iter()
        .enumerate()
        .map(|(id, operation)| Operation {
            id: id as u64,
            ..operation
        })
        .collect()
}

fn assert_linearizable(ops: Vec<Operation>) {
    let verdict = check(&history(ops));
    assert!(
        verdict.is_linearizable(),
        "expected linearizable, got:\n{verdict}"
    );
}

/// Asserts a violation on `key` and returns the witness's operation ids.
fn assert_violation(ops: Vec<Operation>, expected_key: &str) -> (Vec<u64>, String) {
    let verdict = check(&history(ops));
    match &verdict {
        Verdict::Violation {
            key, operations, ..
        } => {
            assert_eq!(key, expected_key, "{verdict}");
            (
                operations.iter().map(|op| op.id).collect(),
                verdict.to_string(),
            )
        }
        Verdict::Linearizable { .. } => {
            panic!("expected a violation on {expected_key}, got: {verdict}")
        }
    }
}

#[test]
fn sequential_history_is_linearizable() {
    assert_linearizable(vec![
        read(1, "k", None, (0, 1)),
        set(1, "k", "a", (2, 3)),
        read(2, "k", Some("a"), (4, 5)),
        set(2, "k", "b", (6, 7)),
        read(1, "k", Some("b"), (8, 9)),
        delete(1, "k", (10, 11)),
        read(2, "k", None, (12, 13)),
    ]);
    let verdict = check(&history(vec![
        set(1, "k", "a", (0, 1)),
        read(1, "k", Some("a"), (2, 3)),
    ]));
    assert_eq!(
        verdict,
        Verdict::Linearizable {
            keys: 1,
            operations: 2
        }
    );
}

#[test]
fn read_overlapping_a_write_may_see_either_value() {
    for observed in [Some("a"), Some("b")] {
        assert_linearizable(vec![
            set(1, "k", "a", (0, 1)),
            set(1, "k", "b", (2, 10)),
            read(2, "k", observed, (5, 6)),
        ]);
    }
}

#[test]
fn stale_read_after_a_completed_newer_write_is_a_violation() {
    let (witness, _) = assert_violation(
        vec![
            set(1, "k", "a", (0, 1)),
            set(1, "k", "b", (2, 3)),
            read(2, "k", Some("a"), (4, 5)),
        ],
        "k",
    );
    assert_eq!(witness, vec![0, 1, 2]);
}

#[test]
fn read_of_absent_after_an_acknowledged_set_is_a_lost_write() {
    let (witness, _) = assert_violation(
        vec![set(1, "k", "a", (0, 1)), read(2, "k", None, (2, 3))],
        "k",
    );
    assert_eq!(witness, vec![0, 1]);
}

#[test]
fn unknown_write_observed_later_is_linearizable() {
    // The client gave up at 2ms; the write took effect long after.
    assert_linearizable(vec![
        set(1, "k", "a", (0, 1)),
        unknown(set(2, "k", "b", (1, 2))),
        read(3, "k", Some("a"), (5, 6)),
        read(3, "k", Some("b"), (50, 51)),
    ]);
}

#[test]
fn unknown_write_never_observed_is_linearizable() {
    assert_linearizable(vec![
        set(1, "k", "a", (0, 1)),
        unknown(set(2, "k", "b", (1, 2))),
        read(3, "k", Some("a"), (5, 6)),
        read(3, "k", Some("a"), (50, 51)),
    ]);
}

#[test]
fn older_value_read_after_an_unknown_write_was_observed_is_a_violation() {
    let (witness, _) = assert_violation(
        vec![
            set(1, "k", "a", (0, 1)),
            unknown(set(2, "k", "b", (1, 2))),
            read(3, "k", Some("b"), (5, 6)),
            read(3, "k", Some("a"), (7, 8)),
        ],
        "k",
    );
    assert_eq!(witness, vec![0, 1, 2, 3]);
}

#[test]
fn unknown_write_cannot_take_effect_before_it_is_invoked() {
    assert_violation(
        vec![
            read(1, "k", Some("b"), (0, 1)),
            unknown(set(2, "k", "b", (5, 6))),
        ],
        "k",
    );
}

#[test]
fn read_of_a_value_never_written_is_a_violation() {
    let (witness, text) = assert_violation(
        vec![
            set(1, "k", "a", (0, 1)),
            read(2, "k", Some("a"), (2, 3)),
            read(2, "k", Some("zzz"), (4, 5)),
        ],
        "k",
    );
    assert_eq!(witness, vec![2]);
    assert!(text.contains("no operation on \"k\" wrote"), "{text}");
}

#[test]
fn readers_disagreeing_on_the_order_of_concurrent_writes_is_a_violation() {
    let (witness, _) = assert_violation(
        vec![
            set(1, "k", "a", (0, 10)),
            set(2, "k", "b", (0, 10)),
            read(3, "k", Some("a"), (1, 2)),
            read(3, "k", Some("b"), (5, 6)),
            read(4, "k", Some("b"), (1, 2)),
            read(4, "k", Some("a"), (5, 6)),
        ],
        "k",
    );
    assert_eq!(
        witness.len(),
        6,
        "both writes and all four reads are needed"
    );
}

#[test]
fn observed_failed_write_is_a_violation() {
    let (witness, text) = assert_violation(
        vec![
            set(1, "k", "a", (0, 1)),
            failed(set(2, "k", "b", (2, 3))),
            read(3, "k", Some("b"), (4, 5)),
        ],
        "k",
    );
    assert_eq!(witness, vec![2]);
    assert!(text.contains("reported failed"), "{text}");
}

#[test]
fn old_value_read_after_a_completed_clear_is_a_violation() {
    let (witness, _) = assert_violation(
        vec![
            set(1, "j", "x", (0, 1)),
            set(1, "k", "a", (0, 1)),
            clear(2, (2, 3)),
            read(3, "j", None, (4, 5)),
            read(3, "k", Some("a"), (4, 5)),
        ],
        "k",
    );
    assert_eq!(witness, vec![1, 2, 4]);
}

#[test]
fn read_overlapping_a_delete_may_see_either_state() {
    for observed in [Some("a"), None] {
        assert_linearizable(vec![
            set(1, "k", "a", (0, 1)),
            delete(1, "k", (2, 10)),
            read(2, "k", observed, (3, 4)),
            read(2, "k", None, (11, 12)),
        ]);
    }
}

#[test]
fn operations_touching_at_one_instant_count_as_concurrent() {
    assert_linearizable(vec![set(1, "k", "a", (0, 5)), read(2, "k", None, (5, 6))]);
}

#[test]
fn keys_are_checked_independently() {
    // Interleaved in time; each key's story holds on its own.
    assert_linearizable(vec![
        set(1, "j", "x", (0, 10)),
        set(2, "k", "a", (0, 10)),
        read(3, "j", None, (1, 2)),
        read(3, "j", Some("x"), (3, 4)),
        read(4, "k", None, (1, 2)),
        read(4, "k", Some("a"), (3, 4)),
        read(4, "j", Some("x"), (5, 6)),
    ]);
    // A violation on "k" names "k" and only its operations.
    let (witness, _) = assert_violation(
        vec![
            set(1, "j", "x", (0, 1)),
            set(1, "k", "a", (0, 1)),
            read(2, "j", Some("x"), (2, 3)),
            read(2, "k", None, (2, 3)),
        ],
        "k",
    );
    assert_eq!(witness, vec![1, 3]);
}

#[test]
fn witness_of_a_buried_stale_read_is_small() {
    let mut ops = Vec::new();
    let mut time_ms = 0;
    for i in 0..100 {
        let key = if i % 4 == 3 { "other" } else { "k" };
        ops.push(set(
            1 + i % 3,
            key,
            &format!("v{i}"),
            (time_ms, time_ms + 2),
        ));
        ops.push(read(
            4,
            key,
            Some(&format!("v{i}")),
            (time_ms + 3, time_ms + 4),
        ));
        if i == 60 {
            // Stale: v58 was overwritten by v60 (v59 went to "other").
            ops.push(read(5, "k", Some("v58"), (time_ms + 3, time_ms + 4)));
        }
        time_ms += 5;
    }
    assert_eq!(ops.len(), 201);
    let verdict = check(&history(ops));
    let Verdict::Violation {
        key, operations, ..
    } = &verdict
    else {
        panic!("expected a violation")
    };
    assert_eq!(key, "k");
    assert!(operations.len() <= 4, "{verdict}");
    let kinds: Vec<String> = operations.iter().map(|op| op.kind.to_string()).collect();
    assert_eq!(
        kinds,
        vec![
            r#"set(k, "v58")"#,
            r#"set(k, "v60")"#,
            r#"read(k) -> "v58""#
        ]
    );
}

#[test]
fn violation_prints_one_operation_per_line_relative_to_the_first_invoke() {
    let mut ops = vec![
        set(1, "k1", "v6", (10, 11)),
        set(2, "k1", "v7", (12, 13)),
        unknown(set(2, "k1", "v8", (14, 15))),
        read(3, "k1", Some("v6"), (20, 21)),
    ];
    ops[1].complete_us += 551;
    let text = check(&history(ops)).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("not linearizable on key \"k1\": "),
        "{text}"
    );
    assert_eq!(
        &lines[2..],
        [
            r#"  client 1  [0.000ms .. 1.000ms]  set(k1, "v6")"#,
            r#"  client 2  [2.000ms .. 3.551ms]  set(k1, "v7")"#,
            r#"  client 3  [10.000ms .. 11.000ms]  read(k1) -> "v6""#,
        ],
        "{text}"
    );
}

#[test]
fn operations_round_trip_through_json() {
    let operation = Operation {
        id: 7,
        ..unknown(read(3, "k", None, (1, 2)))
    };
    let json = serde_json::to_string(&operation).unwrap();
    assert_eq!(
        json,
        r#"{"id":7,"client":3,"kind":{"read":{"key":"k","observed":null}},"invoke_us":1000,"complete_us":2000,"outcome":"unknown"}"#
    );
    assert_eq!(serde_json::from_str::<Operation>(&json).unwrap(), operation);
}

/// Builds a linearizable history by simulation: each client issues one
/// operation at a time, every operation that takes effect does so at a random
/// instant inside its interval (unknown writes possibly long after), and reads
/// return what a map applied in that order holds.
fn generated_history(seed: u64, clients: u64, keys: u64, operations: usize) -> Vec<Operation> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut clock_us = vec![0u64; clients as usize];
    // (effect instant or None if never, operation)
    let mut planned: Vec<(Option<u64>, Operation)> = Vec::with_capacity(operations);
    for id in 0..operations as u64 {
        let client = id % clients;
        let invoke_us = clock_us[client as usize] + rng.random_range(0..200);
        let complete_us = invoke_us + rng.random_range(50..3000);
        clock_us[client as usize] = complete_us;
        // Skewed towards low-numbered keys, so some keys are hot.
        let r: f64 = rng.random();
        let key = format!("k{}", (r * r * keys as f64) as u64);
        let kind = match rng.random_range(0..1000) {
            0 => OpKind::Clear,
            1..=100 => OpKind::Delete { key },
            101..=550 => OpKind::Set {
                key,
                value: format!("v{id}"),
            },
            _ => OpKind::Read {
                key,
                observed: None,
            },
        };
        let outcome = match rng.random_range(0..100) {
            0 => Outcome::Failed,
            1 | 2 => Outcome::Unknown,
            _ => Outcome::Ok,
        };
        let effect_us = match (&kind, outcome) {
            (_, Outcome::Failed) => None,
            (OpKind::Read { .. }, Outcome::Unknown) => None,
            (_, Outcome::Unknown) if rng.random_bool(0.5) => None,
            (_, Outcome::Unknown) => Some(rng.random_range(invoke_us..complete_us + 20_000)),
            _ => Some(rng.random_range(invoke_us..=complete_us)),
        };
        planned.push((
            effect_us,
            Operation {
                id,
                client,
                kind,
                invoke_us,
                complete_us,
                outcome,
            },
        ));
    }

    let mut order: Vec<usize> = (0..planned.len()).collect();
    order.sort_by_key(|&i| (planned[i].0, i));
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for i in order {
        let (effect_us, operation) = &mut planned[i];
        match (&mut operation.kind, effect_us) {
            (OpKind::Read { observed, .. }, None) => *observed = Some("garbage".into()),
            (_, None) => {}
            (OpKind::Set { key, value }, Some(_)) => drop(map.insert(key.clone(), value.clone())),
            (OpKind::Delete { key }, Some(_)) => drop(map.remove(key)),
            (OpKind::Clear, Some(_)) => map.clear(),
            (OpKind::Read { key, observed }, Some(_)) => *observed = map.get(key).cloned(),
        }
    }
    planned
        .into_iter()
        .map(|(_, operation)| operation)
        .collect()
}

#[test]
fn generated_sixty_second_history_is_linearizable() {
    let history = generated_history(7, 8, 100, 50_000);
    let started = std::time::Instant::now();
    let verdict = check(&history);
    eprintln!(
        "checked 50000 operations in {:?}: {verdict}",
        started.elapsed()
    );
    let Verdict::Linearizable { keys, operations } = verdict else {
        panic!("{verdict}")
    };
    assert!(keys > 50, "{keys} keys");
    assert!(operations > 49_000, "{operations} operations");
}

#[test]
fn read_from_the_future_in_a_generated_history_yields_a_two_operation_witness() {
    let mut history = generated_history(11, 8, 10, 5_000);
    // A read on the hottest key that returns a value set after it completed.
    let (read_index, complete_us) = history
        .iter()
        .enumerate()
        .find_map(|(i, op)| match &op.kind {
            OpKind::Read { key, .. } if key == "k0" && op.outcome == Outcome::Ok && i > 1000 => {
                Some((i, op.complete_us))
            }
            _ => None,
        })
        .unwrap();
    let future_value = history
        .iter()
        .find_map(|op| match &op.kind {
            OpKind::Set { key, value }
                if key == "k0" && op.outcome == Outcome::Ok && op.invoke_us > complete_us =>
            {
                Some(value.clone())
            }
            _ => None,
        })
        .unwrap();
    if let OpKind::Read { observed, .. } = &mut history[read_index].kind {
        *observed = Some(future_value.clone());
    }
    let verdict = check(&history);
    let Verdict::Violation {
        key, operations, ..
    } = &verdict
    else {
        panic!("expected a violation")
    };
    assert_eq!(key, "k0");
    assert_eq!(operations.len(), 2, "{verdict}");
    assert_eq!(operations[0].id, history[read_index].id, "{verdict}");
}
