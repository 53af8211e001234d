//! Client tests against the sandbox.
