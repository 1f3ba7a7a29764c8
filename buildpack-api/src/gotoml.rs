//! A TOML writer whose output is byte-for-byte what the reference lifecycle's encoder
//! (BurntSushi/toml) writes for the same data, so files such as `group.toml`,
//! `plan.toml`, `analyzed.toml` and `metadata.toml` look exactly like the reference's.
//!
//! The rules it follows:
//! - struct fields keep their declaration order; map keys are sorted (bytewise);
//! - within a table, plain key/values come first, then sub-tables and arrays of tables;
//! - every nesting level below the top indents keys and headers by two spaces;
//! - a blank line precedes top-level `[table]` headers and every `[[array]]` header;
//! - `None` and unit values are left out (like Go's nil), empty arrays are written `[]`;
//! - arrays that are not all tables are written inline, with inline `{k = v}` tables;
//! - floats use Go's shortest `%g` form plus `.0` when it has no point or exponent;
//! - TOML datetimes are written in Go's RFC 3339 form (fraction without trailing zeros).
//!
//! Map types (any `serialize_map`, e.g. `toml::Table`, `BTreeMap`, `serde_json::Map`)
//! are sorted, structs are not, exactly as Go treats maps and structs. Consequently a
//! struct using `#[serde(flatten)]` (which serde turns into a map) is sorted too.

use std::fmt::Write as _;

use serde::ser::{self, Serialize};

/// Why a value cannot be written as TOML (messages as the reference's encoder words them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An array holds a `None`/null element, which TOML cannot express.
    #[error("toml: cannot encode array with nil element")]
    NilArrayElement,
    /// A map key is not a string.
    #[error("toml: cannot encode a map with non-string key type")]
    NonStringKey,
    /// The top-level value is not a struct or map.
    #[error("toml: top-level values must be Go maps or structs")]
    NoKey,
    /// A value's own `Serialize` implementation failed, or it is of a kind TOML lacks.
    #[error("toml: {0}")]
    Custom(String),
}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::Custom(msg.to_string())
    }
}

/// Writes `value` (a struct or map) as TOML text, exactly as the reference would.
pub fn to_string<T: ?Sized + Serialize>(value: &T) -> Result<String, Error> {
    match value.serialize(NodeSerializer::default())? {
        Node::Table(entries) => {
            let mut w = Writer::default();
            w.table_body(&[], &entries)?;
            Ok(w.out)
        }
        _ => Err(Error::NoKey),
    }
}

/// Wraps a string or list of strings that the reference writes through Go's
/// `json.Marshal` inside TOML (process commands in `metadata.toml`): such strings get
/// JSON escaping, including `\u003c`, `\u003e` and `\u0026` for `<`, `>` and `&`.
/// With any other serializer the wrapper is transparent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonQuoted<T>(pub T);

/// Newtype-struct name by which [`JsonQuoted`] signals itself to this serializer.
const JSON_QUOTED: &str = "$__gotoml_json_quoted";
/// Struct name the `toml` crate serializes a `Datetime` with.
const DATETIME_STRUCT: &str = "$__toml_private_Datetime";
/// The single field of that struct, holding the datetime's text.
const DATETIME_FIELD: &str = "$__toml_private_datetime";

impl<T: Serialize> Serialize for JsonQuoted<T> {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct(JSON_QUOTED, &self.0)
    }
}

/// Writes a TOML datetime the way Go formats the `time.Time` it decodes to: `T` as the
/// separator, seconds always present, the fraction without trailing zeros, `Z` for a
/// zero offset.
pub fn format_datetime(dt: &toml::value::Datetime) -> String {
    let mut s = String::new();
    if let Some(d) = &dt.date {
        let _ = write!(s, "{:04}-{:02}-{:02}", d.year, d.month, d.day);
    }
    if let Some(t) = &dt.time {
        if dt.date.is_some() {
            s.push('T');
        }
        let _ = write!(
            s,
            "{:02}:{:02}:{:02}",
            t.hour,
            t.minute,
            t.second.unwrap_or(0)
        );
        let nanos = t.nanosecond.unwrap_or(0);
        if nanos > 0 {
            let frac = format!("{nanos:09}");
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
    }
    match dt.offset {
        Some(toml::value::Offset::Z) | Some(toml::value::Offset::Custom { minutes: 0 }) => {
            s.push('Z')
        }
        Some(toml::value::Offset::Custom { minutes }) => {
            let sign = if minutes < 0 { '-' } else { '+' };
            let m = minutes.unsigned_abs();
            let _ = write!(s, "{sign}{:02}:{:02}", m / 60, m % 60);
        }
        None => {}
    }
    s
}

/// How a string value is quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Quoting {
    /// The encoder's own basic-string escaping.
    #[default]
    Toml,
    /// Go `encoding/json` escaping (see [`JsonQuoted`]).
    Json,
}

