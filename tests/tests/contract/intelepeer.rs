//! Contract adapter for the `intelepeer` crate: filled in by the vendor crate's work.
