//! Contract adapter for the `ipaas-com` crate: filled in by the vendor crate's work.