/// A serialized value, kept abstract until the whole document is known (whether a
/// value is a table decides where it goes).
#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// Go's nil: never written.
    Nil,
    /// A string with its quoting.
    Str(String, Quoting),
    /// A number, boolean or datetime, already in its final text form.
    Lit(String),
    /// An array.
    Array(Vec<Node>),
    /// A struct (fields in order) or map (keys already sorted).
    Table(Vec<(String, Node)>),
}

impl Node {
    /// Whether the value is written as a sub-table or array of tables.
    fn is_table(&self) -> bool {
        match self {
            Node::Table(_) => true,
            Node::Array(items) => is_table_array(items),
            _ => false,
        }
    }
}

fn is_table_array(items: &[Node]) -> bool {
    !items.is_empty() && items.iter().all(|n| matches!(n, Node::Table(_)))
}

/// Text output with the encoder's blank-line bookkeeping.
#[derive(Default)]
struct Writer {
    out: String,
}

impl Writer {
    /// A newline, unless nothing has been written yet.
    fn newline(&mut self) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
    }

    fn encode(&mut self, key: &[String], node: &Node) -> Result<(), Error> {
        match node {
            Node::Nil => Ok(()),
            Node::Table(entries) => self.table(key, entries),
            Node::Array(items) if is_table_array(items) => self.array_of_tables(key, items),
            _ => self.key_value(key, node),
        }
    }

    fn table(&mut self, key: &[String], entries: &[(String, Node)]) -> Result<(), Error> {
        if key.len() == 1 {
            self.newline();
        }
        if !key.is_empty() {
            self.out.push_str(&indent(key));
            self.out.push('[');
            self.out.push_str(&key_path(key));
            self.out.push(']');
            self.newline();
        }
        self.table_body(key, entries)
    }

    fn array_of_tables(&mut self, key: &[String], items: &[Node]) -> Result<(), Error> {
        if key.is_empty() {
            return Err(Error::NoKey);
        }
        for item in items {
            if let Node::Table(entries) = item {
                self.newline();
                self.out.push_str(&indent(key));
                self.out.push_str("[[");
                self.out.push_str(&key_path(key));
                self.out.push_str("]]");
                self.newline();
                self.table_body(key, entries)?;
            }
        }
        Ok(())
    }

    /// Plain keys first, then tables, each group in the table's own order.
    fn table_body(&mut self, key: &[String], entries: &[(String, Node)]) -> Result<(), Error> {
        let (subs, direct): (Vec<_>, Vec<_>) = entries.iter().partition(|(_, n)| n.is_table());
        for (k, node) in direct.into_iter().chain(subs) {
            let mut child = key.to_vec();
            child.push(k.clone());
            self.encode(&child, node)?;
        }
        Ok(())
    }

    fn key_value(&mut self, key: &[String], node: &Node) -> Result<(), Error> {
        let Some(last) = key.last() else {
            return Err(Error::NoKey);
        };
        self.out.push_str(&indent(key));
        self.out.push_str(&quote_key(last));
        self.out.push_str(" = ");
        element(node, &mut self.out)?;
        self.newline();
        Ok(())
    }
}

