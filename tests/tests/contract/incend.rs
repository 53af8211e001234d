//! Contract adapter for the `incend` crate: filled in by the vendor crate's work.
