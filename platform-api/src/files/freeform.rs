//! Free-form values (layer metadata, `store.toml` data, project source data) held the
//! way the reference holds them: as Go's `any`, i.e. JSON-like values. Objects are kept
//! sorted by key, the order in which the reference writes maps in both JSON and TOML.

use buildpack_api::gotoml;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Number, Value};

/// The key under which the `toml` crate hands a datetime to a generic deserializer.
const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";

/// Converts a TOML value to what the reference's JSON encoding of the same decoded value
/// contains: tables sorted by key, datetimes as RFC 3339 strings.
pub fn from_toml(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::Number((*i).into()),
        toml::Value::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(dt) => Value::String(datetime_json(dt)),
        toml::Value::Array(items) => Value::Array(items.iter().map(from_toml).collect()),
        toml::Value::Table(table) => Value::Object(from_toml_table(table)),
    }
}

/// [`from_toml`] for a table.
pub fn from_toml_table(table: &toml::Table) -> Map<String, Value> {
    let mut map: Map<String, Value> = table
        .iter()
        .map(|(k, v)| (k.clone(), from_toml(v)))
        .collect();
    map.sort_keys();
    map
}

/// What the reference's JSON decoding into `any` does to numbers: every number becomes
/// a float. (So layer metadata `count = 5` read back from an image label is written to
/// `analyzed.toml` and restored as `count = 5.0`, exactly as the reference does.)
pub fn numbers_to_floats(value: &mut Value) {
    match value {
        Value::Number(n) if !n.is_f64() => {
            if let Some(f) = n.as_f64().and_then(Number::from_f64) {
                *n = f;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(numbers_to_floats),
        Value::Object(map) => map.values_mut().for_each(numbers_to_floats),
        _ => {}
    }
}

/// Serde helper: reads a free-form value from JSON or TOML (`null` and a missing key
/// are `Null`), sorting objects and turning TOML datetimes into strings.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
    let mut value = Value::deserialize(deserializer)?;
    normalize(&mut value);
    Ok(value)
}

/// Serde helper: like [`deserialize`] for a value that must be a table (`null` is an
/// empty one).
pub fn deserialize_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Map<String, Value>, D::Error> {
    match deserialize(deserializer)? {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        other => Err(D::Error::custom(format!(
            "expected a table, found {}",
            kind(&other)
        ))),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a table",
    }
}

fn normalize(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(normalize),
        Value::Object(map) => {
            if let Some(text) = toml_datetime(map) {
                *value = Value::String(text);
                return;
            }
            map.values_mut().for_each(normalize);
            map.sort_keys();
        }
        _ => {}
    }
}

/// The JSON text of a datetime the `toml` deserializer presented as a one-key map.
fn toml_datetime(map: &Map<String, Value>) -> Option<String> {
    if map.len() != 1 {
        return None;
    }
    let text = map.get(TOML_DATETIME_KEY)?.as_str()?;
    text.parse::<toml::value::Datetime>()
        .ok()
        .map(|dt| datetime_json(&dt))
}

/// A TOML datetime as Go's `time.Time` marshals to JSON (RFC 3339 with nanoseconds).
/// The reference decodes local datetimes, dates and times into UTC times on day
/// 0000-01-01 where the date is missing, so those get `Z` and the missing parts filled.
fn datetime_json(dt: &toml::value::Datetime) -> String {
    let full = toml::value::Datetime {
        date: Some(dt.date.unwrap_or(toml::value::Date {
            year: 0,
            month: 1,
            day: 1,
        })),
        time: Some(dt.time.unwrap_or(toml::value::Time {
            hour: 0,
            minute: 0,
            second: Some(0),
            nanosecond: None,
        })),
        offset: Some(dt.offset.unwrap_or(toml::value::Offset::Z)),
    };
    gotoml::format_datetime(&full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_to_json_sorts_and_formats_datetimes() {
        let table: toml::Table = toml::from_str(
            "z = 1\na = 1979-05-27T07:32:00.120-07:00\nm = { y = 2, b = [1.5, \"x\"] }\nd = 1979-05-27\nt = 07:32:00\n",
        )
        .unwrap();
        let json = Value::Object(from_toml_table(&table));
        assert_eq!(
            json.to_string(),
            r#"{"a":"1979-05-27T07:32:00.12-07:00","d":"1979-05-27T00:00:00Z","m":{"b":[1.5,"x"],"y":2},"t":"0000-01-01T07:32:00Z","z":1}"#
        );
    }

    #[test]
    fn deserializing_from_toml_matches_conversion() {
        #[derive(Deserialize)]
        struct Doc {
            #[serde(deserialize_with = "deserialize")]
            data: Value,
            #[serde(default, deserialize_with = "deserialize_map")]
            map: Map<String, Value>,
        }
        let text = "[data]\nwhen = 2020-01-01T00:00:00Z\nb = 1\na = [{ y = 1, x = 2 }]\n";
        let doc: Doc = toml::from_str(text).unwrap();
        assert_eq!(
            doc.data.to_string(),
            r#"{"a":[{"x":2,"y":1}],"b":1,"when":"2020-01-01T00:00:00Z"}"#
        );
        assert!(doc.map.is_empty());
        let doc: Doc = serde_json::from_str(r#"{"data":null,"map":null}"#).unwrap();
        assert_eq!(doc.data, Value::Null);
        assert!(serde_json::from_str::<Doc>(r#"{"data":1,"map":"x"}"#).is_err());
    }

    #[test]
    fn numbers_become_floats_like_go_any() {
        let mut v: Value = serde_json::from_str(r#"{"a":[1,{"b":-2}],"c":1.5,"d":"3"}"#).unwrap();
        numbers_to_floats(&mut v);
        assert_eq!(v.to_string(), r#"{"a":[1.0,{"b":-2.0}],"c":1.5,"d":"3"}"#);
    }
}
