//! Contract adapter for the `iqm` crate: filled in by the vendor crate's work.
