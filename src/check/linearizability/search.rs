//! The search for a linearization of one key's history against a register.
//!
//! This is Wing & Gong's algorithm with Lowe's memoization, organised the way
//! Porcupine organises it. Every operation becomes two events, its call and its
//! return, kept in one doubly linked list sorted by time. The search walks the
//! list from the front: a call may be linearized next if the register model
//! accepts it in the current state; a return means the operation it closes
//! must already have been linearized, so the search backtracks. Linearizing an
//! operation lifts both of its events out of the list (dancing links), so the
//! front of the list is always "what may happen next". A configuration is the
//! set of operations linearized so far plus the register's value; since the
//! future depends on nothing else, a configuration met twice is explored once.
//!
//! At equal timestamps a call sorts before a return, so two operations that
//! touch at one microsecond count as concurrent: the checker gives the system
//! the benefit of the doubt rather than inventing an order the clock did not
//! see.

use std::collections::HashSet;

/// The register's value, interned: [`ABSENT`] or an index into the key's
/// value table. Interning keeps configurations small and comparisons cheap.
pub(super) type ValueId = u32;

/// The interned value of an absent key, which is also the register's initial
/// value: the history is assumed to start from an empty cache.
pub(super) const ABSENT: ValueId = 0;

/// A completion time later than every real one, for operations whose outcome
/// is unknown: they may take effect at any point after their call.
pub(super) const NEVER_US: u64 = u64::MAX;

/// What one operation does to the register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Access {
    /// Replace the value; a register accepts every write.
    Write(ValueId),
    /// Observe the value; accepted only if the register holds exactly it.
    Read(ValueId),
}

/// One operation of a single key's history, reduced to what the model needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RegisterOp {
    /// Position of the operation in the caller's list, echoed in results.
    pub origin: usize,
    /// Always `<= complete_us`.
    pub invoke_us: u64,
    /// [`NEVER_US`] when the operation may still take effect at any time.
    pub complete_us: u64,
    /// The register access the operation performs.
    pub access: Access,
}

/// Applies one access to the register, or refuses it: the whole model.
fn step(value: ValueId, access: Access) -> Option<ValueId> {
    match access {
        Access::Write(written) => Some(written),
        Access::Read(observed) => (observed == value).then_some(value),
    }
}

/// Searches for a linearization of `ops`.
///
/// Returns the `origin`s in linearization order on success. On failure it
/// returns the longest prefix of a linearization the search reached, if
/// `track_longest` is set (recording it costs a copy per new record, which is
/// cheap on a minimized witness and wasteful on a whole history), else nothing.
pub(super) fn search(ops: &[RegisterOp], track_longest: bool) -> Result<Vec<usize>, Vec<usize>> {
    let mut events = EventList::new(ops);
    let mut linearized = Bitset::new(ops.len());
    let mut seen: HashSet<Configuration> = HashSet::new();
    // Each frame: an operation linearized, and the register's value before it.
    let mut stack: Vec<(usize, ValueId)> = Vec::with_capacity(ops.len());
    let mut longest: Vec<usize> = Vec::new();
    let mut value = ABSENT;
    let mut node = events.first();

    let origins = |stack: &[(usize, ValueId)]| stack.iter().map(|&(op, _)| ops[op].origin).collect();
    loop {
        match events.event(node) {
            None => return Ok(origins(&stack)),
            Some(Event::Call(op)) => {
                if let Some(next_value) = step(value, ops[op].access) {
                    linearized.set(op);
                    if seen.insert(Configuration::new(&linearized, next_value)) {
                        stack.push((op, value));
                        value = next_value;
                        events.lift(op);
                        if track_longest && stack.len() > longest.len() {
                            longest = origins(&stack);
                        }
                        node = events.first();
                        continue;
                    }
                    linearized.clear(op);
                }
                node = events.next(node);
            }
            Some(Event::Return(_)) => {
                let Some((op, previous_value)) = stack.pop() else {
                    return Err(longest);
                };
                linearized.clear(op);
                value = previous_value;
                events.unlift(op);
                node = events.next(events.call_node[op]);
            }
        }
    }
}

/// One end of an operation's interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Call(usize),
    Return(usize),
}

