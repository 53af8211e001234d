//! Placeholder created by the lead so the workspace manifest parses; replaced by the intelepeer tests.
