//! Placeholder; see issue 5.
