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
//! One departure from Porcupine: writes whose outcome is unknown have no
//! return, and leaving them in the list would let each double the number of
//! configurations for the rest of the history. They "float" outside the list
//! instead and are linearized only right before a read that needs their value
//! (see [`Search`] for why that loses no linearization).
//!
//! At equal timestamps a call sorts before a return, so two operations that
//! touch at one microsecond count as concurrent: the checker gives the system
//! the benefit of the doubt rather than inventing an order the clock did not
//! see.

use std::collections::{HashMap, HashSet};

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
/// Returns the `origin`s in linearization order on success; floating writes
/// left out of it did not take effect. On failure it returns the longest
/// prefix of a linearization the search reached, if `track_longest` is set
/// (recording it costs a copy per new record, which is cheap on a minimized
/// witness and wasteful on a whole history), else nothing.
pub(super) fn search(ops: &[RegisterOp], track_longest: bool) -> Result<Vec<usize>, Vec<usize>> {
    // Mandatory operations first, so their indices are dense bit positions.
    let mut ordered: Vec<RegisterOp> = ops
        .iter()
        .filter(|op| op.complete_us != NEVER_US)
        .copied()
        .collect();
    let mandatory_count = ordered.len();
    ordered.extend(ops.iter().filter(|op| op.complete_us == NEVER_US));
    let mut search = Search::new(&ordered, mandatory_count, track_longest);
    let found = search.run();
    if found {
        Ok(search_origins(&ordered, &search.stack))
    } else {
        Err(search.longest)
    }
}

/// An operation the search linearized, and what undoing it needs.
#[derive(Clone, Copy, Debug)]
struct Frame {
    /// The mandatory operation linearized.
    op: usize,
    /// The floating write linearized just before it, if the read needed one.
    floating: Option<usize>,
    /// The register's value before either.
    value_before: ValueId,
}

/// The origins of the operations in `stack`, in linearization order.
fn search_origins(ops: &[RegisterOp], stack: &[Frame]) -> Vec<usize> {
    stack
        .iter()
        .flat_map(|frame| frame.floating.into_iter().chain([frame.op]))
        .map(|op| ops[op].origin)
        .collect()
}

/// The state of one search.
///
/// Floating writes (those with [`NEVER_US`] completion) are not in the event
/// list, or they would sit in every frontier and multiply the configurations
/// by two for each one pending. A floating write that takes effect matters
/// only if the next operation is a read of its value (if a write or nothing
/// follows, it can be dropped; if the register already held its value, it
/// changed nothing), so it is linearized only as the prefix of a read that
/// the register's value would refuse. Floating writes of one value are
/// interchangeable once invoked, so the earliest unused one is taken.
struct Search<'a> {
    /// Mandatory operations, then floating writes.
    ops: &'a [RegisterOp],
    /// Where the floating writes start in `ops`.
    mandatory_count: usize,
    /// Calls and returns of the mandatory operations not yet linearized.
    events: EventList,
    /// Mandatory operations linearized, by index into `ops`.
    linearized: Bitset,
    /// Floating writes linearized, by index into `ops` minus `mandatory_count`.
    floated: Bitset,
    /// Per value, its floating writers in invoke order.
    floating_writers: HashMap<ValueId, Vec<usize>>,
    seen: HashSet<Configuration>,
    stack: Vec<Frame>,
    track_longest: bool,
    longest: Vec<usize>,
}

impl<'a> Search<'a> {
    fn new(ops: &'a [RegisterOp], mandatory_count: usize, track_longest: bool) -> Self {
        let mut floating_writers: HashMap<ValueId, Vec<usize>> = HashMap::new();
        for (op, register_op) in ops.iter().enumerate().skip(mandatory_count) {
            match register_op.access {
                Access::Write(value) => floating_writers.entry(value).or_default().push(op),
                Access::Read(_) => panic!("read {} has no completion", register_op.origin),
            }
        }
        for writers in floating_writers.values_mut() {
            writers.sort_by_key(|&op| (ops[op].invoke_us, op));
        }
        Search {
            ops,
            mandatory_count,
            events: EventList::new(&ops[..mandatory_count]),
            linearized: Bitset::new(mandatory_count),
            floated: Bitset::new(ops.len() - mandatory_count),
            floating_writers,
            seen: HashSet::new(),
            stack: Vec::with_capacity(ops.len()),
            track_longest,
            longest: Vec::new(),
        }
    }

