//! Serde helpers for keys the reference never reads: a value of an unexpected shape is
//! dropped instead of failing the whole file, so we accept every file the reference
//! accepts.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// Deserializes `T`, falling back to `T::default()` when the value has another shape.
pub(crate) fn or_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    let value = toml::Value::deserialize(deserializer)?;
    Ok(value.try_into().unwrap_or_default())
}

/// Deserializes an optional table, treating any non-table value as absent.
pub(crate) fn table<'de, D>(deserializer: D) -> Result<Option<toml::Table>, D::Error>
where
    D: Deserializer<'de>,
{
    match toml::Value::deserialize(deserializer)? {
        toml::Value::Table(t) => Ok(Some(t)),
        _ => Ok(None),
    }
}
