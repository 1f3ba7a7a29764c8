//! Image labels (being written).