    /// Runs the search to the end; true if every mandatory operation was
    /// linearized, with the linearization left on the stack.
    fn run(&mut self) -> bool {
        let mut value = ABSENT;
        let mut node = self.events.first();
        loop {
            match self.events.event(node) {
                None => return true,
                Some(Event::Call(op)) => {
                    if let Some((frame, next_value)) = self.try_linearize(op, node, value) {
                        self.stack.push(frame);
                        value = next_value;
                        self.events.lift(op);
                        if self.track_longest && self.stack.len() > self.longest.len() {
                            self.longest = search_origins(self.ops, &self.stack);
                        }
                        node = self.events.first();
                    } else {
                        node = self.events.next(node);
                    }
                }
                Some(Event::Return(_)) => {
                    let Some(frame) = self.stack.pop() else {
                        return false;
                    };
                    self.linearized.clear(frame.op);
                    if let Some(floating) = frame.floating {
                        self.floated.clear(floating - self.mandatory_count);
                    }
                    value = frame.value_before;
                    self.events.unlift(frame.op);
                    node = self.events.next(self.events.call_node[frame.op]);
                }
            }
        }
    }

    /// Linearizes `op` (whose call is at `node`) next if the model accepts it,
    /// with a floating write before it if a read needs one, and if the
    /// resulting configuration is new. Leaves the bitsets as they were if not.
    /// Returns the frame to push and the register's value after it.
    fn try_linearize(
        &mut self,
        op: usize,
        node: usize,
        value: ValueId,
    ) -> Option<(Frame, ValueId)> {
        let access = self.ops[op].access;
        let (next_value, floating) = match (step(value, access), access) {
            (Some(next_value), _) => (next_value, None),
            (None, Access::Read(observed)) => {
                (observed, Some(self.floating_writer(observed, node)?))
            }
            (None, Access::Write(_)) => unreachable!("a register accepts every write"),
        };
        self.linearized.set(op);
        if let Some(floating) = floating {
            self.floated.set(floating - self.mandatory_count);
        }
        if self.seen.insert(Configuration::new(
            &self.linearized,
            &self.floated,
            next_value,
        )) {
            return Some((
                Frame {
                    op,
                    floating,
                    value_before: value,
                },
                next_value,
            ));
        }
        self.linearized.clear(op);
        if let Some(floating) = floating {
            self.floated.clear(floating - self.mandatory_count);
        }
        None
    }

    /// The earliest-invoked unused floating writer of `value`, if it can take
    /// effect now: invoked no later than the first return still in the list,
    /// which is at or after `node` (everything before `node` is a call).
    fn floating_writer(&self, value: ValueId, node: usize) -> Option<usize> {
        let writers = self.floating_writers.get(&value)?;
        let writer = *writers
            .iter()
            .find(|&&writer| !self.floated.get(writer - self.mandatory_count))?;
        let mut first_return = node;
        let frontier_us = loop {
            match self.events.event(first_return) {
                Some(Event::Return(op)) => break self.ops[op].complete_us,
                Some(Event::Call(_)) => first_return = self.events.next(first_return),
                None => unreachable!("a call's return follows it in the list"),
            }
        };
        (self.ops[writer].invoke_us <= frontier_us).then_some(writer)
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

/// A set of operations, one bit per operation, that knows its own extent.
///
/// The extent is kept up to date on every change so that taking a
/// [`Configuration`] costs the size of the window, not of the history.
struct Bitset {
    words: Vec<u64>,
    /// Number of leading words that are all ones.
    full_words: usize,
    /// One past the last nonzero word; `>= full_words`.
    end_words: usize,
}

impl Bitset {
    fn new(len: usize) -> Self {
        Bitset {
            words: vec![0; len.div_ceil(64)],
            full_words: 0,
            end_words: 0,
        }
    }

    fn set(&mut self, bit: usize) {
        let word = bit / 64;
        self.words[word] |= 1 << (bit % 64);
        self.end_words = self.end_words.max(word + 1);
        while self.full_words < self.words.len() && self.words[self.full_words] == u64::MAX {
            self.full_words += 1;
        }
    }

    fn clear(&mut self, bit: usize) {
        let word = bit / 64;
        self.words[word] &= !(1 << (bit % 64));
        self.full_words = self.full_words.min(word);
        while self.end_words > 0 && self.words[self.end_words - 1] == 0 {
            self.end_words -= 1;
        }
    }

    fn get(&self, bit: usize) -> bool {
        self.words[bit / 64] & (1 << (bit % 64)) != 0
    }

    /// The words between the leading ones and the trailing zeros.
    fn window(&self) -> &[u64] {
        &self.words[self.full_words..self.end_words.max(self.full_words)]
    }
}

/// A memoized configuration: linearized sets and register value.
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
    /// The floating writes linearized, without trailing all-zero words.
    floated: Box<[u64]>,
    /// The register's value after the linearized operations.
    value: ValueId,
}

impl Configuration {
    fn new(linearized: &Bitset, floated: &Bitset, value: ValueId) -> Self {
        Configuration {
            full_words: u32::try_from(linearized.full_words).expect("history fits in u32 words"),
            window: linearized.window().into(),
            floated: floated.words[..floated.end_words].into(),
            value,
        }
    }
}
