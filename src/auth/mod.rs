//! Authentication back ends.
