//! Phase flags (being written).
