//! Contract adapter for the `platformio` crate: filled in by the vendor crate's work.
