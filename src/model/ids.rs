//! Newtype ids: simulation state is kept in vectors indexed by these, never
//! in hash maps, so iteration order is fixed.

macro_rules! id {
    ($(#[$doc:meta])* $name:ident, $inner:ty) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub $inner);

        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
            /// Panics if the index does not fit: callers keep counts within
            /// the limits `resolve` enforces.
            pub fn from_index(i: usize) -> Self {
                $name(<$inner>::try_from(i).expect("id within the limits enforced by resolve"))
            }
        }
    };
}

id!(/// A region of the topology.
    RegionId, u16);
id!(/// A service of the topology.
    ServiceId, u32);
id!(/// A request flow of the topology.
    FlowId, u16);
id!(/// An asynchronous queue of the topology.
    QueueId, u32);