/// The calls and returns of all operations not yet linearized, in time order.
///
/// Node 0 is the head sentinel and node `2n + 1` the tail sentinel, so lifting
/// and unlifting never special-case the ends. A lifted node keeps its own
/// links, which is what lets [`EventList::unlift`] put it back in O(1).
struct EventList {
    /// `next[node]`; the tail's entry is unused.
    next: Vec<usize>,
    /// `prev[node]`; the head's entry is unused.
    prev: Vec<usize>,
    /// The event at each node; `None` for both sentinels.
    event: Vec<Option<Event>>,
    /// The node holding each operation's call.
    call_node: Vec<usize>,
    /// The node holding each operation's return.
    return_node: Vec<usize>,
}

impl EventList {
    fn new(ops: &[RegisterOp]) -> Self {
        let n = ops.len();
        // (time, calls before returns, op): the sort order of the list.
        let mut order: Vec<(u64, u8, usize)> = Vec::with_capacity(2 * n);
        for (op, register_op) in ops.iter().enumerate() {
            assert!(
                register_op.invoke_us <= register_op.complete_us,
                "operation {} completes before it is invoked",
                register_op.origin
            );
            order.push((register_op.invoke_us, 0, op));
            order.push((register_op.complete_us, 1, op));
        }
        order.sort_unstable();

        let tail = 2 * n + 1;
        let mut list = EventList {
            next: (1..=tail + 1).collect(),
            prev: (0..=tail).map(|node| node.saturating_sub(1)).collect(),
            event: vec![None; tail + 1],
            call_node: vec![0; n],
            return_node: vec![0; n],
        };
        for (position, &(_, kind, op)) in order.iter().enumerate() {
            let node = position + 1;
            if kind == 0 {
                list.event[node] = Some(Event::Call(op));
                list.call_node[op] = node;
            } else {
                list.event[node] = Some(Event::Return(op));
                list.return_node[op] = node;
            }
        }
        list
    }

    fn first(&self) -> usize {
        self.next[0]
    }

    fn next(&self, node: usize) -> usize {
        self.next[node]
    }

    fn event(&self, node: usize) -> Option<Event> {
        self.event[node]
    }

    /// Removes both events of `op`; undone only by [`EventList::unlift`] of
    /// the same operation, in last-lifted-first-unlifted order.
    fn lift(&mut self, op: usize) {
        for node in [self.call_node[op], self.return_node[op]] {
            let (prev, next) = (self.prev[node], self.next[node]);
            self.next[prev] = next;
            self.prev[next] = prev;
        }
    }

    fn unlift(&mut self, op: usize) {
        for node in [self.return_node[op], self.call_node[op]] {
            let (prev, next) = (self.prev[node], self.next[node]);
            self.next[prev] = node;
            self.prev[next] = node;
        }
    }
}

/// The set of linearized operations, one bit per operation.
struct Bitset {
    words: Vec<u64>,
}

impl Bitset {
    fn new(len: usize) -> Self {
        Bitset { words: vec![0; len.div_ceil(64)] }
    }

    fn set(&mut self, bit: usize) {
        self.words[bit / 64] |= 1 << (bit % 64);
    }

    fn clear(&mut self, bit: usize) {
        self.words[bit / 64] &= !(1 << (bit % 64));
    }
}

/// A memoized configuration: linearized set and register value.
///
/// The set is stored compactly. A search over a long history linearizes
/// operations roughly in time order, so the set is a run of ones, a short
/// ragged window, then zeros; only the window is kept. This is what keeps
/// memory linear rather than quadratic on a long single-key history. The form
/// is canonical (a set has exactly one), so equality stays exact.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Configuration {
    /// Number of leading words that are all ones.
    full_words: u32,
    /// The words after those, without trailing all-zero words.
    window: Box<[u64]>,
    /// The register's value after the linearized operations.
    value: ValueId,
}

impl Configuration {
    fn new(linearized: &Bitset, value: ValueId) -> Self {
        let words = &linearized.words;
        let full_words = words.iter().take_while(|&&word| word == u64::MAX).count();
        let end = words
            .iter()
            .rposition(|&word| word != 0)
            .map_or(full_words, |last| (last + 1).max(full_words));
        Configuration {
            full_words: u32::try_from(full_words).expect("history fits in u32 words"),
            window: words[full_words..end].into(),
            value,
        }
    }
}
