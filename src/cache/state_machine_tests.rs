//! Scenario tests for [`Cache`]: every clock reading is an explicit `now_ms`.

use std::sync::Arc;

use super::{ApplyOutcome, Cache, CacheStats, CachedValue, Command};

const T0_MS: u64 = 1_700_000_000_000;

fn set(key: &str, value: &str, expires_at_ms: Option<u64>) -> Command {
    Command::Set {
        key: key.to_owned(),
        value: value.to_owned(),
        expires_at_ms,
    }
}

fn delete(key: &str) -> Command {
    Command::Delete {
        key: key.to_owned(),
    }
}

/// Applies commands at consecutive indexes starting after the cache's current
/// applied index, all at `now_ms`.
fn apply_all(cache: &Cache, commands: &[Command], now_ms: u64) -> Vec<ApplyOutcome> {
    commands
        .iter()
        .map(|command| cache.apply(cache.applied_index() + 1, command, now_ms))
        .collect()
}

/// Everything a reader at `now_ms` can see, in key order, without touching
/// the hit and miss counters.
fn visible(cache: &Cache, now_ms: u64) -> Vec<(String, String)> {
    cache
        .keys(now_ms)
        .into_iter()
        .map(|key| {
            let value = cache.get(&key, now_ms).expect("listed key is readable");
            (key, value.value.to_string())
        })
        .collect()
}

fn value_of(cache: &Cache, key: &str, now_ms: u64) -> Option<String> {
    cache.get(key, now_ms).map(|value| value.value.to_string())
}

#[test]
fn cache_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Cache>();
    assert_send_sync::<Arc<Cache>>();
}

