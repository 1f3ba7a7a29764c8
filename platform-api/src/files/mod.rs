//! Platform files (being written).
