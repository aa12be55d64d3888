//! Progress reporting from the core to whoever is watching.
//!
//! The core counts; the CLI decides whether to draw a bar (only on a terminal).

/// Receives progress from long operations. All methods may be called from several threads.
pub trait Progress: Sync {
    /// A phase begins with `total` units (bytes or items; 0 if unknown).
    fn start(&self, _phase: &str, _total: u64) {}
    /// `n` more units are done.
    fn advance(&self, _n: u64) {}
    /// `done` of `total` items (objects) are finished, for phases that count both bytes and items.
    fn items(&self, _done: u64, _total: u64) {}
    /// The phase is over.
    fn finish(&self) {}
    /// A message to show (a warning, a "waiting for lock" line).
    fn message(&self, _msg: &str) {}
}

/// Progress that goes nowhere.
pub struct Silent;
impl Progress for Silent {}