#[test]
fn set_then_get_returns_the_json_text_verbatim() {
    let cache = Cache::new();
    let outcome = cache.apply(1, &set("a", r#"{"n": [1, 2]}"#, None), T0_MS);
    assert_eq!(outcome, ApplyOutcome::Stored { created: true });
    assert_eq!(
        value_of(&cache, "a", T0_MS).as_deref(),
        Some(r#"{"n": [1, 2]}"#)
    );
    assert_eq!(cache.applied_index(), 1);
}

#[test]
fn overwrite_replaces_the_value_and_is_not_a_creation() {
    let cache = Cache::new();
    cache.apply(1, &set("a", "1", None), T0_MS);
    let outcome = cache.apply(2, &set("a", "2", None), T0_MS);
    assert_eq!(outcome, ApplyOutcome::Stored { created: false });
    assert_eq!(value_of(&cache, "a", T0_MS).as_deref(), Some("2"));
}

#[test]
fn overwrite_can_remove_an_expiry() {
    let cache = Cache::new();
    cache.apply(1, &set("a", "1", Some(T0_MS + 10)), T0_MS);
    cache.apply(2, &set("a", "2", None), T0_MS);
    assert_eq!(
        value_of(&cache, "a", T0_MS + 1_000_000).as_deref(),
        Some("2")
    );
}

#[test]
fn ttl_key_is_visible_until_the_expiry_millisecond() {
    let cache = Cache::new();
    cache.apply(1, &set("a", "1", Some(T0_MS + 5_000)), T0_MS);
    assert!(cache.get("a", T0_MS + 4_999).is_some());
    assert!(cache.get("a", T0_MS + 5_000).is_none());
    assert!(cache.get("a", T0_MS + 5_001).is_none());
}

#[test]
fn ttl_remaining_counts_down_to_zero() {
    let value = CachedValue {
        value: Arc::from("1"),
        expires_at_ms: Some(T0_MS + 1_500),
    };
    assert_eq!(value.ttl_remaining_ms(T0_MS), Some(1_500));
    assert_eq!(value.ttl_remaining_ms(T0_MS + 2_000), Some(0));
    let forever = CachedValue {
        value: Arc::from("1"),
        expires_at_ms: None,
    };
    assert_eq!(forever.ttl_remaining_ms(T0_MS), None);
}

#[test]
fn set_applied_after_its_expiry_is_stored_but_invisible() {
    let cache = Cache::new();
    let outcome = cache.apply(1, &set("a", "1", Some(T0_MS)), T0_MS + 10);
    assert_eq!(outcome, ApplyOutcome::Stored { created: true });
    // Stored all the same: a reader whose clock is earlier still sees it, as
    // it would on a replica that applied the entry in time.
    assert_eq!(value_of(&cache, "a", T0_MS - 1).as_deref(), Some("1"));
    assert!(cache.keys(T0_MS + 10).is_empty());
    assert!(cache.get("a", T0_MS + 10).is_none());
}

#[test]
fn delete_of_a_live_key_reports_it_existed() {
    let cache = Cache::new();
    cache.apply(1, &set("a", "1", None), T0_MS);
    assert_eq!(
        cache.apply(2, &delete("a"), T0_MS),
        ApplyOutcome::Deleted { existed: true }
    );
    assert!(cache.get("a", T0_MS).is_none());
}

#[test]
fn delete_of_an_absent_or_expired_key_reports_it_did_not_exist() {
    let cache = Cache::new();
    cache.apply(1, &set("old", "1", Some(T0_MS + 10)), T0_MS);
    let outcomes = apply_all(&cache, &[delete("never"), delete("old")], T0_MS + 10);
    assert_eq!(
        outcomes,
        vec![
            ApplyOutcome::Deleted { existed: false },
            ApplyOutcome::Deleted { existed: false },
        ]
    );
    assert_eq!(cache.stats(T0_MS + 10).approx_bytes, 0);
}

#[test]
fn clear_counts_only_live_keys_and_removes_everything() {
    let cache = Cache::new();
    apply_all(
        &cache,
        &[
            set("live1", "1", None),
            set("live2", "2", Some(T0_MS + 1_000)),
            set("expired", "3", Some(T0_MS + 100)),
        ],
        T0_MS,
    );
    let outcome = cache.apply(4, &Command::Clear, T0_MS + 500);
    assert_eq!(outcome, ApplyOutcome::Cleared { removed: 2 });
    // Nothing is left, not even for a reader with an earlier clock.
    assert!(cache.keys(T0_MS).is_empty());
    assert_eq!(cache.stats(T0_MS).approx_bytes, 0);
}

#[test]
fn replicas_applying_at_different_times_show_the_same_state() {
    let commands = [
        set("a", "1", Some(T0_MS + 1_000)),
        set("b", "2", None),
        set("c", "3", Some(T0_MS + 3_000)),
        delete("b"),
        set("d", "4", Some(T0_MS + 2_000)),
        set("a", "5", Some(T0_MS + 4_000)),
    ];
    let prompt = Cache::new();
    let late = Cache::new();
    for (offset, command) in commands.iter().enumerate() {
        let index = offset as u64 + 1;
        prompt.apply(index, command, T0_MS + index);
        // The late replica applies everything long after every expiry.
        late.apply(index, command, T0_MS + 10_000 + index);
    }
    for read_ms in [
        T0_MS,
        T0_MS + 1_500,
        T0_MS + 2_500,
        T0_MS + 3_500,
        T0_MS + 5_000,
    ] {
        assert_eq!(
            visible(&prompt, read_ms),
            visible(&late, read_ms),
            "at {read_ms}"
        );
    }
    assert_eq!(
        visible(&late, T0_MS + 2_500),
        vec![
            ("a".to_owned(), "5".to_owned()),
            ("c".to_owned(), "3".to_owned())
        ]
    );
    assert_eq!(prompt.snapshot(), late.snapshot());
}

#[test]
fn keys_are_sorted_and_exclude_expired() {
    let cache = Cache::new();
    apply_all(
        &cache,
        &[
            set("pear", "1", None),
            set("apple", "2", None),
            set("fig", "3", Some(T0_MS + 10)),
            set("banana", "4", Some(T0_MS + 1_000)),
        ],
        T0_MS,
    );
    assert_eq!(cache.keys(T0_MS), ["apple", "banana", "fig", "pear"]);
    assert_eq!(cache.keys(T0_MS + 10), ["apple", "banana", "pear"]);
    assert_eq!(cache.len_live(T0_MS + 10), 3);
    assert_eq!(cache.len_live(T0_MS + 1_000), 2);
}

#[test]
fn purge_drops_only_expired_entries_and_changes_nothing_visible() {
    let cache = Cache::new();
    apply_all(
        &cache,
        &[
            set("a", "1", Some(T0_MS + 10)),
            set("b", "2", Some(T0_MS + 20)),
            set("c", "3", None),
        ],
        T0_MS,
    );
    let before = visible(&cache, T0_MS + 15);
    assert_eq!(cache.purge_expired(T0_MS + 15), 1);
    assert_eq!(visible(&cache, T0_MS + 15), before);
    assert_eq!(cache.purge_expired(T0_MS + 15), 0);
    assert_eq!(cache.purge_expired(T0_MS + 100), 1);
    assert_eq!(cache.keys(T0_MS), ["c"]);
    assert_eq!(cache.stats(T0_MS + 100).expirations, 2);
}

#[test]
fn an_expired_entry_is_counted_once_whoever_drops_it() {
    let cache = Cache::new();
    cache.apply(1, &set("a", "1", Some(T0_MS + 10)), T0_MS);
    assert!(cache.get("a", T0_MS + 10).is_none());
    assert!(cache.get("a", T0_MS + 11).is_none());
    assert_eq!(cache.purge_expired(T0_MS + 12), 0);
    let stats = cache.stats(T0_MS + 12);
    assert_eq!((stats.misses, stats.expirations), (2, 1));
}

#[test]
fn stats_count_reads_commands_and_bytes() {
    let cache = Cache::new();
    apply_all(
        &cache,
        &[
            set("ab", "123", None),
            set("cd", "4", Some(T0_MS + 10)),
            set("ab", "12", None),
            delete("nope"),
        ],
        T0_MS,
    );
    cache.note_applied(5);
    assert!(cache.get("ab", T0_MS).is_some());
    assert!(cache.get("nope", T0_MS).is_none());
    assert!(cache.get("cd", T0_MS + 10).is_none());
    assert_eq!(
        cache.stats(T0_MS + 10),
        CacheStats {
            keys: 1,
            hits: 1,
            misses: 2,
            sets: 3,
            deletes: 1,
            clears: 0,
            expirations: 1,
            evictions: 0,
            approx_bytes: 4,
            applied_index: 5,
        }
    );
    cache.apply(6, &Command::Clear, T0_MS + 10);
    let stats = cache.stats(T0_MS + 10);
    assert_eq!((stats.clears, stats.keys, stats.approx_bytes), (1, 0, 0));
}

#[test]
fn stats_serialize_with_the_api_field_names() {
    let json = serde_json::to_value(Cache::new().stats(T0_MS)).unwrap();
    for field in [
        "keys",
        "hits",
        "misses",
        "sets",
        "deletes",
        "clears",
        "expirations",
        "evictions",
        "approx_bytes",
        "applied_index",
    ] {
        assert_eq!(json[field], 0, "{field}");
    }
}

#[test]
fn snapshot_restores_entries_expiries_and_applied_index() {
    let source = Cache::new();
    apply_all(
        &source,
        &[
            set("b", r#""two""#, Some(T0_MS + 1_000)),
            set("a", "[1]", None),
            set("gone", "0", Some(T0_MS + 5)),
        ],
        T0_MS,
    );
    source.note_applied(4);
    let bytes = source.snapshot();

    let target = Cache::new();
    target.apply(1, &set("stale", "x", None), T0_MS);
    target.restore(&bytes).unwrap();

    assert_eq!(target.applied_index(), 4);
    for read_ms in [T0_MS, T0_MS + 5, T0_MS + 1_000] {
        assert_eq!(visible(&target, read_ms), visible(&source, read_ms));
    }
    assert_eq!(target.snapshot(), bytes);
    // Applying continues from the snapshot's index.
    target.apply(5, &delete("a"), T0_MS);
    assert_eq!(target.keys(T0_MS), ["b", "gone"]);
}

#[test]
fn undecodable_snapshot_leaves_the_cache_untouched() {
    let cache = Cache::new();
    cache.apply(1, &set("a", "1", None), T0_MS);
    assert!(cache.restore(&[0xff, 0xff, 0xff]).is_err());
    assert_eq!(cache.keys(T0_MS), ["a"]);
    assert_eq!(cache.applied_index(), 1);
}

#[test]
fn no_op_entries_advance_the_applied_index() {
    let cache = Cache::new();
    cache.note_applied(1);
    cache.apply(2, &set("a", "1", None), T0_MS);
    cache.note_applied(3);
    assert_eq!(cache.applied_index(), 3);
}

#[test]
#[should_panic(expected = "applied index must increase: got 2 after 2")]
fn applying_an_index_twice_is_a_bug() {
    let cache = Cache::new();
    cache.apply(1, &set("a", "1", None), T0_MS);
    cache.apply(2, &set("a", "2", None), T0_MS);
    cache.apply(2, &set("a", "3", None), T0_MS);
}

#[test]
#[should_panic(expected = "applied index must increase: got 0 after 0")]
fn index_zero_is_never_applied() {
    Cache::new().note_applied(0);
}

#[test]
fn lazy_drops_by_readers_never_remove_a_fresh_value() {
    // Readers at T0+50 keep finding an expired value under "k" and dropping
    // it, while the applier alternates expired (even index) and live (odd
    // index) sets of "k". A drop that did not re-check under the write lock
    // would sometimes remove the live value the applier just stored.
    let read_ms = T0_MS + 50;
    let cache = Arc::new(Cache::new());
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let cache = Arc::clone(&cache);
            std::thread::spawn(move || {
                for _ in 0..5_000 {
                    let _ = cache.get("k", read_ms);
                    let _ = cache.keys(read_ms);
                }
            })
        })
        .collect();
    for index in 1..=5_000u64 {
        let live = index % 2 == 1;
        let expires_at_ms = if live { T0_MS + 100 } else { T0_MS + 10 };
        cache.apply(
            index,
            &set("k", &index.to_string(), Some(expires_at_ms)),
            T0_MS,
        );
        if live {
            assert_eq!(
                value_of(&cache, "k", read_ms),
                Some(index.to_string()),
                "live value set at index {index} vanished"
            );
        }
    }
    for reader in readers {
        reader.join().unwrap();
    }
    assert_eq!(cache.applied_index(), 5_000);
}
