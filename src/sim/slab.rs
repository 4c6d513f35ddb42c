//! A free-list arena for in-flight calls, tasks and charge records: no
//! allocation per request once warm, and epochs to recognise stale events.

/// A free-list arena: slots are reused, and each reuse bumps the slot's
/// epoch so events about a previous occupant are recognised and dropped.
pub(crate) struct Slab<T> {
    pub(crate) slots: Vec<T>,
    pub(crate) free: Vec<u32>,
}

impl<T: Default> Slab<T> {
    pub(crate) fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    /// A free slot's index (its content is the previous occupant's).
    pub(crate) fn alloc(&mut self) -> u32 {
        match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(T::default());
                (self.slots.len() - 1) as u32
            }
        }
    }

    pub(crate) fn in_use(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}