/// Writes a value in value position (inline arrays and tables).
fn element(node: &Node, out: &mut String) -> Result<(), Error> {
    match node {
        Node::Nil => return Err(Error::NilArrayElement),
        Node::Str(s, Quoting::Toml) => quote_toml(s, out),
        Node::Str(s, Quoting::Json) => quote_json(s, out),
        Node::Lit(s) => out.push_str(s),
        Node::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                element(item, out)?;
            }
            out.push(']');
        }
        Node::Table(entries) => {
            out.push('{');
            let (subs, direct): (Vec<_>, Vec<_>) = entries.iter().partition(|(_, n)| n.is_table());
            let present = direct
                .into_iter()
                .chain(subs)
                .filter(|(_, n)| *n != Node::Nil);
            for (i, (k, v)) in present.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&quote_key(k));
                out.push_str(" = ");
                element(v, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn indent(key: &[String]) -> String {
    "  ".repeat(key.len().saturating_sub(1))
}

fn is_bare_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn quote_key(k: &str) -> String {
    if is_bare_key(k) {
        k.to_string()
    } else {
        let mut s = String::new();
        quote_toml(k, &mut s);
        s
    }
}

fn key_path(key: &[String]) -> String {
    key.iter()
        .map(|k| quote_key(k))
        .collect::<Vec<_>>()
        .join(".")
}

/// The encoder's basic-string quoting: `"` and `\` escaped, control characters as short
/// escapes where TOML has them and `\u00XX` otherwise; everything else verbatim.
fn quote_toml(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go `encoding/json` string quoting (HTML-safe).
fn quote_json(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `strconv.FormatFloat(f, 'g', -1, bits)` followed by the encoder's `.0` suffix,
/// given Rust's shortest scientific rendering (`{:e}`) of the same value.
fn go_float(value_is_nan: bool, value_is_inf: bool, negative: bool, sci: &str) -> String {
    let sign = if negative { "-" } else { "" };
    if value_is_nan {
        return format!("{sign}nan");
    }
    if value_is_inf {
        return format!("{sign}inf");
    }
    let body = sci.trim_start_matches('-');
    let (mantissa, exp) = body.split_once('e').unwrap_or((body, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let mut s = String::from(sign);
    let digit = |i: i32| -> char {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i))
            .map_or('0', |&d| d as char)
    };
    let nd = digits.len() as i32;
    if !(-4..6).contains(&exp) {
        // %e form: d[.ddd]e±XX
        s.push(digit(0));
        if nd > 1 {
            s.push('.');
            s.extend((1..nd).map(digit));
        }
        s.push('e');
        s.push(if exp < 0 { '-' } else { '+' });
        let _ = write!(s, "{:02}", exp.unsigned_abs());
        return s;
    }
    // %f form with exactly the significant digits.
    let dp = exp + 1;
    if dp > 0 {
        s.extend((0..dp).map(digit));
    } else {
        s.push('0');
    }
    if nd > dp {
        s.push('.');
        s.extend((dp..nd).map(digit));
    } else {
        s.push_str(".0");
    }
    s
}

fn float64(f: f64) -> String {
    go_float(
        f.is_nan(),
        f.is_infinite(),
        f.is_sign_negative(),
        &format!("{f:e}"),
    )
}

fn float32(f: f32) -> String {
    go_float(
        f.is_nan(),
        f.is_infinite(),
        f.is_sign_negative(),
        &format!("{f:e}"),
    )
}

/// Builds a [`Node`] from any `Serialize` value.
#[derive(Clone, Copy, Default)]
struct NodeSerializer {
    quoting: Quoting,
}

impl ser::Serializer for NodeSerializer {
    type Ok = Node;
    type Error = Error;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = VariantBuilder<SeqBuilder>;
    type SerializeMap = MapBuilder;
    type SerializeStruct = StructBuilder;
    type SerializeStructVariant = VariantBuilder<StructBuilder>;

    fn serialize_bool(self, v: bool) -> Result<Node, Error> {
        Ok(Node::Lit(v.to_string()))
    }
    fn serialize_i8(self, v: i8) -> Result<Node, Error> {
        Ok(Node::Lit(v.to_string()))
    }
    fn serialize_i16(self, v: i16) -> Result<Node, Error> {
        Ok(Node::Lit(v.to_string()))
    }
    fn serialize_i32(self, v: i32) -> Result<Node, Error> {
        Ok(Node::Lit(v.to_string()))
    }
    fn serialize_i64(self, v: i64) -> Result<Node, Error> {
        Ok(Node::Lit(v.to_string()))
    }
    fn serialize_i128(self, v: i128) -> Result<Node, Error> {
        Ok(Node::Lit(v.to_string()))
    }
    fn serialize_u8(self, v: u8) -> Result<Node, Error> {
        Ok(Node::Lit(v.to_string()))
    }
    fn serialize_u16(self, v: u16) -> Result<Node, Error> {
        Ok(Node::Lit(v.to_string()))
    }
    fn serialize_u32(self, v: u32) -> Result<Node, Error> {
        Ok(Node::Lit(v.to_string()))
    }
    fn serialize_u64(self, v: u64) -> Result<Node, Error> {
        Ok(Node::Lit(v.to_string()))
    }
    fn serialize_u128(self, v: u128) -> Result<Node, Error> {
        Ok(Node::Lit(v.to_string()))
    }
    fn serialize_f32(self, v: f32) -> Result<Node, Error> {
        Ok(Node::Lit(float32(v)))
    }
    fn serialize_f64(self, v: f64) -> Result<Node, Error> {
        Ok(Node::Lit(float64(v)))
    }
    fn serialize_char(self, v: char) -> Result<Node, Error> {
        Ok(Node::Str(v.to_string(), self.quoting))
    }
    fn serialize_str(self, v: &str) -> Result<Node, Error> {
        Ok(Node::Str(v.to_string(), self.quoting))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Node, Error> {
        Ok(Node::Array(
            v.iter().map(|b| Node::Lit(b.to_string())).collect(),
        ))
    }
    fn serialize_none(self) -> Result<Node, Error> {
        Ok(Node::Nil)
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<Node, Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Node, Error> {
        Ok(Node::Nil)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Node, Error> {
        Ok(Node::Table(Vec::new()))
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Node, Error> {
        Ok(Node::Str(variant.to_string(), self.quoting))
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Node, Error> {
        if name == JSON_QUOTED {
            value.serialize(NodeSerializer {
                quoting: Quoting::Json,
            })
        } else {
            value.serialize(self)
        }
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Node, Error> {
        Ok(Node::Table(vec![(
            variant.to_string(),
            value.serialize(self)?,
        )]))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, Error> {
        Ok(SeqBuilder {
            ser: self,
            items: Vec::with_capacity(len.unwrap_or(0)),
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<SeqBuilder, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantBuilder<SeqBuilder>, Error> {
        Ok(VariantBuilder {
            variant,
            inner: self.serialize_seq(Some(len))?,
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapBuilder, Error> {
        Ok(MapBuilder {
            ser: self,
            entries: Vec::new(),
            key: None,
        })
    }
    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<StructBuilder, Error> {
        Ok(StructBuilder {
            ser: self,
            datetime: name == DATETIME_STRUCT,
            entries: Vec::new(),
        })
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantBuilder<StructBuilder>, Error> {
        Ok(VariantBuilder {
            variant,
            inner: self.serialize_struct(name, len)?,
        })
    }
}

/// Collects array elements.
struct SeqBuilder {
    ser: NodeSerializer,
    items: Vec<Node>,
}

impl SeqBuilder {
    fn push<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        let node = value.serialize(self.ser)?;
        if node == Node::Nil {
            return Err(Error::NilArrayElement);
        }
        self.items.push(node);
        Ok(())
    }
}

impl ser::SerializeSeq for SeqBuilder {
    type Ok = Node;
    type Error = Error;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.push(value)
    }
    fn end(self) -> Result<Node, Error> {
        Ok(Node::Array(self.items))
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = Node;
    type Error = Error;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.push(value)
    }
    fn end(self) -> Result<Node, Error> {
        Ok(Node::Array(self.items))
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = Node;
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.push(value)
    }
    fn end(self) -> Result<Node, Error> {
        Ok(Node::Array(self.items))
    }
}

/// Collects map entries; keys are sorted at the end, as Go sorts map keys.
struct MapBuilder {
    ser: NodeSerializer,
    entries: Vec<(String, Node)>,
    key: Option<String>,
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Node;
    type Error = Error;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), Error> {
        match key.serialize(NodeSerializer::default())? {
            Node::Str(k, _) => {
                self.key = Some(k);
                Ok(())
            }
            _ => Err(Error::NonStringKey),
        }
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        let key = self
            .key
            .take()
            .ok_or_else(|| Error::Custom("map value without a key".to_string()))?;
        self.entries.push((key, value.serialize(self.ser)?));
        Ok(())
    }
    fn end(mut self) -> Result<Node, Error> {
        self.entries.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Node::Table(self.entries))
    }
}

/// Collects struct fields in declaration order (or a `toml` datetime's text).
struct StructBuilder {
    ser: NodeSerializer,
    datetime: bool,
    entries: Vec<(String, Node)>,
}

impl ser::SerializeStruct for StructBuilder {
    type Ok = Node;
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.entries
            .push((key.to_string(), value.serialize(self.ser)?));
        Ok(())
    }
    fn end(self) -> Result<Node, Error> {
        if !self.datetime {
            return Ok(Node::Table(self.entries));
        }
        match self.entries.as_slice() {
            [(field, Node::Str(text, _))] if field == DATETIME_FIELD => {
                let dt: toml::value::Datetime = text
                    .parse()
                    .map_err(|e| Error::Custom(format!("invalid datetime {text:?}: {e}")))?;
                Ok(Node::Lit(format_datetime(&dt)))
            }
            _ => Err(Error::Custom("malformed datetime".to_string())),
        }
    }
}

/// An enum variant with data: written as a one-key table, as the `toml` crate does.
struct VariantBuilder<B> {
    variant: &'static str,
    inner: B,
}

impl ser::SerializeTupleVariant for VariantBuilder<SeqBuilder> {
    type Ok = Node;
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.inner.push(value)
    }
    fn end(self) -> Result<Node, Error> {
        Ok(Node::Table(vec![(
            self.variant.to_string(),
            Node::Array(self.inner.items),
        )]))
    }
}

impl ser::SerializeStructVariant for VariantBuilder<StructBuilder> {
    type Ok = Node;
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(&mut self.inner, key, value)
    }
    fn end(self) -> Result<Node, Error> {
        let inner = ser::SerializeStruct::end(self.inner)?;
        Ok(Node::Table(vec![(self.variant.to_string(), inner)]))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::*;
    use crate::group::{Group, GroupElement};
    use crate::plan::Require;

    fn bp(id: &str, version: &str, api: &str) -> GroupElement {
        GroupElement {
            id: id.into(),
            version: version.into(),
            api: api.into(),
            ..Default::default()
        }
    }

    #[test]
    fn group_toml_with_two_buildpacks_and_an_extension() {
        let group = Group {
            group: vec![
                bp("paketo-buildpacks/node-engine", "1.2.3", "0.10"),
                GroupElement {
                    homepage: "https://example.com".into(),
                    ..bp("paketo-buildpacks/npm-install", "0.9.0", "0.9")
                },
            ],
            group_extensions: vec![bp("samples/curl", "0.0.1", "0.12")],
        };
        let want = "[[group]]\n  id = \"paketo-buildpacks/node-engine\"\n  version = \"1.2.3\"\n  api = \"0.10\"\n\n[[group]]\n  id = \"paketo-buildpacks/npm-install\"\n  version = \"0.9.0\"\n  api = \"0.9\"\n  homepage = \"https://example.com\"\n\n[[group-extensions]]\n  id = \"samples/curl\"\n  version = \"0.0.1\"\n  api = \"0.12\"\n";
        assert_eq!(to_string(&group).unwrap(), want);
    }

    #[derive(Serialize)]
    struct Entry {
        providers: Vec<GroupElement>,
        requires: Vec<Require>,
    }

    #[derive(Serialize)]
    struct Plan {
        entries: Vec<Entry>,
    }

    #[test]
    fn plan_toml_with_nested_metadata() {
        let metadata: toml::Table =
            toml::from_str("version = \"18.x\"\nlaunch = true\n[sub]\nz = 1\na = [\"x\", \"y\"]\n")
                .unwrap();
        let plan = Plan {
            entries: vec![Entry {
                providers: vec![
                    bp("A", "v1", ""),
                    GroupElement {
                        extension: true,
                        ..bp("E", "v2", "")
                    },
                ],
                requires: vec![
                    Require {
                        name: "node".into(),
                        metadata: Some(metadata),
                        ..Default::default()
                    },
                    Require {
                        name: "node".into(),
                        ..Default::default()
                    },
                ],
            }],
        };
        let want = "\
[[entries]]

  [[entries.providers]]
    id = \"A\"
    version = \"v1\"

  [[entries.providers]]
    id = \"E\"
    version = \"v2\"
    extension = true

  [[entries.requires]]
    name = \"node\"
    [entries.requires.metadata]
      launch = true
      version = \"18.x\"
      [entries.requires.metadata.sub]
        a = [\"x\", \"y\"]
        z = 1

  [[entries.requires]]
    name = \"node\"
";
        assert_eq!(to_string(&plan).unwrap(), want);
    }

    #[derive(Serialize)]
    struct Distro {
        name: String,
        version: String,
    }
    #[derive(Serialize)]
    struct Target {
        os: String,
        arch: String,
        distro: Distro,
    }
    #[derive(Serialize)]
    struct RunImage {
        reference: String,
        image: String,
        target: Target,
    }
    #[derive(Serialize)]
    struct Reference {
        reference: String,
    }
    #[derive(Serialize)]
    struct Sha {
        sha: String,
    }
    #[derive(Serialize)]
    struct Metadata {
        config: Sha,
        launcher: Sha,
    }
    #[derive(Serialize)]
    struct Analyzed {
        image: Reference,
        metadata: Metadata,
        #[serde(rename = "run-image")]
        run_image: RunImage,
    }

    #[test]
    fn analyzed_toml_with_nested_target_tables() {
        let analyzed = Analyzed {
            image: Reference {
                reference: String::new(),
            },
            metadata: Metadata {
                config: Sha { sha: String::new() },
                launcher: Sha { sha: String::new() },
            },
            run_image: RunImage {
                reference: "r@sha256:1".into(),
                image: "r".into(),
                target: Target {
                    os: "linux".into(),
                    arch: "amd64".into(),
                    distro: Distro {
                        name: "ubuntu".into(),
                        version: "22.04".into(),
                    },
                },
            },
        };
        let want = "\
[image]
  reference = \"\"

[metadata]
  [metadata.config]
    sha = \"\"
  [metadata.launcher]
    sha = \"\"

[run-image]
  reference = \"r@sha256:1\"
  image = \"r\"
  [run-image.target]
    os = \"linux\"
    arch = \"amd64\"
    [run-image.target.distro]
      name = \"ubuntu\"
      version = \"22.04\"
";
        assert_eq!(to_string(&analyzed).unwrap(), want);
    }

    #[derive(Serialize)]
    struct Mixed {
        #[serde(rename = "sub")]
        sub: BTreeMap<String, i32>,
        plain: bool,
        list: Vec<String>,
        empty: Vec<String>,
        none: Option<String>,
    }

    #[test]
    fn plain_keys_come_before_tables_and_nil_is_skipped() {
        let m = Mixed {
            sub: BTreeMap::from([("b".into(), 2), ("a".into(), 1)]),
            plain: true,
            list: vec!["a".into(), "b".into()],
            empty: vec![],
            none: None,
        };
        let want = "plain = true\nlist = [\"a\", \"b\"]\nempty = []\n\n[sub]\n  a = 1\n  b = 2\n";
        assert_eq!(to_string(&m).unwrap(), want);
    }

    #[test]
    fn maps_are_sorted_structs_are_not() {
        let t: toml::Table =
            toml::from_str("z = 1\ny = \"a\"\n[[arr]]\nk = 1\n[tab]\nq = 2\n").unwrap();
        let want = "y = \"a\"\nz = 1\n\n[[arr]]\n  k = 1\n\n[tab]\n  q = 2\n";
        assert_eq!(to_string(&t).unwrap(), want);
    }

    #[test]
    fn nested_array_of_tables_after_keys_gets_a_blank_line() {
        let t: toml::Table = toml::from_str("[map]\nzero = 5\n[[map.arr]]\nfriend = 5\n").unwrap();
        assert_eq!(
            to_string(&t).unwrap(),
            "[map]\n  zero = 5\n\n  [[map.arr]]\n    friend = 5\n"
        );
    }

    #[test]
    fn tables_inside_arrays_of_arrays_are_inline() {
        let t: toml::Table = toml::from_str(
            "arr = [[{a = [\"hello\", \"world\"], c = 1, d = {e = \"E\"}, b = [1.12, 4.1]}]]\nmix = [1, {x = 2}]\n",
        )
        .unwrap();
        assert_eq!(
            to_string(&t).unwrap(),
            "arr = [[{a = [\"hello\", \"world\"], b = [1.12, 4.1], c = 1, d = {e = \"E\"}}]]\nmix = [1, {x = 2}]\n"
        );
    }

    #[test]
    fn string_and_key_quoting() {
        let mut t = toml::Table::new();
        t.insert(
            "a key".into(),
            "q\"b\\s\u{8}\t\n\u{c}\r\u{1}\u{7f}é<&>".into(),
        );
        t.insert(String::new(), 1.into());
        t.insert("ok_key-1".into(), "x".into());
        let want = "\"\" = 1\n\"a key\" = \"q\\\"b\\\\s\\b\\t\\n\\f\\r\\u0001\\u007fé<&>\"\nok_key-1 = \"x\"\n";
        assert_eq!(to_string(&t).unwrap(), want);
    }

    #[test]
    fn quoted_table_headers() {
        let t: toml::Table = toml::from_str("[\"a.b\".c]\nx = 1\n").unwrap();
        assert_eq!(
            to_string(&t).unwrap(),
            "[\"a.b\"]\n  [\"a.b\".c]\n    x = 1\n"
        );
    }

    #[test]
    fn json_quoted_strings() {
        #[derive(Serialize)]
        struct P {
            command: JsonQuoted<Vec<String>>,
            single: JsonQuoted<String>,
        }
        let p = P {
            command: JsonQuoted(vec![
                "bash".into(),
                "-c".into(),
                "a && b > c\u{2028}\"\u{1}".into(),
            ]),
            single: JsonQuoted("x<y".into()),
        };
        assert_eq!(
            to_string(&p).unwrap(),
            "command = [\"bash\", \"-c\", \"a \\u0026\\u0026 b \\u003e c\\u2028\\\"\\u0001\"]\nsingle = \"x\\u003cy\"\n"
        );
        let transparent = toml::Value::try_from(&p).unwrap();
        assert_eq!(transparent["single"].as_str(), Some("x<y"));
    }

    #[test]
    fn floats_like_go() {
        let cases: &[(f64, &str)] = &[
            (5.0, "5.0"),
            (1.5, "1.5"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (100000.0, "100000.0"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (5e22, "5e+22"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (1e100, "1e+100"),
            (3.145, "3.145"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (f, want) in cases {
            assert_eq!(float64(*f), *want, "{f}");
        }
        assert_eq!(float32(1.1), "1.1");
    }

    #[test]
    fn datetimes_like_go() {
        let t: toml::Table = toml::from_str(
            "a = 1979-05-27T07:32:00Z\nb = 1979-05-27 00:32:00.500-07:00\nc = 1979-05-27T07:32:00\nd = 1979-05-27\ne = 07:32:00.999000\nf = 2000-01-01T00:00:00+00:00\n",
        )
        .unwrap();
        assert_eq!(
            to_string(&t).unwrap(),
            "a = 1979-05-27T07:32:00Z\nb = 1979-05-27T00:32:00.5-07:00\nc = 1979-05-27T07:32:00\nd = 1979-05-27\ne = 07:32:00.999\nf = 2000-01-01T00:00:00Z\n"
        );
    }

    #[test]
    fn errors() {
        #[derive(Serialize)]
        struct WithNil {
            list: Vec<Option<i32>>,
        }
        assert_eq!(
            to_string(&WithNil {
                list: vec![Some(1), None]
            }),
            Err(Error::NilArrayElement)
        );
        assert_eq!(to_string(&vec![1, 2]), Err(Error::NoKey));
        assert_eq!(to_string("x"), Err(Error::NoKey));
        let m: BTreeMap<i32, i32> = BTreeMap::from([(1, 2)]);
        assert_eq!(to_string(&m), Err(Error::NonStringKey));
    }

    #[test]
    fn empty_documents_and_tables() {
        #[derive(Serialize)]
        struct Empty {}
        #[derive(Serialize)]
        struct Outer {
            inner: Empty,
        }
        assert_eq!(to_string(&Empty {}).unwrap(), "");
        assert_eq!(to_string(&Outer { inner: Empty {} }).unwrap(), "[inner]\n");
    }

    fn toml_value() -> impl proptest::strategy::Strategy<Value = toml::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            any::<String>().prop_map(toml::Value::String),
            any::<i64>().prop_map(toml::Value::Integer),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(toml::Value::Float),
            any::<bool>().prop_map(toml::Value::Boolean),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
                proptest::collection::vec((".{0,6}", inner), 0..4)
                    .prop_map(|kv| toml::Value::Table(kv.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn any_document_reads_back_unchanged(
            doc in proptest::collection::vec((".{0,6}", toml_value()), 0..5)
        ) {
            let table: toml::Table = doc.into_iter().collect();
            let text = to_string(&table).unwrap();
            let back: toml::Table = toml::from_str(&text).unwrap();
            proptest::prop_assert_eq!(back, table, "{}", text);
        }
    }

    #[test]
    fn output_parses_back_to_the_same_value() {
        let src =
            "top = \"x\"\n[a]\nb = [1, 2]\n[[a.c]]\nd = {e = 1.5, f = \"g\"}\n[[a.c]]\nh = true\n";
        let t: toml::Table = toml::from_str(src).unwrap();
        let back: toml::Table = toml::from_str(&to_string(&t).unwrap()).unwrap();
        assert_eq!(t, back);
    }
}
